// Building the page: elements made with text, never with HTML strings, so nothing the API
// returns can become markup.

/** An element: `h("button", {type: "submit"}, "Sign in")`. `on*` attributes are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let ids = 0;

/** A labelled input: `<label for=x>Email</label><input id=x>` in a `<div class="field">`. */
export function field(label, attrs = {}, hint) {
  const id = attrs.id || `f${++ids}`;
  const input = h(attrs.tag || "input", { ...attrs, tag: undefined, id });
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint && h("small", { id: hintId, class: "muted" }, hint));
}

/** A labelled `<select>` with `[value, text]` options. */
export function select(label, name, options, selected, attrs = {}) {
  const id = attrs.id || `f${++ids}`;
  const el = h("select", { ...attrs, id, name },
    options.map(([value, text]) => h("option", { value, selected: value === selected }, text)));
  return h("div", { class: "field" }, h("label", { for: id }, label), el);
}

/** A table with a header row: `rows` are arrays of cells (text or nodes). */
export function table(caption, headers, rows, attrs = {}) {
  return h("table", attrs,
    caption && h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))));
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A region that announces messages: errors in `role="alert"`, news in `role="status"`. */
export function messages() {
  const el = h("div", { class: "messages", "aria-live": "polite" });
  el.error = (err) => replace(el, h("p", { class: "error", role: "alert" }, describe(err)));
  el.ok = (text, ...more) => replace(el, h("p", { class: "ok", role: "status" }, text), ...more);
  el.clear = () => replace(el);
  return el;
}

/** What a failed call says, in the API's words: its `detail`, and for a refusal the permission. */
export function describe(err) {
  if (!err || !err.problem) return String(err && err.message ? err.message : err);
  const p = err.problem;
  let text = p.detail || p.title || `HTTP ${err.status}`;
  if (p.required_permission) text += ` (missing permission: ${p.required_permission})`;
  if (Array.isArray(p.errors) && p.errors.length) {
    text += ": " + p.errors.map((e) => `${e.field} ${e.message}`).join("; ");
  }
  return text;
}

/** A date for people, or a dash. */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

/** A role's name for people. */
export function roleName(role) {
  return { owner: "Owner", collaborator: "Collaborator", limited_collaborator: "Limited collaborator" }[role] || role;
}

/** A form whose submit runs `action(form)` with its button disabled meanwhile. */
export function form(attrs, children, action) {
  const el = h("form", { ...attrs, novalidate: false }, children);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const buttons = el.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    try {
      await action(el);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return el;
}

/** A button that runs `action` once at a time. */
export function button(text, action, attrs = {}) {
  const el = h("button", { type: "button", ...attrs }, text);
  el.addEventListener("click", async () => {
    el.disabled = true;
    try {
      await action(el);
    } finally {
      el.disabled = false;
    }
  });
  return el;
}
