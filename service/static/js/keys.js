// Keyboard shortcuts: j/k move, e edit, a approve, u undo an approval, r reject, Ctrl+Enter approve from the draft,
// ? help, Esc leave a field. The review shortcuts act only in the reviews view: a key must never decide a hidden item.

import { approve, reject } from "./decisions.js";
import { $ } from "./dom.js";
import { itemNode, move } from "./queue.js";
import { state } from "./state.js";
import { undoLatest } from "./undo.js";

const REVIEW_KEYS = new Set(["j", "k", "ArrowDown", "ArrowUp", "e", "a", "r"]);

function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

function toggleHelp(force) {
  const help = $("#help");
  help.hidden = force === undefined ? !help.hidden : !force;
}

export function onKey(ev) {
  const target = ev.target;
  if (ev.key === "Enter" && target && target.id === "reject-reason") {
    ev.preventDefault();
    reject();
    return;
  }
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
    ev.preventDefault();
    if (state.view === "reviews") approve();
    return;
  }
  if (isTyping(target)) {
    if (ev.key === "Escape") {
      target.blur();
      const li = state.selectedId ? itemNode(state.selectedId) : null;
      if (li) li.focus();
    }
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (state.view !== "reviews" && REVIEW_KEYS.has(ev.key)) return;
  switch (ev.key) {
    case "j":
    case "ArrowDown":
      if (ev.key === "ArrowDown" && !target.closest("#queue")) return;
      move(1);
      break;
    case "k":
    case "ArrowUp":
      if (ev.key === "ArrowUp" && !target.closest("#queue")) return;
      move(-1);
      break;
    case "e":
      if (!state.detail) return;
      $("#draft").focus();
      break;
    case "a":
      approve();
      break;
    case "r":
      if (!state.detail || state.readOnly) return;
      $("#reject-reason").focus();
      break;
    case "u":
      undoLatest();
      break;
    case "?":
      toggleHelp();
      break;
    case "Escape":
      toggleHelp(false);
      break;
    default:
      return;
  }
  ev.preventDefault();
}
