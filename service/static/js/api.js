// Talking to the service: the same-origin fetch wrapper (the HttpOnly session cookie is never read), error reporting, and the status line.

import { $, el } from "./dom.js";
import { loadQueue } from "./queue.js";

const LOGIN_URL = "/review/login";

export function setStatus(content, kind = "info") {
  const status = $("#status");
  status.className = `status status-${kind}`;
  if (content instanceof Node) status.replaceChildren(content);
  else status.textContent = content || "";
}

function sessionExpired() {
  const link = el("a", { href: LOGIN_URL }, "Sign in again");
  setStatus(el("span", {}, "Your session has expired. ", link, " to keep reviewing."), "error");
}

export class ApiError extends Error {
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

export async function api(path, { method = "GET", body } = {}) {
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

export function reportError(err, what) {
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
