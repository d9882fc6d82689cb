// The pages of a signed-in person: their apps, one app, their invitations, their API tokens.
// Controls appear only where `GET /v1/apps/{app}/permissions` says the caller may act; the
// server still decides, and a refusal shows the API's own words.

import * as api from "./api.js";
import { h, field, select, table, form, messages, replace, button, when, roleName } from "./dom.js";
import { page, go } from "./app.js";

const appLink = (name) => h("a", { href: `/#/apps/${encodeURIComponent(name)}` }, name);

/** `#/apps`: the apps the caller is a member of, with their role; create an app. */
export async function appsPage() {
  const list = await api.get("/v1/apps?limit=200");
  const out = messages();
  page("Apps",
    h("h1", {}, "Apps"),
    list.items.length
      ? h("ul", { class: "apps" }, list.items.map((a) =>
        h("li", {}, appLink(a.name), " ", h("span", { class: "badge" }, roleName(a.role)), " ", h("span", { class: "muted" }, a.status))))
      : h("p", { class: "muted" }, "You are not a member of any app yet: create one, or accept an invitation."),
    h("h2", {}, "Create an app"),
    form({ class: "card inline", "aria-label": "Create an app" }, [
      field("App name", { name: "name", required: true, pattern: "[a-z][a-z0-9-]*", maxlength: 48 },
        "Lower-case letters, digits and -, starting with a letter."),
      field("Default branch", { name: "branch", value: "main", required: true }),
      out,
      h("button", { type: "submit" }, "Create app"),
    ], async (el) => {
      try {
        const app = await api.post("/v1/apps", { name: el.name.value.trim(), default_branch: el.branch.value.trim() });
        go(`#/apps/${encodeURIComponent(app.name)}`);
      } catch (err) {
        out.error(err);
      }
    }));
}

/** A section that loads on its own, so one refusal does not hide the rest of the page. */
function section(title, load) {
  const body = h("div", { class: "section-body" }, h("p", { class: "muted" }, "Loading…"));
  const el = h("section", { "aria-labelledby": `s-${title}` }, h("h2", { id: `s-${title}` }, title), body);
  el.reload = async () => {
    try {
      replace(body, ...[await load(el)].flat());
    } catch (err) {
      const out = messages();
      replace(body, out);
      out.error(err);
    }
  };
  el.reload();
  return el;
}

/** `#/apps/{app}`: settings and status, members, invitations, variables, deployments, activity. */
export async function appPage(ref) {
  const out = messages();
  let app;
  let perms;
  try {
    [app, perms] = await Promise.all([api.get(api.appPath(ref)), api.get(api.appPath(ref, "/permissions"))]);
  } catch (err) {
    // A 404 reads the same whether the app exists or not: the API's words, nothing more.
    page("App", h("h1", {}, ref), out);
    out.error(err);
    return;
  }
  if (ref !== app.name) history.replaceState(null, "", `/#/apps/${encodeURIComponent(app.name)}`);
  const can = (p) => perms.permissions.includes(p);
  const me = api.session();
  const sections = [];
  const refreshAll = () => sections.forEach((s) => s.reload());

  const settings = section("Settings and status", () => settingsView(app, can, refreshAll, out));
  sections.push(settings);
  const members = can("collaborators.read")
    ? section("Members", (el) => membersView(app, can, me, el))
    : h("section", { "aria-labelledby": "s-Members" }, h("h2", { id: "s-Members" }, "Members"),
      h("p", { class: "muted" }, `Your role (${roleName(perms.role)}) does not allow collaborators.read: the member list is not shown.`));
  const invitations = can("collaborators.read")
    ? section("Invitations", (el) => invitationsView(app, can, el))
    : null;
  if (members.reload) sections.push(members);
  if (invitations) sections.push(invitations);
  const deployments = can("deployments.read") ? section("Deployments", (el) => deploymentsView(app, can, el)) : null;
  if (deployments) sections.push(deployments);
  const variables = can("variables.list_names") ? section("Variables", (el) => variablesView(app, can, el)) : null;
  if (variables) sections.push(variables);
  const activity = can("events.read") ? section("Activity", () => activityView(app)) : null;
  if (activity) sections.push(activity);

  page(app.name,
    h("p", { class: "crumbs" }, h("a", { href: "/#/apps" }, "Apps"), " / ", app.name),
    h("h1", {}, app.name),
    h("p", {}, "Your role: ", h("strong", { class: "my-role" }, roleName(perms.role)),
      perms.blocked_by === "tfa_required"
        ? h("span", { class: "error" }, " — this app requires two-factor authentication: ",
          h("a", { href: "/#/account" }, "turn it on"), " to reach it.")
        : null),
    out,
    perms.role !== "owner" ? h("div", { class: "actions" }, button("Leave this app", async () => {
      if (!confirm(`Leave ${app.name}? You will need a new invitation to come back.`)) return;
      try {
        const id = await ownMembershipId(app, can, me);
        await api.del(api.appPath(app.name, `/collaborators/${id}`));
        go("#/apps");
      } catch (err) {
        out.error(err);
      }
    })) : null,
    settings, members, invitations, deployments, variables, activity);
}

/** The caller's own membership id: from the member list, or (without `collaborators.read`) from
 * the timeline's `collaborator.accepted` event about them. */
async function ownMembershipId(app, can, me) {
  if (can("collaborators.read")) {
    const list = await api.get(api.appPath(app.name, "/collaborators"));
    const mine = list.items.find((m) => m.email.toLowerCase() === me.email.toLowerCase());
    if (mine) return mine.id;
  }
  const self = await api.get("/v1/users/self");
  const events = await api.get(api.appPath(app.name, "/events?type=collaborator.accepted&limit=200"));
  const accepted = events.items.find((e) => e.data && e.data.user_id === self.id);
  if (!accepted) throw new Error("your membership could not be found; ask an owner to remove you");
  return accepted.data.collaborator_id;
}

function settingsView(app, can, refreshAll, pageOut) {
  const formation = (app.formation || []).map((c) => `${c.amount}× ${c.type} (${c.size})`).join(", ") || "none";
  const rows = [
    ["Status", app.status], ["Stack", app.stack], ["Default branch", app.default_branch],
    ["Formation", formation], ["Owner", app.owner ? app.owner.email : "—"],
    ["Two-factor authentication required", app.require_tfa ? "yes" : "no"],
    ["Created", when(app.created_at)],
  ];
  if (app.parent) rows.push(["Created from", app.parent]);
  const dl = h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  const parts = [dl];
  if (can("app.require_tfa")) parts.push(requireTfa(app, refreshAll, pageOut));
  if (!can("app.update")) return parts;
  const out = messages();
  return [...parts, form({ class: "inline", "aria-label": "Change the default branch" }, [
    field("New default branch", { name: "branch", value: app.default_branch, required: true }),
    h("button", { type: "submit" }, "Save"), out,
  ], async (el) => {
    try {
      const updated = await api.patch(api.appPath(app.name), { default_branch: el.branch.value.trim() });
      app.default_branch = updated.default_branch;
      out.ok("Saved.");
      refreshAll();
    } catch (err) {
      out.error(err);
    }
  })];
}

/** The owner's switch: every member must have two-factor authentication on, or not. What it
 * did goes to the page's messages (`pageOut`): the section re-renders. */
function requireTfa(app, refreshAll, pageOut) {
  const out = messages();
  const on = app.require_tfa;
  return h("div", {}, h("div", { class: "actions" }, button(
    on ? "Stop requiring two-factor authentication" : "Require two-factor authentication",
    async () => {
      try {
        const answer = await api.put(api.appPath(app.name, "/security"), { require_tfa: !on });
        app.require_tfa = answer.require_tfa;
        refreshAll();
        const refused = answer.locked_out.map((u) => u.email);
        pageOut.ok(answer.require_tfa
          ? `Two-factor authentication is required. ${refused.length ? `Refused until they turn it on: ${refused.join(", ")}.` : "Every member has it on."}`
          : "Two-factor authentication is no longer required.");
      } catch (err) {
        out.error(err);
      }
    })), out);
}

/** Setting when a member's access ends (a number of days from now), or making it permanent. */
function accessEnd(app, m, out, reload) {
  const path = api.appPath(app.name, `/collaborators/${m.id}`);
  const save = async (body) => {
    try {
      await api.patch(path, body);
      await reload();
    } catch (err) {
      out.error(err);
    }
  };
  return h("details", { class: "access-end" }, h("summary", { "aria-label": `End of access for ${m.email}` }, "End of access…"),
    form({ class: "inline", "aria-label": `End of access for ${m.email}` }, [
      field("Days of access left", { type: "number", name: "days", min: 1, max: 3650, value: 30, required: true }),
      h("button", { type: "submit" }, "Set end of access"),
      m.access_expires_at ? button("Make permanent", () => save({ access_expires_at: null })) : null,
    ], (el) => save({ access_expires_at: new Date(Date.now() + Number(el.days.value) * 86400000).toISOString() })));
}

async function membersView(app, can, me, sectionEl) {
  const list = await api.get(api.appPath(app.name, "/collaborators"));
  const out = messages();
  const manage = can("collaborators.update_role") || can("collaborators.remove");
  const headers = ["Email", "Role", "2FA", "Last used", "Access expires"];
  if (manage) headers.push("Actions");
  const rows = list.items.map((m) => {
    const cells = [m.email, roleName(m.role), m.tfa_enabled ? "on" : "off", when(m.last_used_at), when(m.access_expires_at)];
    const self = m.email.toLowerCase() === me.email.toLowerCase();
    if (manage) {
      const actions = [];
      if (m.role !== "owner" && !self) {
        if (can("collaborators.update_role")) {
          const other = m.role === "collaborator" ? "limited_collaborator" : "collaborator";
          actions.push(button(`Make ${roleName(other).toLowerCase()}`, async () => {
            try {
              await api.patch(api.appPath(app.name, `/collaborators/${m.id}`), { role: other });
              await reloadSelf();
            } catch (err) {
              out.error(err);
            }
          }, { "aria-label": `Make ${m.email} ${roleName(other).toLowerCase()}` }));
          actions.push(accessEnd(app, m, out, reloadSelf));
        }
        if (can("collaborators.remove")) {
          actions.push(button("Remove", async () => {
            if (!confirm(`Remove ${m.email} from ${app.name}?`)) return;
            try {
              await api.del(api.appPath(app.name, `/collaborators/${m.id}`));
              await reloadSelf();
            } catch (err) {
              out.error(err);
            }
          }, { class: "danger", "aria-label": `Remove ${m.email}` }));
        }
      }
      cells.push(h("div", { class: "actions" }, actions));
    }
    return cells;
  });
  async function reloadSelf() {
    await sectionEl.reload();
  }
  return [table(null, headers, rows, { class: "members", "aria-label": "Members" }), out];
}

async function invitationsView(app, can, sectionEl) {
  const list = await api.get(api.appPath(app.name, "/invitations"));
  const out = messages();
  const parts = [];
  if (can("collaborators.invite")) {
    parts.push(form({ class: "card inline", "aria-label": "Invite someone" }, [
      field("Email", { type: "email", name: "email", required: true, autocomplete: "off" }),
      select("Role", "role", [["collaborator", "Collaborator"], ["limited_collaborator", "Limited collaborator"]], "limited_collaborator"),
      field("Access expires (optional)", { type: "datetime-local", name: "expires" },
        "Time-bound access: the membership ends then. Your browser's time zone."),
      h("button", { type: "submit" }, "Send invitation"),
    ], async (el) => {
      const body = { email: el.email.value.trim(), role: el.role.value };
      if (el.expires.value) body.access_expires_at = new Date(el.expires.value).toISOString();
      try {
        const created = await api.post(api.appPath(app.name, "/invitations"), body);
        const link = h("input", { id: "invitation-link", readonly: true, value: created.invitation_link, class: "wide" });
        await sectionEl.reload();
        // After the reload, which replaced this form's messages.
        sectionEl.querySelector(".invite-result").replaceChildren(
          h("p", { class: "ok", role: "status" }, `Invitation sent to ${created.email} as ${roleName(created.role).toLowerCase()}. Send them this link (shown once):`),
          h("div", { class: "field" }, h("label", { for: "invitation-link" }, "Invitation link"), link),
          button("Copy link", async (b) => {
            link.select();
            try {
              await navigator.clipboard.writeText(link.value);
              b.textContent = "Copied";
            } catch (_) {
              b.textContent = "Selected: press Ctrl+C";
            }
          }));
      } catch (err) {
        out.error(err);
      }
    }), out, h("div", { class: "invite-result" }));
  }
  const rows = list.items.map((i) => {
    const cells = [i.email, roleName(i.role), i.status, when(i.expires_at), when(i.access_expires_at)];
    if (can("collaborators.invite")) {
      cells.push(i.status === "pending" ? button("Revoke", async () => {
        try {
          await api.del(api.appPath(app.name, `/invitations/${i.id}`));
          await sectionEl.reload();
        } catch (err) {
          out.error(err);
        }
      }, { "aria-label": `Revoke the invitation of ${i.email}` }) : "");
    }
    return cells;
  });
  const headers = ["Email", "Role", "Status", "Link expires", "Access expires"];
  if (can("collaborators.invite")) headers.push("Actions");
  parts.push(rows.length ? table(null, headers, rows, { class: "invitations", "aria-label": "Invitations" })
    : h("p", { class: "muted" }, "No invitations."));
  return parts;
}

async function variablesView(app, can, sectionEl) {
  const list = await api.get(api.appPath(app.name, "/variables"));
  const values = can("variables.read_values");
  const headers = values ? ["Name", "Value", "Updated"] : ["Name", "Updated"];
  const rows = list.items.map((v) => values ? [h("code", {}, v.name), h("code", {}, v.value ?? ""), when(v.updated_at)]
    : [h("code", {}, v.name), when(v.updated_at)]);
  const parts = [];
  if (!values) parts.push(h("p", { class: "muted" }, "Values are hidden: your role does not allow variables.read_values."));
  parts.push(rows.length ? table(null, headers, rows, { class: "variables", "aria-label": "Variables" })
    : h("p", { class: "muted" }, "No variables."));
  if (can("variables.write")) {
    const out = messages();
    parts.push(form({ class: "inline", "aria-label": "Set a variable" }, [
      field("Variable name", { name: "name", required: true, autocomplete: "off" }),
      field("Value", { name: "value", required: true, autocomplete: "off" }),
      h("button", { type: "submit" }, "Set variable"), out,
    ], async (el) => {
      try {
        await api.put(api.appPath(app.name, `/variables/${encodeURIComponent(el.name.value.trim())}`), { value: el.value.value });
        await sectionEl.reload();
      } catch (err) {
        out.error(err);
      }
    }));
  }
  return parts;
}

async function deploymentsView(app, can, sectionEl) {
  const list = await api.get(api.appPath(app.name, "/deployments?limit=20"));
  const out = messages();
  const parts = [];
  if (can("deployments.redeploy_default")) {
    parts.push(h("div", { class: "actions" }, button("Redeploy default branch", async () => {
      try {
        const d = await api.post(api.appPath(app.name, "/deployments/redeploy"), undefined, {
          headers: { "idempotency-key": crypto.randomUUID() },
        });
        await sectionEl.reload();
        sectionEl.querySelector(".messages").ok(`Redeploy of ${d.git_ref} requested: ${d.status}.`);
      } catch (err) {
        out.error(err);
      }
    }, { class: "primary" }), h("span", { class: "muted" }, ` Default branch: ${app.default_branch}`)));
  }
  parts.push(out);
  const rows = list.items.map((d) => [h("code", {}, d.git_ref), d.kind, h("span", { class: `status ${d.status}` }, d.status),
    d.requested_by ? who(d.requested_by) : "—", when(d.created_at), when(d.finished_at)]);
  parts.push(rows.length ? table(null, ["Ref", "Kind", "Status", "Requested by", "Requested", "Finished"], rows,
    { class: "deployments", "aria-label": "Deployments" }) : h("p", { class: "muted" }, "No deployments yet."));
  return parts;
}

/** A person as the API names them: their address, or, for a reader who may not see the
 *  members, their name. */
function who(person) {
  return person.email || person.name || "another member";
}

async function activityView(app) {
  const list = await api.get(api.appPath(app.name, "/events?limit=20"));
  if (!list.items.length) return h("p", { class: "muted" }, "Nothing yet.");
  return h("ol", { class: "timeline" }, list.items.map((e) => h("li", {},
    h("time", { datetime: e.created_at }, when(e.created_at)), " ",
    h("code", {}, e.type), " ",
    e.actor ? `by ${who(e.actor)}` : "",
    e.data && e.data.email && e.type.startsWith("collaborator") ? ` (${e.data.email})` : "")));
}

/** `#/invitations`: pending invitations to the caller's address; accept or decline by id. */
export async function myInvitationsPage() {
  const out = messages();
  const body = h("div", {});
  page("My invitations", h("h1", {}, "My invitations"), out, body);
  let list;
  try {
    list = await api.get("/v1/users/self/invitations");
  } catch (err) {
    out.error(err);
    replace(body, h("p", { class: "muted" },
      "An invitation link accepts an invitation without this list: open the link you were sent."));
    return;
  }
  if (!list.items.length) return replace(body, h("p", { class: "muted" }, "No pending invitations."));
  replace(body, table(null, ["App", "Role", "Invited by", "Expires", "Actions"], list.items.map((i) => [
    i.app_name, roleName(i.role), i.invited_by ? i.invited_by.email : "—", when(i.expires_at),
    h("div", { class: "actions" },
      button("Accept", async () => {
        try {
          await api.post(`/v1/users/self/invitations/${i.id}/accept`);
          go(`#/apps/${encodeURIComponent(i.app_name)}`);
        } catch (err) {
          out.error(err);
        }
      }, { "aria-label": `Accept the invitation to ${i.app_name}` }),
      button("Decline", async () => {
        try {
          await api.post(`/v1/users/self/invitations/${i.id}/decline`);
          await myInvitationsPage();
        } catch (err) {
          out.error(err);
        }
      }, { "aria-label": `Decline the invitation to ${i.app_name}` })),
  ]), { "aria-label": "My invitations" }));
}

/** `#/tokens`: the caller's API tokens; create a scoped one; revoke. */
export async function tokensPage() {
  const [list, roles, apps] = await Promise.all([api.get("/v1/tokens"), api.get("/v1/roles"), api.get("/v1/apps?limit=200")]);
  const me = api.session();
  const out = messages();
  const created = h("div", {});
  const owner = roles.items ? roles.items.find((r) => r.role === "owner" || r.name === "owner") : null;
  const permissions = owner ? owner.permissions : [];
  const appNames = new Map(apps.items.map((a) => [a.id, a.name]));
  const rows = list.items.map((t) => [
    t.name + (t.id === me.id ? " (this console)" : ""), when(t.created_at), when(t.expires_at), when(t.last_used_at),
    t.permissions ? t.permissions.join(", ") : "all of your roles'",
    t.apps ? t.apps.map((id) => appNames.get(id) || id).join(", ") : "all apps",
    button("Revoke", async () => {
      try {
        if (t.id === me.id) {
          await api.signOut();
          go("#/signin");
          return;
        }
        await api.del(`/v1/tokens/${t.id}`);
        await tokensPage();
      } catch (err) {
        out.error(err);
      }
    }, { class: "danger", "aria-label": `Revoke ${t.name}` }),
  ]);
  page("API tokens",
    h("h1", {}, "API tokens"),
    out,
    table(null, ["Name", "Created", "Expires", "Last used", "Permissions", "Apps", "Actions"], rows, { "aria-label": "API tokens" }),
    h("h2", {}, "Create a token"),
    h("p", { class: "muted" }, "A token is created with your password, as POST /v1/tokens does; pick permissions and apps to limit it."),
    form({ class: "card", "aria-label": "Create a token" }, [
      field("Token name", { name: "name", required: true, value: "ci" }),
      field("Expires in days", { type: "number", name: "days", min: 1, max: 365, value: 30, required: true }),
      field("Permissions (none selected: no limit)", { tag: "select", name: "permissions", multiple: true, size: 6 }),
      field("Apps (none selected: every app)", { tag: "select", name: "apps", multiple: true, size: 4 }),
      field("Your password", { type: "password", name: "password", autocomplete: "current-password", required: true }),
      field("One-time code (if two-factor authentication is on)", { name: "code", autocomplete: "one-time-code" }),
      h("button", { type: "submit" }, "Create token"),
    ], async (el) => {
      const chosen = (sel) => [...sel.selectedOptions].map((o) => o.value);
      const body = {
        name: el.name.value.trim(),
        expires_at: new Date(Date.now() + Number(el.days.value) * 86400000).toISOString(),
      };
      if (chosen(el.permissions).length) body.permissions = chosen(el.permissions);
      if (chosen(el.apps).length) body.apps = chosen(el.apps);
      const basic = btoa(String.fromCharCode(...new TextEncoder().encode(`${me.email}:${el.password.value}`)));
      const headers = { authorization: `Basic ${basic}` };
      if (el.code.value.trim()) headers["x-rolegate-otp"] = el.code.value.trim();
      try {
        const t = await api.call("POST", "/v1/tokens", { auth: false, headers, body });
        await tokensPage();
        document.querySelector("#main .messages").replaceChildren(
          h("p", { class: "ok", role: "status" }, `Token ${t.name} created. Copy it now: it is shown this once.`),
          h("div", { class: "field" }, h("label", { for: "new-token" }, "New token"), h("input", { id: "new-token", readonly: true, value: t.token, class: "wide" })));
      } catch (err) {
        out.error(err);
      }
    }),
    created);
  const f = document.querySelector("form[aria-label='Create a token']");
  f.permissions.append(...permissions.map((p) => h("option", { value: p }, p)));
  f.apps.append(...apps.items.map((a) => h("option", { value: a.name }, a.name)));
}
