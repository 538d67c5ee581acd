// The insights page: plots drawn as inline SVG from the insights API (no CDN, no library); every text goes
// in through textContent, never innerHTML. The session is the review page's HttpOnly cookie.
import { incidentItem } from "./incidents.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 720, H = 200, PAD = 30;

function el(name, attrs = {}, ns = SVG) {
  const node = ns ? document.createElementNS(ns, name) : document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function scale(values, lo, hi) {
  const max = Math.max(1, ...values);
  const y = (v) => hi - (v / max) * (hi - lo);
  y.max = max;
  return y;
}

function label(svg, x, y, text, anchor = "start") {
  const node = el("text", { x, y, "font-size": 10, fill: "#555", "text-anchor": anchor, class: "axis" });
  node.textContent = text;
  svg.append(node);
}

const day = (iso) => iso.slice(5, 10); // MM-DD: the plots span weeks, the year adds nothing
const clock = (ms) => new Date(ms).toISOString().slice(5, 16).replace("T", " ");

function volumePlot(item) {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `volume of queue ${item.queue}` });
  const actual = item.actual_daily.map((d) => d.count);
  const points = item.daily.points;
  const n = actual.length + points.length;
  const x = (i) => PAD + (i * (W - 2 * PAD)) / Math.max(1, n - 1);
  const y = scale([...actual, ...points.map((p) => p.hi95)], PAD, H - PAD);
  const band = points.map((p, i) => `${x(actual.length + i)},${y(p.hi95)}`)
    .concat(points.slice().reverse().map((p, i) => `${x(n - 1 - i)},${y(p.lo95)}`));
  svg.append(el("polygon", { points: band.join(" "), class: "band", fill: "#cfe3ff" }));
  svg.append(el("polyline", { points: points.map((p, i) => `${x(actual.length + i)},${y(p.mean)}`).join(" "),
    fill: "none", stroke: "#2a6fdb", "stroke-dasharray": "4 3" }));
  svg.append(el("polyline", { points: actual.map((v, i) => `${x(i)},${y(v)}`).join(" "), fill: "none", stroke: "#222" }));
  actual.forEach((v, i) => svg.append(el("circle", { cx: x(i), cy: y(v), r: 2.5, class: "point", "data-count": v })));
  // Axes a lead can read: the count scale, where actuals end and the forecast starts, and the dates.
  svg.append(el("line", { x1: PAD, x2: W - PAD, y1: H - PAD, y2: H - PAD, stroke: "#bbb" }));
  label(svg, PAD - 4, y(0) + 3, "0", "end");
  label(svg, PAD - 4, y(y.max) + 3, String(Math.round(y.max)), "end");
  if (actual.length && points.length) {
    const split = (x(actual.length - 1) + x(actual.length)) / 2;
    svg.append(el("line", { x1: split, x2: split, y1: PAD / 2, y2: H - PAD, stroke: "#999", "stroke-dasharray": "2 3" }));
    label(svg, split + 3, PAD / 2 + 8, "forecast");
  }
  if (item.actual_daily.length) label(svg, x(0), H - PAD + 14, day(item.actual_daily[0].at), "start");
  if (points.length) label(svg, x(n - 1), H - PAD + 14, day(points[points.length - 1].at), "end");
  label(svg, PAD, 12, `${item.queue === "*" ? "all queues" : `queue ${item.queue}`} · tickets per day (today so far last)`);
  return svg;
}

function incidentsPlot(items) {
  // As tall as its rows: one row per incident, not a fixed box with empty space under one incident.
  const height = Math.max(70, 2 * PAD + 24 * Math.max(0, items.length - 1) + 20);
  const svg = el("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": "incident timeline" });
  const times = items.flatMap((i) => i.members_timeline.map((m) => Date.parse(m.at)));
  if (!times.length) return svg;
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 1);
  const x = (t) => PAD + ((t - t0) * (W - 2 * PAD)) / (t1 - t0);
  items.forEach((inc, row) => {
    const yRow = PAD + row * 24;
    const name = el("text", { x: 4, y: yRow - 6, "font-size": 11, class: "incident-label" });
    name.textContent = `${inc.label} (${inc.members})`;
    svg.append(name);
    inc.members_timeline.forEach((m, k) => svg.append(el("circle", { cx: x(Date.parse(m.at)), cy: yRow, r: 3 + Math.min(k, 6) / 2,
      class: "point", fill: inc.state === "dismissed" ? "#999" : "#d9534f" })));
  });
  label(svg, PAD, height - 4, `${clock(t0)} UTC`, "start");
  label(svg, W - PAD, height - 4, `${clock(t1)} UTC`, "end");
  return svg;
}

async function get(path) {
  const res = await fetch(path, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

async function load() {
  const tenant = document.getElementById("tenant").value.trim();
  const q = tenant ? `?tenant=${encodeURIComponent(tenant)}` : "";
  const status = document.getElementById("insights-status");
  try {
    const [forecast, incidents, accounts] = await Promise.all([
      get(`/api/insights/forecast${q}`), get(`/api/insights/incidents${q}`), get(`/api/insights/accounts${q}`)]);
    const total = forecast.items.find((f) => f.queue === forecast.all_queues);
    document.getElementById("volume-plot").replaceChildren(...(total ? [volumePlot(total)] : []));
    document.getElementById("incidents-plot").replaceChildren(incidentsPlot(incidents.items));
    const say = (text) => { status.textContent = text; };
    document.getElementById("incidents-list").replaceChildren(
      ...(await Promise.all(incidents.items.map((i) => incidentItem(i, q, load, say)))));
    document.querySelector("#accounts tbody").replaceChildren(...accounts.items.map((a) => {
      const tr = el("tr", {}, null);
      for (const text of [a.customer_id, a.score, a.mrr, a.reasons.map((r) => r.text).join("; "), a.ticket_ids.join(" ")]) {
        const td = el("td", {}, null);
        td.textContent = String(text);
        tr.append(td);
      }
      return tr;
    }));
    status.textContent = `tenant ${forecast.tenant}: ${incidents.items.length} incident(s), ${accounts.items.length} account(s)`;
  } catch (err) {
    status.textContent = String(err.message || err);
  }
}

document.getElementById("accounts-notify").addEventListener("click", async () => {
  const tenant = document.getElementById("tenant").value.trim();
  const status = document.getElementById("insights-status");
  const res = await fetch(`/api/insights/accounts/notify${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ""}`,
    { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } });
  const data = await res.json().catch(() => ({}));
  status.textContent = res.ok ? `${data.accounts} account(s) queued for ${data.notices_queued} CRM webhook(s).`
    : String(data.detail || `HTTP ${res.status}`);
});
document.getElementById("insights-filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
load();
