// Deciding the open item: approve (with any edits) or reject (with a reason), then move on to the next one.

import { api, reportError, setStatus } from "./api.js";
import { changedLabels, shownFields } from "./detail.js";
import { $ } from "./dom.js";
import { loadQueue, renderQueue, select } from "./queue.js";
import { state } from "./state.js";
import { startUndo } from "./undo.js";

const OUTCOME_TEXT = {
  scheduled: "Approved — the reply goes to the helpdesk when the countdown ends (Undo to withdraw it)",
  approved: "Approved — reply queued for the helpdesk",
  edited: "Approved — reply queued for the helpdesk, with your edits",
  rejected: "Rejected — nothing was sent to the customer",
};

function reviewerName() {
  const name = $("#reviewer").value.trim();
  return name || null;
}

export function setBusy(busy) {
  state.busy = busy;
  const locked = busy || state.readOnly;
  for (const id of ["#approve", "#reject", "#reject-reason", "#assignee"]) $(id).disabled = locked;
  $("#draft").readOnly = locked;
  $("#detail").classList.toggle("busy", busy);
}

export async function approve() {
  if (!state.detail || state.busy || state.readOnly) return;
  const textarea = $("#draft");
  if (!textarea.value.trim()) {
    setStatus("Write a reply before approving, or reject the item instead.", "error");
    textarea.focus();
    return;
  }
  await decide("approve", { reply: textarea.value, labels: changedLabels(), confirmed_fields: shownFields(), reviewer: reviewerName() });
}

export async function reject() {
  if (!state.detail || state.busy || state.readOnly) return;
  const input = $("#reject-reason");
  const reason = input.value.trim();
  if (!reason) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    setStatus("Give a reason to reject this draft.", "error");
    return;
  }
  await decide("reject", { reason, labels: changedLabels(), reviewer: reviewerName() });
}

async function decide(verb, body) {
  const id = state.detail.review.id;
  const subject = (state.detail.ticket && state.detail.ticket.subject) || state.detail.review.subject;
  setBusy(true);
  setStatus(verb === "approve" ? "Approving…" : "Rejecting…", "info");
  let data;
  try {
    data = await api(`/api/reviews/${encodeURIComponent(id)}/${verb}`, { method: "POST", body });
  } catch (err) {
    setBusy(false);
    reportError(err, verb === "approve" ? "the approval" : "the rejection");
    return;
  }
  const outcome = (data && data.review && data.review.state) || (verb === "approve" ? "approved" : "rejected");
  setStatus(OUTCOME_TEXT[outcome] || `Saved (${outcome}).`, "ok");
  if (outcome === "scheduled") {
    const restore = { reply: body.reply, labels: state.labelEdits.get(id) };
    startUndo({ id, subject, undoS: typeof data.undo_s === "number" ? data.undo_s : 0, restore });
  }
  removeItem(id);
}

function removeItem(id) {
  const at = state.items.findIndex((r) => r.id === id);
  state.items = state.items.filter((r) => r.id !== id);
  state.drafts.delete(id);
  state.labelEdits.delete(id);
  renderQueue();
  setBusy(false);
  if (!state.items.length) {
    select(null);
    loadQueue({ keepStatus: true });
    return;
  }
  const next = state.items[Math.min(Math.max(at, 0), state.items.length - 1)];
  // Focus moves to the list so a second Ctrl+Enter cannot approve the next item by accident.
  select(next.id, { focus: true });
}
