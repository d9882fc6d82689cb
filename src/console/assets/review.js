// `#/access-review`: every member of every app the caller owns, grouped by collaborator or by
// app, with the findings; remediations are previewed, then applied in one call to
// `POST /v1/access-review/apply` (all or none); and the same review as CSV.

import * as api from "./api.js";
import { h, select, messages, replace, button, when, roleName } from "./dom.js";
import { page } from "./app.js";

let groupBy = "collaborator";
let csvUrl = null;

/** The remediation a row's findings suggest, if any: remove an unused member, or narrow a role. */
function suggestion(row) {
  if (!row.collaborator_id || row.role === "owner") return null;
  const codes = row.findings.map((f) => f.code);
  if (codes.includes("stale_member")) {
    return { action: { action: "remove", app: row.app_id, collaborator_id: row.collaborator_id },
      text: `Remove ${row.email} from ${row.app}` };
  }
  const broader = row.findings.find((f) => f.code === "role_broader_than_use" && f.suggested_role);
  if (broader) {
    return { action: { action: "set_role", app: row.app_id, collaborator_id: row.collaborator_id, role: broader.suggested_role },
      text: `Change ${row.email} on ${row.app} to ${roleName(broader.suggested_role).toLowerCase()}` };
  }
  return null;
}

export async function reviewPage(notice) {
  const review = await api.get("/v1/access-review");
  const out = messages();
  const preview = h("div", { class: "preview", "aria-live": "polite" });
  const csv = h("a", { class: "button", download: "access-review.csv", "aria-disabled": "true" }, "Download CSV");
  const selected = new Map();

  const groups = new Map();
  for (const row of review.items) {
    const key = groupBy === "app" ? row.app : row.email;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(row);
  }
  const tables = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, rows]) => {
    const first = groupBy === "app" ? "Member" : "App";
    return h("table", { class: "review" },
      h("caption", {}, groupBy === "app" ? `App ${key}` : key),
      h("thead", {}, h("tr", {}, [first, "Role", "Status", "Last used", "Access expires", "2FA", "Findings", "Remediation"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((row) => {
        const s = suggestion(row);
        let fix = "—";
        if (s) {
          const id = `fix-${row.collaborator_id}`;
          fix = h("div", { class: "fix" },
            h("input", { type: "checkbox", id, onchange: (e) => {
              if (e.target.checked) selected.set(id, s);
              else selected.delete(id);
            } }),
            h("label", { for: id }, s.text));
        }
        return h("tr", { "data-email": row.email, "data-app": row.app },
          h("td", {}, groupBy === "app" ? row.email : row.app),
          h("td", {}, roleName(row.role)),
          h("td", {}, row.status),
          h("td", { class: "date" }, row.invitation_id ? "—" : (row.last_used_at ? when(row.last_used_at) : "never")),
          h("td", { class: "date" }, when(row.access_expires_at)),
          h("td", {}, row.tfa_enabled === null ? "—" : row.tfa_enabled ? "on" : "off"),
          h("td", {}, row.findings.length
            ? h("ul", { class: "findings" }, row.findings.map((f) => h("li", {}, h("code", {}, f.code), " ", f.message)))
            : "none"),
          h("td", {}, fix));
      })));
  });

  const showPreview = () => {
    if (!selected.size) {
      replace(preview, h("p", { role: "status" }, "Select at least one remediation first."));
      return;
    }
    const changes = [...selected.values()];
    replace(preview, h("div", { class: "card" },
      h("h2", {}, "What will change"),
      h("p", {}, "These changes are applied together, all or none:"),
      h("ul", { class: "changes" }, changes.map((c) => h("li", {}, c.text))),
      h("div", { class: "actions" },
        button("Apply changes", async () => {
          try {
            const done = await api.post("/v1/access-review/apply", { actions: changes.map((c) => c.action) });
            const n = done.results.length;
            await reviewPage(`Applied ${n} change${n === 1 ? "" : "s"}: ${changes.map((c) => c.text).join("; ")}.`);
          } catch (err) {
            out.error(err);
          }
        }, { class: "primary" }),
        button("Cancel", () => replace(preview)))));
    preview.querySelector("button").focus();
  };

  page("Access review",
    h("h1", {}, "Access review"),
    h("p", { class: "muted" }, `Every member and pending invitation of the apps you own. Use is counted over the last ${review.stale_after_days} days; generated ${when(review.generated_at)}.`),
    out,
    h("div", { class: "toolbar" },
      select("Group by", "group", [["collaborator", "Collaborator"], ["app", "App"]], groupBy, {
        onchange: (e) => {
          groupBy = e.target.value;
          reviewPage();
        },
      }),
      button("Review selected changes", showPreview),
      csv),
    preview,
    tables.length ? tables : h("p", { class: "muted" }, "You own no app with members yet."));
  if (notice) out.ok(notice);

  // The CSV needs the bearer token, which a plain link cannot send: fetched, then offered as a file.
  try {
    const text = await api.get("/v1/access-review?format=csv", { accept: "text/csv" });
    if (csvUrl) URL.revokeObjectURL(csvUrl);
    csvUrl = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    csv.href = csvUrl;
    csv.removeAttribute("aria-disabled");
  } catch (err) {
    out.error(err);
  }
}
