// The stats view: GET /api/stats rendered per tenant (text only, built with el(): never innerHTML).

import { api, reportError } from "./api.js";
import { $, el, humanise, pct } from "./dom.js";

function table(headers, rows) {
  return el(
    "table",
    { className: "grid" },
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))),
  );
}

function tenantCard(t) {
  const decisions = Object.entries(t.decisions || {}).map(([k, v]) => `${v} ${humanise(k)}`).join(", ") || "none";
  const edits = t.draft_edits || {};
  const auto = t.auto_resolve || {};
  const fields = Object.entries(t.fields || {}).map(([name, f]) => [humanise(name), f.seen, f.corrected, pct(f.correction_rate)]);
  const models = (t.models || []).map((m) => [
    m.version,
    m.state,
    (m.created_at || "").slice(0, 16).replace("T", " "),
    Object.entries(m.holdout || {}).map(([k, v]) => `${humanise(k)} ${typeof v === "number" ? v.toFixed(2) : "—"}`).join(", ") || "—",
  ]);
  return el(
    "article",
    { className: "stats-card", dataset: { tenant: t.tenant } },
    el("h2", {}, `Tenant ${t.tenant}`),
    el(
      "p",
      {},
      `Decisions: ${decisions}. Approval rate ${pct(t.approval_rate)}. Edited replies ${edits.edited_replies || 0}` +
        (typeof edits.mean_edit_distance === "number" ? ` (mean edit distance ${edits.mean_edit_distance.toFixed(2)})` : "") +
        `. Auto-resolved ${auto.count || 0}, came back ${auto.came_back || 0}.`,
    ),
    fields.length ? table(["Field", "Seen", "Corrected", "Correction rate"], fields) : el("p", { className: "muted" }, "No reviewed fields yet."),
    models.length ? table(["Model", "State", "Created", "Holdout macro-F1"], models) : el("p", { className: "muted" }, "No model trained yet."),
  );
}

export async function loadStats() {
  try {
    const data = await api("/api/stats");
    const cards = (data.tenants || []).map(tenantCard);
    $("#stats-body").replaceChildren(...(cards.length ? cards : [el("p", { className: "empty" }, "Nothing reviewed yet.")]));
  } catch (err) {
    reportError(err, "the stats");
  }
}
