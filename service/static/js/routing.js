// Who should work the ticket: the routing suggestion (assignee and two alternatives, each with its score parts and
// reason) and the picker fed by the tenant's roster. A different pick is sent as a corrected label on approve or
// reject (see changedLabels in detail.js): a human label that teaches routing, never the classifier.

import { $, el, pct, score } from "./dom.js";
import { openId, state } from "./state.js";

function partsText(parts) {
  if (!parts) return "";
  const capacity = parts.capacity === null || parts.capacity === undefined ? "∞" : parts.capacity;
  const bits = [
    `skill ${pct(parts.skill_match)}`,
    `speed ${pct(parts.recent_speed)}`,
    `load ${parts.open_tickets}/${capacity}`,
    parts.on_shift ? "on shift" : "off shift",
  ];
  if (parts.language_match === true) bits.push("speaks the language");
  if (parts.language_match === false) bits.push("language mismatch");
  return bits.join(" · ");
}

function candidateItem(candidate, role) {
  return el(
    "li",
    { dataset: { agentId: candidate.agent_id, role } },
    el(
      "div",
      { className: "ev-head" },
      el("span", { className: "score", title: "routing score" }, score(candidate.score)),
      el("span", { className: "ev-title", dir: "auto" }, candidate.name || candidate.agent_id),
      el("span", { className: "muted" }, `${candidate.agent_id} · ${role}`),
      candidate.qualified === false ? el("span", { className: "badge warn" }, "nobody else qualified") : null,
    ),
    el("p", { className: "parts muted" }, partsText(candidate.parts)),
    el("p", { className: "excerpt why", dir: "auto" }, candidate.reason || ""),
  );
}

function agentLabel(agent) {
  const capacity = agent.capacity === null || agent.capacity === undefined ? "∞" : agent.capacity;
  const shift = agent.on_shift ? "" : " · off shift";
  return `${agent.name} (${agent.id}) — ${agent.open_tickets}/${capacity} open${shift}`;
}

function renderPicker(routing, assignees, reviewId) {
  const select = $("#assignee");
  const field = assignees && assignees.label;
  const agents = (assignees && Array.isArray(assignees.agents) ? assignees.agents : []).filter((a) => a.active);
  const original = routing.assignee ? routing.assignee.agent_id : "";
  const options = agents.map((a) => el("option", { value: a.id }, agentLabel(a)));
  if (original && !agents.some((a) => a.id === original)) {
    options.unshift(el("option", { value: original }, routing.assignee.name || original));
  }
  if (!original) options.unshift(el("option", { value: "" }, "— no suggestion —"));
  select.replaceChildren(...options);
  const edits = state.labelEdits.get(reviewId) || {};
  select.value = field && field in edits ? edits[field] : original;
  select.dataset.field = field || "";
  select.dataset.original = original;
  markChanged();
}

function markChanged() {
  const select = $("#assignee");
  const changed = select.value !== select.dataset.original;
  $("#assignee-pick").classList.toggle("changed", changed);
  $("#assignee-state").textContent = changed ? "Changed: your pick is stored when you approve or reject." : "";
}

export function onAssigneePick() {
  const select = $("#assignee");
  const id = openId();
  if (!id || !select.dataset.field) return;
  const edits = state.labelEdits.get(id) || {};
  edits[select.dataset.field] = select.value;
  state.labelEdits.set(id, edits);
  markChanged();
}

export function renderRouting(review, routing, assignees) {
  const panel = $("#routing-panel");
  const select = $("#assignee");
  if (!routing) {
    panel.hidden = true;
    select.replaceChildren();
    delete select.dataset.field; // nothing to send: changedLabels skips the picker
    delete select.dataset.original;
    return;
  }
  panel.hidden = false;
  const summary = [routing.team ? `team ${routing.team}` : null, `${routing.candidates || 0} candidates`];
  if (routing.rule && routing.rule !== "skill") summary.push(`rule: ${routing.rule.replace(/_/g, " ")}`);
  $("#routing-summary").textContent = summary.filter(Boolean).join(" · ");
  const note = $("#routing-note");
  note.textContent = routing.note || "";
  note.hidden = !routing.note;
  const items = [];
  if (routing.assignee) items.push(candidateItem(routing.assignee, "suggested"));
  for (const alt of routing.alternatives || []) items.push(candidateItem(alt, "alternative"));
  $("#routing-candidates").replaceChildren(...items);
  renderPicker(routing, assignees, review.id);
}

/** The assignee the reviewer picked, when it differs from the suggestion: {label: agent id}, else {}. */
export function changedAssignee() {
  const select = $("#assignee");
  const field = select.dataset.field;
  if (!field || $("#routing-panel").hidden || !select.value || select.value === select.dataset.original) return {};
  return { [field]: select.value };
}
