// The escalations view: what the triage escalated (P0, security, legal …), the soonest first response first, as
// cards with the context packet, and acknowledge / assign / resolve. Every change sends who made it (the Reviewer
// field) and the version the card shows, so a change someone else made first comes back as a conflict.

import { api, reportError, setStatus } from "./api.js";
import { $, el, humanise } from "./dom.js";
import { state } from "./state.js";
import { paintDue } from "./time.js";

const STATE_TEXT = { open: "Open", acknowledged: "Acknowledged", resolved: "Resolved", superseded: "Superseded" };

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const safeHref = (url) => (typeof url === "string" && /^https?:\/\//i.test(url) ? url : null);

function filterParams() {
  const params = new URLSearchParams({ state: $("#esc-state").value || "active", limit: "200" });
  const reason = $("#esc-reason").value;
  if (reason) params.set("reason", reason);
  return params;
}

export async function loadEscalations({ quiet = false } = {}) {
  const seq = ++state.escSeq;
  let data;
  try {
    data = await api(`/api/escalations?${filterParams()}`);
  } catch (err) {
    if (seq === state.escSeq && (!quiet || err.status === 401)) reportError(err, "loading the escalations");
    return;
  }
  if (seq !== state.escSeq) return;
  state.escalations = Array.isArray(data && data.items) ? data.items : [];
  renderEscalations();
}

// The tab shows how many escalations nobody has acknowledged yet, whichever view is open.
export async function loadEscalationCount() {
  try {
    const data = await api("/api/escalations?state=open&limit=1000");
    $("#tab-escalations-count").textContent = String((data && data.items && data.items.length) || 0);
  } catch {
    /* the count is a hint; the view reports errors when opened */
  }
}

export async function loadTeams() {
  try {
    const data = await api("/api/escalations/teams");
    const teams = Array.isArray(data && data.teams) ? data.teams : [];
    $("#known-teams").replaceChildren(...teams.map((t) => el("option", { value: t })));
  } catch {
    /* free text still works */
  }
}

export function renderEscalations() {
  const cards = state.escalations.map(card);
  $("#escalations").replaceChildren(...cards);
  $("#esc-empty").hidden = cards.length > 0;
}

function stateLine(e) {
  const parts = [STATE_TEXT[e.state] || humanise(e.state)];
  if (e.acknowledged_by) parts.push(`acknowledged by ${e.acknowledged_by} ${when(e.acknowledged_at)}`);
  if (e.assignee) parts.push(`assigned to ${e.assignee} by ${e.assigned_by} ${when(e.assigned_at)}`);
  if (e.resolved_by) parts.push(`resolved by ${e.resolved_by} ${when(e.resolved_at)}`);
  return parts.join(" · ");
}

function packet(e) {
  const p = e.packet || {};
  const lists = [
    ["Customer tried", p.customer_tried],
    ["Similar cases", p.similar_cases],
    ["KB leads", p.kb_leads],
  ].filter(([, v]) => Array.isArray(v) && v.length);
  return el(
    "details",
    { className: "esc-packet" },
    el("summary", {}, "Context packet"),
    el("pre", { dir: "auto" }, p.context_for_agent || "—"),
    lists.length
      ? el(
          "dl",
          { className: "kv" },
          ...lists.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { dir: "auto" }, v.join("; "))]),
        )
      : null,
  );
}

function actions(e) {
  if (e.state !== "open" && e.state !== "acknowledged") return null;
  const input = el("input", {
    type: "text",
    list: "known-teams",
    placeholder: "person or team",
    autocomplete: "off",
    value: e.assignee || e.suggested_team || "",
    "aria-label": `Assign ${e.subject || e.id} to`,
  });
  const assign = el("button", { type: "button", className: "esc-assign" }, "Assign");
  assign.addEventListener("click", () => {
    const assignee = input.value.trim();
    if (!assignee) {
      setStatus("Name a person or team to assign to.", "error");
      input.focus();
      return;
    }
    act(e, "assign", { assignee });
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      assign.click();
    }
  });
  const resolve = el("button", { type: "button", className: "esc-resolve" }, "Resolve");
  resolve.addEventListener("click", () => act(e, "resolve", {}));
  let ack = null;
  if (e.state === "open") {
    ack = el("button", { type: "button", className: "primary esc-ack" }, "Acknowledge");
    ack.addEventListener("click", () => act(e, "acknowledge", {}));
  }
  const group = el("span", { className: "assign-group" }, input, assign);
  return el("div", { className: "esc-actions" }, ack, group, resolve);
}

function card(e) {
  const due = el("span", { className: "due", dataset: { due: e.first_response_due || "" } });
  const info = paintDue(due, e.first_response_due);
  const risk = info.cls === "overdue" ? "is-overdue" : info.cls === "at-risk" || e.at_risk ? "is-at-risk" : "";
  const helpdesk = safeHref(e.helpdesk_url);
  const teams = [e.suggested_team, e.secondary_team].filter(Boolean).join(" / ");
  return el(
    "li",
    {
      id: `esc-${e.id}`,
      className: `esc-card esc-${e.state} ${risk}`.trim(),
      dataset: { escalationId: e.id, atRisk: e.at_risk ? "true" : "false" },
      tabindex: "-1",
    },
    el(
      "div",
      { className: "esc-head" },
      el("span", { className: "badge action-escalate" }, humanise(e.reason || "escalation")),
      el("span", { className: `badge prio prio-${e.priority || "none"}` }, e.priority || "—"),
      el("span", { className: "esc-subject", dir: "auto" }, e.subject || "(no subject)"),
      due,
      e.at_risk ? el("span", { className: "badge warn" }, "SLA at risk") : null,
    ),
    el("p", { className: "esc-summary", dir: "auto" }, e.summary || ""),
    el(
      "dl",
      { className: "kv" },
      el("dt", {}, "Suggested team"),
      el("dd", {}, teams || "—"),
      el("dt", {}, "State"),
      el("dd", { className: "esc-state" }, stateLine(e)),
      el("dt", {}, "Ticket"),
      el(
        "dd",
        {},
        `#${e.ticket_id} · ${e.tenant}`,
        helpdesk ? " · " : null,
        helpdesk ? el("a", { href: helpdesk, target: "_blank", rel: "noopener" }, "open in the helpdesk") : null,
      ),
      e.resolution_due ? el("dt", {}, "Resolve by") : null,
      e.resolution_due ? el("dd", {}, when(e.resolution_due)) : null,
    ),
    packet(e),
    actions(e),
  );
}

async function act(e, verb, extra) {
  const by = $("#reviewer").value.trim();
  if (!by) {
    setStatus("Enter your name in the Reviewer field first: every change records who made it.", "error");
    $("#reviewer").focus();
    return;
  }
  let data;
  try {
    data = await api(`/api/escalations/${encodeURIComponent(e.id)}/${verb}`, {
      method: "POST",
      body: { by, version: e.version, ...extra },
    });
  } catch (err) {
    if (err.status === 409) {
      setStatus(err.message, "error");
      loadEscalations({ quiet: true });
    } else reportError(err, `the ${verb}`);
    return;
  }
  const updated = data.escalation;
  state.escalations = state.escalations.map((x) => (x.id === updated.id ? updated : x));
  renderEscalations();
  setStatus(`${humanise(updated.reason)} escalation: ${stateLine(updated)}`, "ok");
  loadEscalationCount();
  if (verb === "assign") loadTeams();
  const node = document.getElementById(`esc-${updated.id}`);
  if (node) node.focus();
}

// Open the card named in the page's fragment (#e-…), if it is listed.
export function focusEscalation(id) {
  const node = document.getElementById(`esc-${id}`);
  if (node) {
    node.scrollIntoView({ block: "nearest" });
    node.focus();
  }
}
