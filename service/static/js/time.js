// Due-time formatting: "due in 40 min" / "overdue 2 h" labels, their highlight classes, and the periodic repaint.

const AT_RISK_MS = 60 * 60 * 1000; // due within the hour: highlight

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

export function paintDue(node, iso) {
  const info = dueInfo(iso);
  node.textContent = info.text;
  node.title = info.title;
  node.classList.remove("overdue", "at-risk");
  if (info.cls) node.classList.add(info.cls);
  return info;
}

export function tick() {
  for (const node of document.querySelectorAll("[data-due]")) {
    const info = paintDue(node, node.dataset.due);
    const li = node.closest("li[data-review-id], li[data-escalation-id]");
    if (li) {
      // An escalation the triage already marked at risk stays highlighted until it is overdue.
      const flagged = li.dataset.atRisk === "true";
      li.classList.toggle("is-overdue", info.cls === "overdue");
      li.classList.toggle("is-at-risk", info.cls === "at-risk" || (flagged && info.cls !== "overdue"));
    }
  }
}
