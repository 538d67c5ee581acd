// The undo window after an approval: a countdown per approved item with a Cancel button. The server sends the reply
// only when the window has passed (closing the page does not stop it); Cancel asks it to withdraw the approval.

import { api, reportError, setStatus } from "./api.js";
import { $, el } from "./dom.js";
import { loadQueue, select } from "./queue.js";
import { state } from "./state.js";

const DONE_MS = 4000; // how long "Sent" stays on screen

function secondsLeft(entry) {
  return Math.max(0, Math.ceil((entry.deadline - performance.now()) / 1000));
}

function paint(entry) {
  const left = secondsLeft(entry);
  entry.count.textContent = left > 0 ? `Sending in ${left} s` : "Sent to the helpdesk";
  entry.button.hidden = left === 0;
  if (left === 0) finish(entry, DONE_MS);
}

function finish(entry, after = 0) {
  clearInterval(entry.timer);
  entry.timer = null;
  setTimeout(() => {
    entry.node.remove();
    if (state.undos.get(entry.id) === entry) state.undos.delete(entry.id);
  }, after);
}

// `undoS` is the server's count of seconds left (its clock, not ours); `restore` has the edits to put back.
export function startUndo({ id, subject, undoS, restore }) {
  const previous = state.undos.get(id);
  if (previous) finish(previous);
  const count = el("span", { className: "undo-count" });
  const button = el("button", { type: "button", className: "undo-cancel" }, "Undo ", el("kbd", {}, "u"));
  const node = el(
    "div",
    { className: "undo-entry", dataset: { reviewId: id } },
    el("span", { className: "undo-what" }, "Approved ", el("q", { dir: "auto" }, subject || id), ". "),
    count,
    button,
  );
  const entry = { id, node, count, button, restore, deadline: performance.now() + Math.max(0, undoS) * 1000 };
  button.addEventListener("click", () => undo(entry));
  $("#undo-bar").append(node);
  state.undos.set(id, entry);
  entry.timer = setInterval(() => paint(entry), 250);
  paint(entry);
}

// The newest approval still in its window (the `u` key).
export function undoLatest() {
  const open = [...state.undos.values()].filter((e) => e.timer && secondsLeft(e) > 0);
  if (open.length) undo(open[open.length - 1]);
}

async function undo(entry) {
  if (!entry.timer) return;
  entry.button.disabled = true;
  const by = $("#reviewer").value.trim() || null;
  try {
    await api(`/api/reviews/${encodeURIComponent(entry.id)}/undo`, { method: "POST", body: { by } });
  } catch (err) {
    entry.button.disabled = false;
    if (err.status === 409) {
      entry.count.textContent = "Too late to undo";
      finish(entry, DONE_MS);
    }
    reportError(err, "the undo");
    return;
  }
  finish(entry);
  if (entry.restore.reply !== undefined) state.drafts.set(entry.id, entry.restore.reply);
  if (entry.restore.labels) state.labelEdits.set(entry.id, entry.restore.labels);
  setStatus("Approval undone — nothing was sent. The item is back in the queue.", "ok");
  await loadQueue({ keepStatus: true });
  if (state.view === "reviews") select(entry.id, { focus: true });
}
