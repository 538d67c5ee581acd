// Sign-out: the session cookie is HttpOnly, so only the server can clear it. A fetch, not a form: this page
// sends no Referer, and a form post from it would carry `Origin: null`, which the service refuses.

import { setStatus } from "./api.js";

const LOGIN_URL = "/review/login";

export async function signOut() {
  let res;
  try {
    res = await fetch("/review/logout", { method: "POST", credentials: "same-origin", redirect: "manual" });
  } catch {
    setStatus("Could not sign out: the service cannot be reached.", "error");
    return;
  }
  // 303 to the sign-in page; a manual redirect shows up as an opaque response.
  if (res.type === "opaqueredirect" || res.ok) location.assign(LOGIN_URL);
  else setStatus(`Could not sign out: ${res.status} ${res.statusText}`.trim(), "error");
}
