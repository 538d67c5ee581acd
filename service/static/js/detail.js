// The selected item: ticket, classification (with label edits), evidence, decision and draft reply rendering.

import { api, reportError } from "./api.js";
import { setBusy } from "./decisions.js";
import { $, el, humanise, pct, score } from "./dom.js";
import { changedAssignee, renderRouting } from "./routing.js";
import { openId, state } from "./state.js";
import { paintDue } from "./time.js";

const SCALES = {
  priority: ["P0", "P1", "P2", "P3"],
  sentiment: ["very_negative", "negative", "neutral", "positive", "very_positive"],
  churn_risk: ["low", "medium", "high"],
};
const FIELD_ORDER = ["queue", "category", "priority", "type", "sentiment", "churn_risk", "language"];

export async function loadDetail(id) {
  const seq = ++state.detailSeq;
  const detail = $("#detail");
  detail.setAttribute("aria-busy", "true");
  let data;
  try {
    data = await api(`/api/reviews/${encodeURIComponent(id)}`);
  } catch (err) {
    if (seq === state.detailSeq) {
      detail.removeAttribute("aria-busy");
      reportError(err, "opening the item");
    }
    return;
  }
  if (seq !== state.detailSeq) return;
  detail.removeAttribute("aria-busy");
  state.detail = data;
  renderDetail(data);
}

function renderDetail({ review, ticket, result, context, assignees }) {
  ticket = ticket || {};
  result = result || {};
  context = context || {};
  $("#detail").hidden = false;
  $("#detail-empty").hidden = true;
  $("#ticket-subject").textContent = ticket.subject || review.subject || "(no subject)";
  renderMeta(review, ticket, result);
  renderLinks(context);
  renderReviewState(review);
  renderCustomer(ticket);
  renderRecent(context);
  $("#ticket-body").textContent = ticket.body || "";
  renderClassification(review, result);
  renderEvidence(result.evidence || {});
  renderDecision(result);
  renderRouting(review, result.routing, assignees);
  renderDraft(review, result);
  const reason = $("#reject-reason");
  reason.value = "";
  reason.removeAttribute("aria-invalid");
  setBusy(false);
}

// Only http(s) links reach an href: a link built from stored data can never run script.
const safeHref = (url) => (typeof url === "string" && /^(https?:\/\/|\/review#)/i.test(url) ? url : null);

function renderLinks(context) {
  const link = $("#helpdesk-link");
  const href = safeHref(context.helpdesk_url);
  link.hidden = !href;
  if (href) link.href = href;
  else link.removeAttribute("href");
}

// A review opened from a link may be decided already: show who decided it, and offer nothing to decide.
function renderReviewState(review) {
  const note = $("#review-state");
  state.readOnly = review.state !== "pending";
  if (!state.readOnly) {
    note.hidden = true;
    note.textContent = "";
    return;
  }
  const when = review.decided_at ? ` on ${new Date(review.decided_at).toLocaleString()}` : "";
  const who = review.reviewer ? ` by ${review.reviewer}` : "";
  const text = {
    scheduled: `Approved${who}; the reply is waiting out its undo window.`,
    superseded: "Superseded by a newer triage of this ticket.",
  }[review.state];
  note.textContent = text || `This draft was ${humanise(review.state)}${who}${when}.`;
  note.hidden = false;
}

function renderRecent(context) {
  const count = context.recent_count;
  const days = context.recent_days || 30;
  const items = Array.isArray(context.recent) ? context.recent : [];
  let summary;
  if (!context.customer_id) summary = "Unknown customer: no history to show.";
  else if (!count) summary = `No other tickets from this customer in the last ${days} days.`;
  else summary = `${count} other ticket${count === 1 ? "" : "s"} from this customer in the last ${days} days.`;
  $("#recent-summary").textContent = summary;
  const rows = items.map((t) => {
    const review = safeHref(t.review_url);
    const helpdesk = safeHref(t.helpdesk_url);
    return el(
      "li",
      { dataset: { ticketId: t.ticket_id } },
      el("span", { className: "ev-title", dir: "auto" }, t.subject || "(no subject)"),
      " ",
      el("span", { className: "muted" }, `#${t.ticket_id}`),
      t.at ? el("span", { className: "muted" }, ` · ${new Date(t.at).toLocaleDateString()}`) : null,
      review ? " · " : null,
      review ? el("a", { href: review, className: "recent-review" }, `review (${humanise(t.review_state)})`) : null,
      helpdesk ? " · " : null,
      helpdesk ? el("a", { href: helpdesk, target: "_blank", rel: "noopener noreferrer" }, "in the helpdesk") : null,
    );
  });
  $("#recent").replaceChildren(...rows);
}

function renderMeta(review, ticket, result) {
  const sla = result.sla || {};
  const parts = [
    el("span", { className: `badge prio prio-${review.priority || "none"}` }, review.priority || "—"),
    el("span", {}, `#${ticket.id || review.ticket_id}`),
    el("span", { className: "muted" }, review.tenant),
  ];
  const due = el("span", { className: "due", dataset: { due: review.first_response_due || "" } });
  paintDue(due, review.first_response_due || sla.first_response_due);
  parts.push(due);
  if (sla.resolution_due) {
    parts.push(el("span", { className: "muted" }, `resolve by ${new Date(sla.resolution_due).toLocaleString()}`));
  }
  if (sla.at_risk) parts.push(el("span", { className: "badge warn" }, "SLA at risk"));
  $("#ticket-meta").replaceChildren(...parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
}

function renderCustomer(ticket) {
  const dl = $("#customer");
  const rows = [];
  const customer = ticket.customer && typeof ticket.customer === "object" ? ticket.customer : null;
  if (customer) {
    for (const [key, value] of Object.entries(customer)) {
      if (value === null || value === undefined || value === "") continue;
      const text = typeof value === "object" ? JSON.stringify(value) : String(value);
      rows.push(el("dt", {}, humanise(key)), el("dd", { dir: "auto" }, text));
    }
  }
  dl.replaceChildren(...rows);
  dl.hidden = rows.length === 0;
  const tags = Array.isArray(ticket.tags) ? ticket.tags : [];
  $("#tags").replaceChildren(...tags.map((t) => el("li", { className: "tag", dir: "auto" }, t)));
  $("#tags").hidden = tags.length === 0;
}

function candidateValues(field, pred, result) {
  const values = new Set();
  if (pred && pred.value) values.add(pred.value);
  for (const alt of (pred && pred.alternatives) || []) if (Array.isArray(alt) && alt[0]) values.add(alt[0]);
  for (const t of (result.evidence && result.evidence.similar_tickets) || []) {
    if (t.labels && t.labels[field]) values.add(t.labels[field]);
  }
  if (field === "queue") for (const q of state.knownQueues) values.add(q);
  return [...values].sort();
}

function renderClassification(review, result) {
  const cls = result.classification || {};
  const fields = FIELD_ORDER.filter((f) => f in cls).map((f) => [f, cls[f]]);
  for (const [name, pred] of Object.entries(cls.custom || {})) fields.push([name, pred]);
  const edits = state.labelEdits.get(review.id) || {};
  const lists = [];
  const rows = fields.map(([field, pred]) => {
    const original = pred && pred.value ? pred.value : "";
    const current = field in edits ? edits[field] : original;
    const inputId = `label-${field}`;
    let input;
    if (SCALES[field]) {
      const options = SCALES[field].map((v) => el("option", { value: v }, humanise(v)));
      if (!original) options.unshift(el("option", { value: "" }, "—"));
      input = el("select", { id: inputId }, ...options);
    } else {
      const listId = `values-${field}`;
      lists.push(
        el("datalist", { id: listId }, ...candidateValues(field, pred, result).map((v) => el("option", { value: v }))),
      );
      input = el("input", { id: inputId, type: "text", list: listId, autocomplete: "off", placeholder: "—" });
    }
    input.value = current;
    input.dataset.field = field;
    input.dataset.original = original;
    input.setAttribute("aria-label", `${humanise(field)} label`);
    input.addEventListener(SCALES[field] ? "change" : "input", onLabelEdit);
    const alts = ((pred && pred.alternatives) || [])
      .filter((a) => Array.isArray(a) && a[0] !== original && a[1] >= 0.01)
      .slice(0, 2)
      .map((a) => `${humanise(a[0])} ${pct(a[1])}`);
    const band = pred ? pred.band : null;
    const row = el(
      "tr",
      { dataset: { field } },
      el("th", { scope: "row" }, el("label", { for: inputId }, humanise(field))),
      el("td", {}, input, alts.length ? el("span", { className: "alts muted" }, `also: ${alts.join(", ")}`) : null),
      el("td", { className: "num", title: pred ? `source: ${pred.source}` : "" }, pred ? pct(pred.confidence) : "—"),
      el("td", {}, band ? el("span", { className: `band band-${band}` }, band) : "—"),
    );
    row.classList.toggle("changed", current.trim() !== original);
    return row;
  });
  $("#classification tbody").replaceChildren(...rows);
  $("#datalists").replaceChildren(...lists);
  const notes = $("#review-notes");
  const texts = [...(cls.needs_review ? ["The classifier asked for a human check."] : []), ...(cls.review_notes || [])];
  notes.textContent = texts.join(" ");
  notes.hidden = texts.length === 0;
}

function onLabelEdit(ev) {
  const input = ev.target;
  const id = openId();
  if (!id) return;
  const edits = state.labelEdits.get(id) || {};
  edits[input.dataset.field] = input.value;
  state.labelEdits.set(id, edits);
  input.closest("tr").classList.toggle("changed", input.value.trim() !== input.dataset.original);
}

/** The fields the reviewer saw as editable: approving confirms those a model predicted. */
export function shownFields() {
  return [...document.querySelectorAll("#classification [data-field][data-original]")].map((i) => i.dataset.field);
}

export function changedLabels() {
  const labels = changedAssignee();
  for (const input of document.querySelectorAll("#classification [data-field][data-original]")) {
    const value = input.value.trim();
    if (value && value !== input.dataset.original) labels[input.dataset.field] = value;
  }
  return labels;
}

function renderEvidence(evidence) {
  const novelty = typeof evidence.novelty === "number" ? `novelty ${score(evidence.novelty)}` : "";
  $("#novelty").textContent = evidence.novel ? `${novelty} · novel issue` : novelty;
  const similar = (evidence.similar_tickets || []).map((t) => {
    const labels = Object.entries(t.labels || {}).map(([k, v]) => el("li", { className: "tag", title: k }, v));
    return el(
      "li",
      { dataset: { ticketId: t.id } },
      el(
        "div",
        { className: "ev-head" },
        el("span", { className: "score", title: "similarity" }, score(t.score)),
        el("span", { className: "ev-title", dir: "auto" }, t.subject || "(no subject)"),
        el("span", { className: "muted" }, `#${t.id}`),
      ),
      labels.length ? el("ul", { className: "tags" }, ...labels) : null,
      t.resolution_excerpt ? el("p", { className: "excerpt", dir: "auto" }, t.resolution_excerpt) : null,
    );
  });
  $("#similar").replaceChildren(...(similar.length ? similar : [el("li", { className: "muted" }, "None found.")]));
  const kb = (evidence.kb_articles || []).map((a) =>
    el(
      "li",
      { dataset: { articleId: a.article_id } },
      el(
        "div",
        { className: "ev-head" },
        el("span", { className: "score", title: "similarity" }, score(a.score)),
        el("span", { className: "ev-title", dir: "auto" }, a.title || a.article_id),
        a.category ? el("span", { className: "muted" }, humanise(a.category)) : null,
      ),
      a.excerpt ? el("p", { className: "excerpt", dir: "auto" }, a.excerpt) : null,
    ),
  );
  $("#kb").replaceChildren(...(kb.length ? kb : [el("li", { className: "muted" }, "None found.")]));
}

function renderDecision(result) {
  const decision = result.decision || {};
  $("#decision").replaceChildren(
    el("span", { className: `badge action action-${decision.action || "none"}` }, humanise(decision.action || "—")),
    " ",
    el("span", { className: "reason" }, humanise(decision.reason || "")),
  );
  $("#explanation").textContent = decision.explanation || "";
  const box = $("#escalation");
  const esc = result.escalation;
  if (!esc) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const rows = [
    ["Summary", esc.summary],
    ["Suggested team", [esc.suggested_team, esc.secondary_team].filter(Boolean).join(" / ")],
    ["Context", esc.context_for_agent],
    ["Customer tried", (esc.customer_tried || []).join("; ")],
  ].filter(([, v]) => v);
  box.replaceChildren(
    el("h4", {}, "Escalation"),
    el("dl", { className: "kv" }, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { dir: "auto" }, v)])),
  );
  box.hidden = false;
}

export function generatedDraft() {
  const draft = state.detail && state.detail.result && state.detail.result.draft;
  return draft && typeof draft.body === "string" ? draft.body : "";
}

// The drafting step marks a draft it could not ground in a source (draft.grounded === false); older results have
// no such field, and count as grounded.
function renderGrounding(draft) {
  const ungrounded = Boolean(draft) && draft.grounded === false;
  $("#grounding").hidden = !ungrounded;
  const note = $("#grounding-note");
  note.textContent = ungrounded ? draft.grounding_note || "No source answers this ticket: check the reply." : "";
  note.hidden = !ungrounded;
}

function renderDraft(review, result) {
  renderGrounding(result.draft);
  const textarea = $("#draft");
  const generated = generatedDraft();
  textarea.value = state.drafts.has(review.id) ? state.drafts.get(review.id) : generated;
  textarea.placeholder = generated ? "" : "No draft was generated: write the reply here.";
  updateDraftState();
  const citations = ((result.draft && result.draft.citations) || []).map((c) =>
    el(
      "li",
      {},
      el("span", { className: "badge" }, c.kind),
      " ",
      el("span", { dir: "auto" }, c.title || c.id),
      " ",
      el("span", { className: "muted" }, `(${score(c.score)})`),
    ),
  );
  $("#citations").replaceChildren(...citations);
  $("#citations").hidden = citations.length === 0;
}

export function updateDraftState() {
  const edited = $("#draft").value !== generatedDraft();
  $("#draft-state").textContent = edited ? "Edited — your text will be sent." : "Generated draft, unchanged.";
  $("#draft").classList.toggle("edited", edited);
  $("#reset-draft").hidden = !edited;
}
