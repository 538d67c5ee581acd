// The queue: loading pending reviews with the filters, rendering the list, and selecting / moving between items.

import { api, reportError, setStatus } from "./api.js";
import { setBusy } from "./decisions.js";
import { loadDetail } from "./detail.js";
import { $, el, humanise } from "./dom.js";
import { state } from "./state.js";
import { paintDue } from "./time.js";

function filterParams() {
  const params = new URLSearchParams({ state: "pending", limit: "100" });
  const queue = $("#filter-queue").value;
  const priority = $("#filter-priority").value;
  if (queue) params.set("queue", queue);
  if (priority) params.set("priority", priority);
  return params;
}

export async function loadQueue({ keepStatus = false, quiet = false } = {}) {
  const seq = ++state.queueSeq;
  let data;
  try {
    data = await api(`/api/reviews?${filterParams()}`);
  } catch (err) {
    if (seq !== state.queueSeq) return;
    if (!quiet || err.status === 401) reportError(err, "loading the queue");
    return;
  }
  if (seq !== state.queueSeq) return;
  const items = Array.isArray(data && data.items) ? data.items : [];
  const previous = state.selectedId;
  state.items = items;
  rememberQueues(items);
  renderQueue();
  if (!keepStatus && !quiet) setStatus("");
  if (previous && items.some((r) => r.id === previous)) {
    markSelected();
    return;
  }
  // A review opened from a link (a customer's other ticket) stays open even when it is not in the queue.
  if (previous && state.readOnly && state.detail) return;
  if (previous && quiet) setStatus("The item you had open was decided elsewhere or filtered out.", "info");
  select(items.length ? items[0].id : null);
}

function rememberQueues(items) {
  let grew = false;
  for (const r of items) {
    if (r.queue && !state.knownQueues.has(r.queue)) {
      state.knownQueues.add(r.queue);
      grew = true;
    }
  }
  if (!grew) return;
  const picker = $("#filter-queue");
  const current = picker.value;
  const options = [el("option", { value: "" }, "All queues")];
  for (const q of [...state.knownQueues].sort()) options.push(el("option", { value: q }, q));
  picker.replaceChildren(...options);
  picker.value = current;
}

export function renderQueue() {
  const ul = $("#queue");
  const nodes = state.items.map((r) => {
    const due = el("span", { className: "due", dataset: { due: r.first_response_due || "" } });
    const info = paintDue(due, r.first_response_due);
    const li = el(
      "li",
      {
        id: `item-${r.id}`,
        role: "option",
        dataset: { reviewId: r.id },
        className: info.cls === "overdue" ? "is-overdue" : info.cls === "at-risk" ? "is-at-risk" : "",
        "aria-selected": "false",
        tabindex: "-1",
      },
      el(
        "span",
        { className: "item-top" },
        el("span", { className: `badge prio prio-${r.priority || "none"}` }, r.priority || "—"),
        el("span", { className: "subject", title: r.subject || "", dir: "auto" }, r.subject || "(no subject)"),
      ),
      el(
        "span",
        { className: "item-bottom" },
        el("span", { className: "queue-name" }, r.queue || "no queue"),
        r.category ? el("span", { className: "muted" }, humanise(r.category)) : null,
        due,
      ),
    );
    li.addEventListener("click", () => select(r.id, { focus: true }));
    return li;
  });
  ul.replaceChildren(...nodes);
  $("#queue-count").textContent = String(state.items.length);
  $("#tab-reviews-count").textContent = String(state.items.length);
  $("#queue-empty").hidden = state.items.length > 0;
  markSelected();
}

function markSelected() {
  for (const li of document.querySelectorAll("#queue li[data-review-id]")) {
    const on = li.dataset.reviewId === state.selectedId;
    li.setAttribute("aria-selected", on ? "true" : "false");
    li.tabIndex = on ? 0 : -1;
    li.classList.toggle("selected", on);
  }
  const ul = $("#queue");
  if (state.selectedId) ul.setAttribute("aria-activedescendant", `item-${state.selectedId}`);
  else ul.removeAttribute("aria-activedescendant");
}

export function itemNode(id) {
  return [...document.querySelectorAll("#queue li[data-review-id]")].find((li) => li.dataset.reviewId === id);
}

export function select(id, { focus = false } = {}) {
  const changed = id !== state.selectedId;
  state.selectedId = id;
  markSelected();
  const li = id ? itemNode(id) : null;
  if (li) {
    li.scrollIntoView({ block: "nearest" });
    if (focus) li.focus();
  }
  if (!id) {
    state.detail = null;
    $("#detail").hidden = true;
    $("#detail-empty").hidden = false;
    $("#detail-empty").textContent = state.items.length ? "Select an item from the queue." : "Nothing to review.";
    return;
  }
  if (changed || !state.detail) {
    // Nothing can be decided until the newly selected item is on screen.
    state.detail = null;
    setBusy(true);
    loadDetail(id);
  }
}

export function move(step) {
  if (!state.items.length) return;
  const at = state.items.findIndex((r) => r.id === state.selectedId);
  const next = at < 0 ? 0 : Math.min(Math.max(at + step, 0), state.items.length - 1);
  const inList = document.activeElement && document.activeElement.closest && document.activeElement.closest("#queue");
  select(state.items[next].id, { focus: Boolean(inList) });
}
