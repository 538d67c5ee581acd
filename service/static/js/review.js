// Entry point of the review page (a module script, so deferred): wires buttons, fields, shortcuts and timers to the modules.
// Plain ES modules, no build step, no network beyond this origin. Every piece of data goes into the page through
// textContent / attributes, never innerHTML. The session is an HttpOnly cookie: fetch sends it with credentials
// "same-origin" and no script here ever sees the token.

import { approve, reject } from "./decisions.js";
import { generatedDraft, updateDraftState } from "./detail.js";
import { $ } from "./dom.js";
import { loadEscalationCount, loadEscalations } from "./escalations.js";
import { onKey } from "./keys.js";
import { loadQueue } from "./queue.js";
import { onAssigneePick } from "./routing.js";
import { signOut } from "./session.js";
import { openId, state } from "./state.js";
import { tick } from "./time.js";
import { followFragment, wireTabs } from "./views.js";

const POLL_MS = 60 * 1000;
const TICK_MS = 30 * 1000;

function init() {
  document.addEventListener("keydown", onKey);
  $("#approve").addEventListener("click", approve);
  $("#reject").addEventListener("click", reject);
  $("#assignee").addEventListener("change", onAssigneePick);
  $("#reject-reason").addEventListener("input", (ev) => ev.target.removeAttribute("aria-invalid"));
  $("#draft").addEventListener("input", () => {
    if (openId()) state.drafts.set(openId(), $("#draft").value);
    updateDraftState();
  });
  $("#reset-draft").addEventListener("click", () => {
    if (openId()) state.drafts.delete(openId());
    $("#draft").value = generatedDraft();
    updateDraftState();
    $("#draft").focus();
  });
  $("#filter-queue").addEventListener("change", () => loadQueue());
  $("#filter-priority").addEventListener("change", () => loadQueue());
  $("#filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("#refresh").addEventListener("click", () => loadQueue());
  wireTabs();
  $("#esc-reason").addEventListener("change", () => loadEscalations());
  $("#esc-state").addEventListener("change", () => loadEscalations());
  $("#esc-filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("#esc-refresh").addEventListener("click", () => loadEscalations());
  $("#sign-out").addEventListener("click", signOut);
  const reviewer = $("#reviewer");
  try {
    reviewer.value = localStorage.getItem("caseworker.reviewer") || "";
  } catch {
    /* storage off: the name is simply not remembered */
  }
  reviewer.addEventListener("change", () => {
    try {
      localStorage.setItem("caseworker.reviewer", reviewer.value.trim());
    } catch {
      /* ignore */
    }
  });
  setInterval(tick, TICK_MS);
  setInterval(() => {
    if (document.visibilityState !== "visible") return;
    loadEscalationCount();
    if (state.view === "escalations") loadEscalations({ quiet: true });
    else if (!state.busy) loadQueue({ quiet: true });
  }, POLL_MS);
  loadEscalationCount();
  loadQueue().then(followFragment);
}

// Module scripts run after parsing, like the old deferred script; the check keeps init safe either way.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
