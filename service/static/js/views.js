// The two views (reviews, escalations) as tabs, and the page's fragment: #r-… opens a review (a customer's other
// ticket links here), #e-… or #escalations opens the escalations view.

import { $ } from "./dom.js";
import { focusEscalation, loadEscalations, loadTeams } from "./escalations.js";
import { select } from "./queue.js";
import { state } from "./state.js";

const VIEWS = { reviews: ["#tab-reviews", "#view-reviews"], escalations: ["#tab-escalations", "#view-escalations"] };

export async function showView(name, { focusTab = false } = {}) {
  state.view = name;
  for (const [view, [tab, panel]] of Object.entries(VIEWS)) {
    const on = view === name;
    $(tab).setAttribute("aria-selected", on ? "true" : "false");
    $(tab).tabIndex = on ? 0 : -1;
    $(panel).hidden = !on;
  }
  $("#filters").hidden = name !== "reviews";
  if (focusTab) $(VIEWS[name][0]).focus();
  if (name === "escalations") {
    loadTeams();
    await loadEscalations();
  }
}

export async function followFragment() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (/^r-[\w-]+$/.test(id)) {
    if (state.view !== "reviews") await showView("reviews");
    select(id);
  } else if (/^e-[\w-]+$/.test(id)) {
    await showView("escalations");
    focusEscalation(id);
  } else if (id === "escalations") {
    await showView("escalations");
  }
}

export function wireTabs() {
  $("#tab-reviews").addEventListener("click", () => showView("reviews"));
  $("#tab-escalations").addEventListener("click", () => showView("escalations"));
  // Arrow keys move between tabs, as a tab list should.
  for (const tab of ["#tab-reviews", "#tab-escalations"]) {
    $(tab).addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
      ev.preventDefault();
      ev.stopPropagation();
      showView(state.view === "reviews" ? "escalations" : "reviews", { focusTab: true });
    });
  }
  window.addEventListener("hashchange", followFragment);
}
