// The incidents list of the insights page: accept or dismiss a proposal; for an accepted one, how each member is
// linked in its helpdesk (or why not), and the one broadcast reply: edit, save, send. Text in via textContent only.
import { el } from "./dom.js";

async function call(path, method, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const detail = data && data.detail;
    const text = Array.isArray(detail) ? detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ") : detail;
    throw new Error(text || `HTTP ${res.status}`);
  }
  return data;
}

function membersTable(detail) {
  const rows = detail.helpdesk_members.map((m) => el("tr", {}, el("td", {}, m.ticket_id), el("td", {}, m.source || "—"),
    el("td", { className: "link-state" }, m.link), el("td", { className: "broadcast-state" }, m.broadcast)));
  return el("table", { className: "incident-members" },
    el("thead", {}, el("tr", {}, el("th", {}, "Ticket"), el("th", {}, "Helpdesk"), el("th", {}, "Linked"),
      el("th", {}, "Broadcast"))), el("tbody", {}, ...rows));
}

function broadcastBox(detail, q, done, say) {
  const b = detail.broadcast;
  if (!b) return el("p", {}, "No broadcast draft.");
  const text = el("textarea", { className: "broadcast-body", rows: 8, cols: 80, "aria-label": "Broadcast reply" });
  text.value = b.body;
  const base = `/api/insights/incidents/${encodeURIComponent(detail.id)}`;
  const note = el("p", { className: "muted" }, b.grounded ? b.note : `Holding reply: ${b.note}`);
  if (b.state === "sent") {
    text.readOnly = true;
    return el("div", {}, note, text, el("p", {}, `Sent by ${b.sent_by || "—"} at ${b.sent_at}; later members get it too.`));
  }
  const save = el("button", { type: "button", className: "broadcast-save" }, "Save draft");
  const send = el("button", { type: "button", className: "broadcast-send" }, "Send to every member");
  save.addEventListener("click", () => call(`${base}/broadcast${q}`, "PUT", { body: text.value })
    .then(() => say("Draft saved."), (e) => say(e.message)));
  send.addEventListener("click", async () => {
    try {
      await call(`${base}/broadcast${q}`, "PUT", { body: text.value });
      const r = await call(`${base}/broadcast/send${q}`, "POST", {});
      await done();
      say(`Broadcast queued for ${r.replies_queued} member(s)` + (r.skipped.length ? `, ${r.skipped.length} skipped.` : "."));
    } catch (e) { say(e.message); }
  });
  return el("div", {}, note, text, el("p", {}, save, " ", send));
}

export async function incidentItem(i, q, done, say) {
  const li = el("li", { dataset: { incident: i.id } },
    el("span", {}, `${i.severity} ${i.state}: ${i.label} · ${i.members} tickets · ${i.customers} customers`));
  const base = `/api/insights/incidents/${encodeURIComponent(i.id)}`;
  if (i.state === "open") {
    for (const [verb, label] of [["accept", "Accept"], ["dismiss", "Dismiss"]]) {
      const button = el("button", { type: "button", className: `incident-${verb}` }, label);
      button.addEventListener("click", () => call(`${base}/${verb}${q}`, "POST", {}).then(async (r) => {
        const skipped = (r.links_skipped || []).length;
        await done();
        say(verb === "accept" ? `Accepted: ${r.links_queued} helpdesk link(s) queued` +
          (skipped ? `, ${skipped} member(s) not linkable (see the table).` : ".") : "Dismissed.");
      }, (e) => say(e.message)));
      li.append(" ", button);
    }
  } else if (i.state === "accepted") {
    const detail = await call(`${base}${q}`, "GET");
    li.append(membersTable(detail), broadcastBox(detail, q, done, say));
  }
  return li;
}
