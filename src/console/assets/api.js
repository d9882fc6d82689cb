// Calls to rolegate's API, the same routes as curl. The console signs in by creating an API
// token named for it (12 hours), keeps it in sessionStorage (this tab only, gone when it
// closes) and sends it as a bearer token; signing out revokes it. No cookie is ever set, so
// another site cannot make the browser act here.

const KEY = "rolegate.console.session";
export const TOKEN_NAME = "console";
export const TOKEN_HOURS = 12;

/** An answer that is not 2xx: `status`, and the problem+json body when there is one. */
export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.headers = headers;
  }
}

/** The signed-in session (`{token, id, email, expires_at}`), or null. */
export function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (s && s.token && new Date(s.expires_at) > new Date()) return s;
  } catch (_) {
    // An unreadable entry is no session.
  }
  sessionStorage.removeItem(KEY);
  return null;
}

function keep(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

/** Forgets the session without calling the API (after the token stopped working). */
export function forget() {
  sessionStorage.removeItem(KEY);
}

/** One call. `body` is sent as JSON; the answer is parsed JSON, text (for CSV), or null. */
export async function call(method, path, { body, headers = {}, auth = true, accept } = {}) {
  const h = { ...headers };
  const s = session();
  if (auth && s) h.authorization = `Bearer ${s.token}`;
  if (body !== undefined) h["content-type"] = "application/json";
  if (accept) h.accept = accept;
  // `omit`: no cookie goes out, and no browser sign-in dialog pops up on a 401.
  const response = await fetch(path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
    redirect: "error",
  });
  const type = response.headers.get("content-type") || "";
  const parsed = response.status === 204 ? null
    : type.includes("json") ? await response.json().catch(() => null)
    : await response.text();
  if (!response.ok) {
    const second = typeof parsed === "object" && parsed && /otp-(invalid|required)$/.test(parsed.type || "");
    if (response.status === 401 && auth && s && path !== "/v1/tokens" && !second) {
      // The token expired or was revoked elsewhere: back to the sign-in page. A wrong
      // one-time code (a 401 too) is about the code, not the session.
      forget();
      window.dispatchEvent(new Event("rolegate:signed-out"));
    }
    throw new ApiError(response.status, typeof parsed === "object" ? parsed : null, response.headers);
  }
  return parsed;
}

export const get = (path, opts) => call("GET", path, opts);
export const post = (path, body, opts) => call("POST", path, { ...opts, body });
export const patch = (path, body, opts) => call("PATCH", path, { ...opts, body });
export const put = (path, body, opts) => call("PUT", path, { ...opts, body });
export const del = (path, opts) => call("DELETE", path, opts);

/** `/v1/apps/{app}…` with the name escaped. */
export const appPath = (app, rest = "") => `/v1/apps/${encodeURIComponent(app)}${rest}`;

/**
 * Signs in: `POST /v1/tokens` with HTTP Basic, a token named `console` that ends in 12 hours,
 * and the one-time code when the account has two-factor authentication on. Throws the API's
 * error; `err.problem.type` ends with `otp-required` when a code is needed.
 */
export async function signIn(email, password, code) {
  const basic = btoa(String.fromCharCode(...new TextEncoder().encode(`${email}:${password}`)));
  const headers = { authorization: `Basic ${basic}` };
  if (code) headers["x-rolegate-otp"] = code;
  const expires = new Date(Date.now() + TOKEN_HOURS * 3600 * 1000).toISOString();
  const created = await call("POST", "/v1/tokens", {
    auth: false,
    headers,
    body: { name: TOKEN_NAME, expires_at: expires },
  });
  keep({ token: created.token, id: created.id, email, expires_at: created.expires_at });
  return created;
}

/** Signs out: revokes the console's token, then forgets it whatever the answer. */
export async function signOut() {
  const s = session();
  try {
    if (s) await del(`/v1/tokens/${encodeURIComponent(s.id)}`);
  } finally {
    forget();
  }
}

/** Whether an error says a one-time code is needed. */
export function needsCode(err) {
  return err instanceof ApiError && err.status === 401 &&
    ((err.headers && err.headers.get("x-rolegate-otp") === "required") ||
      (err.problem && /otp-required$/.test(err.problem.type || "")));
}
