// The views (reviews, escalations, stats) as tabs, and the page's fragment: #r-… opens a review (a customer's other
// ticket links here), #e-… or #escalations opens the escalations view.

import { $ } from "./dom.js";
import { focusEscalation, loadEscalations, loadTeams } from "./escalations.js";
import { select } from "./queue.js";
import { loadStats } from "./stats.js";
import { state } from "./state.js";

const VIEWS = {
  reviews: ["#tab-reviews", "#view-reviews"],
  escalations: ["#tab-escalations", "#view-escalations"],
  stats: ["#tab-stats", "#view-stats"],
};
const ORDER = Object.keys(VIEWS);

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
  } else if (name === "stats") {
    await loadStats();
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
  for (const [name, [tab]] of Object.entries(VIEWS)) {
    $(tab).addEventListener("click", () => showView(name));
    // Arrow keys move between tabs, as a tab list should.
    $(tab).addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
      ev.preventDefault();
      ev.stopPropagation();
      const step = ev.key === "ArrowRight" ? 1 : ORDER.length - 1;
      showView(ORDER[(ORDER.indexOf(state.view) + step) % ORDER.length], { focusTab: true });
    });
  }
  window.addEventListener("hashchange", followFragment);
}
