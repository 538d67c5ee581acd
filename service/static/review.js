// Caseworker review page: the queue of drafts waiting for a human, one item at a time.
// Plain JS, no build step, no network beyond this origin. Every piece of data goes into the page
// through textContent / attributes, never innerHTML. The session is an HttpOnly cookie: fetch sends it
// with credentials "same-origin" and this script never sees the token.
"use strict";

(() => {
  const AT_RISK_MS = 60 * 60 * 1000; // due within the hour: highlight
  const POLL_MS = 60 * 1000;
  const TICK_MS = 30 * 1000;
  const LOGIN_URL = "/review/login";
  const SCALES = {
    priority: ["P0", "P1", "P2", "P3"],
    sentiment: ["very_negative", "negative", "neutral", "positive", "very_positive"],
    churn_risk: ["low", "medium", "high"],
  };
  const FIELD_ORDER = ["queue", "category", "priority", "type", "sentiment", "churn_risk", "language"];
  const OUTCOME_TEXT = {
    approved: "Approved — reply queued for the helpdesk",
    edited: "Approved — reply queued for the helpdesk, with your edits",
    rejected: "Rejected — nothing was sent to the customer",
  };

  const state = {
    items: [],
    selectedId: null,
    detail: null, // {review, ticket, result} of the selected item
    detailSeq: 0,
    queueSeq: 0,
    busy: false,
    knownQueues: new Set(),
    drafts: new Map(), // review id -> edited reply text
    labelEdits: new Map(), // review id -> {field: value} as typed
  };

  const $ = (sel) => document.querySelector(sel);

  // ---------- small DOM helpers (text only) ----------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "text") node.textContent = String(value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const humanise = (name) => String(name).replace(/_/g, " ");
  const pct = (x) => (typeof x === "number" ? `${Math.round(x * 100)} %` : "—");
  const score = (x) => (typeof x === "number" ? x.toFixed(2) : "—");

  // ---------- time ----------

  function span(ms) {
    const min = Math.round(ms / 60000);
    if (min < 1) return "<1 min";
    if (min < 60) return `${min} min`;
    const hours = Math.floor(min / 60);
    const rest = min % 60;
    if (hours < 3 && rest) return `${hours} h ${rest} min`;
    if (hours < 48) return `${Math.round(min / 60)} h`;
    return `${Math.round(min / 1440)} d`;
  }

  function dueInfo(iso, now = Date.now()) {
    const t = iso ? Date.parse(iso) : NaN;
    if (Number.isNaN(t)) return { text: "no SLA", cls: "", title: "" };
    const diff = t - now;
    const title = `First response due ${new Date(t).toLocaleString()}`;
    if (diff < 0) return { text: `overdue ${span(-diff)}`, cls: "overdue", title };
    return { text: `due in ${span(diff)}`, cls: diff <= AT_RISK_MS ? "at-risk" : "", title };
  }

  function paintDue(node, iso) {
    const info = dueInfo(iso);
    node.textContent = info.text;
    node.title = info.title;
    node.classList.remove("overdue", "at-risk");
    if (info.cls) node.classList.add(info.cls);
    return info;
  }

  function tick() {
    for (const node of document.querySelectorAll("[data-due]")) {
      const info = paintDue(node, node.dataset.due);
      const li = node.closest("li[data-review-id]");
      if (li) {
        li.classList.toggle("is-overdue", info.cls === "overdue");
        li.classList.toggle("is-at-risk", info.cls === "at-risk");
      }
    }
  }

  // ---------- status line ----------

  function setStatus(content, kind = "info") {
    const status = $("#status");
    status.className = `status status-${kind}`;
    if (content instanceof Node) status.replaceChildren(content);
    else status.textContent = content || "";
  }

  function sessionExpired() {
    const link = el("a", { href: LOGIN_URL }, "Sign in again");
    setStatus(el("span", {}, "Your session has expired. ", link, " to keep reviewing."), "error");
  }

  // ---------- API ----------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function detailOf(data, res) {
    const detail = data && data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((e) => {
          const loc = Array.isArray(e.loc) ? e.loc.filter((p) => p !== "body").join(".") : "";
          return loc ? `${loc}: ${e.msg}` : String(e.msg || e);
        })
        .join("; ");
    }
    return `${res.status} ${res.statusText || "error"}`.trim();
  }

  async function api(path, { method = "GET", body } = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch {
      throw new ApiError(0, "The service cannot be reached. Check your connection and try again.");
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) throw new ApiError(res.status, detailOf(data, res));
    return data;
  }

  function reportError(err, what) {
    if (!(err instanceof ApiError)) {
      console.error(err);
      setStatus(`Something went wrong ${what}: ${err && err.message ? err.message : err}`, "error");
      return;
    }
    if (err.status === 401) {
      sessionExpired();
    } else if (err.status === 409) {
      setStatus(err.message, "error");
      loadQueue({ keepStatus: true });
    } else if (err.status === 404) {
      setStatus(`${err.message || "Not found"} — it is no longer in the queue.`, "error");
      loadQueue({ keepStatus: true });
    } else {
      setStatus(`Could not finish ${what}: ${err.message}`, "error");
    }
  }

  // ---------- queue ----------

  function filterParams() {
    const params = new URLSearchParams({ state: "pending", limit: "100" });
    const queue = $("#filter-queue").value;
    const priority = $("#filter-priority").value;
    if (queue) params.set("queue", queue);
    if (priority) params.set("priority", priority);
    return params;
  }

  async function loadQueue({ keepStatus = false, quiet = false } = {}) {
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
    const select = $("#filter-queue");
    const current = select.value;
    const options = [el("option", { value: "" }, "All queues")];
    for (const q of [...state.knownQueues].sort()) options.push(el("option", { value: q }, q));
    select.replaceChildren(...options);
    select.value = current;
  }

  function renderQueue() {
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
          el("span", { className: "subject", title: r.subject || "" }, r.subject || "(no subject)"),
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

  function itemNode(id) {
    return [...document.querySelectorAll("#queue li[data-review-id]")].find((li) => li.dataset.reviewId === id);
  }

  function select(id, { focus = false } = {}) {
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

  function move(step) {
    if (!state.items.length) return;
    const at = state.items.findIndex((r) => r.id === state.selectedId);
    const next = at < 0 ? 0 : Math.min(Math.max(at + step, 0), state.items.length - 1);
    const inList = document.activeElement && document.activeElement.closest && document.activeElement.closest("#queue");
    select(state.items[next].id, { focus: Boolean(inList) });
  }

  // ---------- detail ----------

  async function loadDetail(id) {
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

  function renderDetail({ review, ticket, result }) {
    ticket = ticket || {};
    result = result || {};
    $("#detail").hidden = false;
    $("#detail-empty").hidden = true;
    $("#ticket-subject").textContent = ticket.subject || review.subject || "(no subject)";
    renderMeta(review, ticket, result);
    renderCustomer(ticket);
    $("#ticket-body").textContent = ticket.body || "";
    renderClassification(review, result);
    renderEvidence(result.evidence || {});
    renderDecision(result);
    renderDraft(review, result);
    const reason = $("#reject-reason");
    reason.value = "";
    reason.removeAttribute("aria-invalid");
    setBusy(false);
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
        rows.push(el("dt", {}, humanise(key)), el("dd", {}, text));
      }
    }
    dl.replaceChildren(...rows);
    dl.hidden = rows.length === 0;
    const tags = Array.isArray(ticket.tags) ? ticket.tags : [];
    $("#tags").replaceChildren(...tags.map((t) => el("li", { className: "tag" }, t)));
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

  const openId = () => (state.detail && state.detail.review ? state.detail.review.id : null);

  function onLabelEdit(ev) {
    const input = ev.target;
    const id = openId();
    if (!id) return;
    const edits = state.labelEdits.get(id) || {};
    edits[input.dataset.field] = input.value;
    state.labelEdits.set(id, edits);
    input.closest("tr").classList.toggle("changed", input.value.trim() !== input.dataset.original);
  }

  function changedLabels() {
    const labels = {};
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
          el("span", { className: "ev-title" }, t.subject || "(no subject)"),
          el("span", { className: "muted" }, `#${t.id}`),
        ),
        labels.length ? el("ul", { className: "tags" }, ...labels) : null,
        t.resolution_excerpt ? el("p", { className: "excerpt" }, t.resolution_excerpt) : null,
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
          el("span", { className: "ev-title" }, a.title || a.article_id),
          a.category ? el("span", { className: "muted" }, humanise(a.category)) : null,
        ),
        a.excerpt ? el("p", { className: "excerpt" }, a.excerpt) : null,
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
      el("dl", { className: "kv" }, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    );
    box.hidden = false;
  }

  function generatedDraft() {
    const draft = state.detail && state.detail.result && state.detail.result.draft;
    return draft && typeof draft.body === "string" ? draft.body : "";
  }

  function renderDraft(review, result) {
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
        c.title || c.id,
        " ",
        el("span", { className: "muted" }, `(${score(c.score)})`),
      ),
    );
    $("#citations").replaceChildren(...citations);
    $("#citations").hidden = citations.length === 0;
  }

  function updateDraftState() {
    const edited = $("#draft").value !== generatedDraft();
    $("#draft-state").textContent = edited ? "Edited — your text will be sent." : "Generated draft, unchanged.";
    $("#draft").classList.toggle("edited", edited);
    $("#reset-draft").hidden = !edited;
  }

  // ---------- decisions ----------

  function reviewerName() {
    const name = $("#reviewer").value.trim();
    return name || null;
  }

  function setBusy(busy) {
    state.busy = busy;
    for (const id of ["#approve", "#reject"]) $(id).disabled = busy;
    $("#draft").readOnly = busy;
    $("#detail").classList.toggle("busy", busy);
  }

  async function approve() {
    if (!state.detail || state.busy) return;
    const textarea = $("#draft");
    if (!textarea.value.trim()) {
      setStatus("Write a reply before approving, or reject the item instead.", "error");
      textarea.focus();
      return;
    }
    await decide("approve", { reply: textarea.value, labels: changedLabels(), reviewer: reviewerName() });
  }

  async function reject() {
    if (!state.detail || state.busy) return;
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

  // ---------- keyboard ----------

  function isTyping(target) {
    if (!(target instanceof HTMLElement)) return false;
    return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
  }

  function toggleHelp(force) {
    const help = $("#help");
    help.hidden = force === undefined ? !help.hidden : !force;
  }

  function onKey(ev) {
    const target = ev.target;
    if (ev.key === "Enter" && target && target.id === "reject-reason") {
      ev.preventDefault();
      reject();
      return;
    }
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      approve();
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
        if (!state.detail) return;
        $("#reject-reason").focus();
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

  // ---------- wiring ----------

  function init() {
    document.addEventListener("keydown", onKey);
    $("#approve").addEventListener("click", approve);
    $("#reject").addEventListener("click", reject);
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
      if (document.visibilityState === "visible" && !state.busy) loadQueue({ quiet: true });
    }, POLL_MS);
    loadQueue();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
