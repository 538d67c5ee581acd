// Small DOM helpers: build nodes from text and attributes only (never innerHTML), and format numbers.

export const $ = (sel) => document.querySelector(sel);

export function el(tag, props, ...children) {
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

export const humanise = (name) => String(name).replace(/_/g, " ");
export const pct = (x) => (typeof x === "number" ? `${Math.round(x * 100)} %` : "—");
export const score = (x) => (typeof x === "number" ? x.toFixed(2) : "—");
