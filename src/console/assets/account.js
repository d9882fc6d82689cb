// `#/account`: the signed-in person's account: their address and whether it is verified, their
// password, and two-factor authentication (turn on with an authenticator app, new recovery
// codes, turn off), through the same routes as curl (`/v1/users/self…`).

import * as api from "./api.js";
import { h, field, form, messages, replace, button } from "./dom.js";
import { page } from "./app.js";

/** The recovery codes, shown this once. */
function recoveryCodes(codes) {
  return h("div", { class: "card recovery" },
    h("p", {}, h("strong", {}, "Recovery codes"), " — shown this once. Keep them somewhere safe: each signs you in once " +
      "when your authenticator app is not at hand."),
    h("ol", { class: "recovery-codes", "aria-label": "Recovery codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))));
}

/** A form asking for a code (of the authenticator app, or a recovery code) before `action`. */
function withCode(label, submit, action, hint) {
  const out = messages();
  return form({ class: "card inline", "aria-label": label }, [
    field("Code", { name: "code", autocomplete: "one-time-code", required: true }, hint),
    h("button", { type: "submit" }, submit),
    out,
  ], async (el) => {
    try {
      await action(el.code.value.trim());
    } catch (err) {
      out.error(err);
    }
  });
}

/** Turning two-factor authentication on: a secret for the authenticator app, then its code. */
function enrolment(holder, refresh) {
  const out = messages();
  return [
    h("p", {}, "Two-factor authentication is ", h("strong", { class: "tfa-state" }, "off"),
      ". With it on, signing in asks for a code of an authenticator app as well as your password, and apps that " +
      "require it let you in."),
    out,
    h("div", { class: "actions" }, button("Turn on two-factor authentication", async () => {
      try {
        const started = await api.post("/v1/users/self/tfa");
        replace(holder,
          h("p", {}, "Add this key to your authenticator app (or open the link on a device that has one), then type the " +
            "6-digit code it shows."),
          h("div", { class: "field" }, h("label", { for: "tfa-secret" }, "Secret key"),
            h("input", { id: "tfa-secret", readonly: true, value: started.secret, class: "wide" })),
          h("p", {}, h("a", { href: started.uri }, "Open in an authenticator app")),
          withCode("Confirm two-factor authentication", "Turn on", async (code) => {
            const answer = await api.post("/v1/users/self/tfa/confirm", { code });
            await refresh();
            holder.prepend(h("p", { class: "ok", role: "status" }, "Two-factor authentication is on."),
              recoveryCodes(answer.recovery_codes));
          }, "The 6-digit code of your authenticator app."));
        holder.querySelector("input[name=code]").focus();
      } catch (err) {
        out.error(err);
      }
    }, { class: "primary" })),
  ];
}

/** With two-factor authentication on: new recovery codes, or turning it off. */
function enrolled(holder, refresh) {
  const hint = "A code of your authenticator app, or a recovery code.";
  return [
    h("p", {}, "Two-factor authentication is ", h("strong", { class: "tfa-state" }, "on"), "."),
    h("h3", {}, "New recovery codes"),
    h("p", { class: "muted" }, "Ten new codes; the earlier ones stop working."),
    withCode("New recovery codes", "Make new recovery codes", async (code) => {
      const answer = await api.post("/v1/users/self/tfa/recovery-codes", { code });
      await refresh();
      holder.prepend(h("p", { class: "ok", role: "status" }, "New recovery codes made; the earlier ones no longer work."),
        recoveryCodes(answer.recovery_codes));
    }, hint),
    h("h3", {}, "Turn off"),
    h("p", { class: "muted" }, "Apps that require two-factor authentication refuse you from then on."),
    withCode("Turn off two-factor authentication", "Turn off", async (code) => {
      await api.call("DELETE", "/v1/users/self/tfa", { body: { code } });
      await refresh();
      holder.prepend(h("p", { class: "ok", role: "status" }, "Two-factor authentication is off."));
    }, hint),
  ];
}

/** Changing the password with the current one; optionally signing out every other session
 * (`revoke_tokens`: the console's own token is kept). */
function passwordForm() {
  const out = messages();
  return form({ class: "card", "aria-label": "Change password" }, [
    field("Current password", { type: "password", name: "current", autocomplete: "current-password", required: true }),
    field("New password", { type: "password", name: "next", autocomplete: "new-password", required: true, minlength: 12 },
      "At least 12 characters, hard to guess, without your address."),
    h("div", { class: "field check" },
      h("label", {}, h("input", { type: "checkbox", name: "revoke" }), " Sign out everywhere else (every other token stops working)")),
    out,
    h("button", { type: "submit" }, "Change password"),
  ], async (el) => {
    try {
      const answer = await api.put("/v1/users/self/password", {
        current_password: el.current.value,
        new_password: el.next.value,
        revoke_tokens: el.revoke.checked,
      });
      el.reset();
      out.ok(answer.revoked_tokens
        ? "Your password is changed, and every other session is signed out."
        : "Your password is changed.");
    } catch (err) {
      out.error(err);
    }
  });
}

/** `#/account`. */
export async function accountPage() {
  const me = await api.get("/v1/users/self");
  const out = messages();
  const tfa = h("section", { "aria-labelledby": "s-tfa" }, h("h2", { id: "s-tfa" }, "Two-factor authentication"));
  const holder = h("div", { class: "section-body" });
  tfa.append(holder);
  const show = (user) => replace(holder, ...(user.tfa_enabled ? enrolled(holder, refresh) : enrolment(holder, refresh)));
  const refresh = async () => show(await api.get("/v1/users/self"));
  show(me);
  const verified = me.email_verified
    ? "yes"
    : h("span", {}, "not yet ", button("Mail me a new link", async () => {
      try {
        const answer = await api.post("/v1/users/self/verify-email/resend");
        out.ok(answer && answer.message ? answer.message : "A new link is on its way.");
      } catch (err) {
        out.error(err);
      }
    }, { class: "link" }));
  page("Account",
    h("h1", {}, "Account"),
    h("dl", { class: "facts" },
      h("dt", {}, "Email"), h("dd", {}, me.email),
      h("dt", {}, "Email verified"), h("dd", {}, verified),
      h("dt", {}, "Name"), h("dd", {}, me.name || "—")),
    out,
    tfa,
    h("section", { "aria-labelledby": "s-password" }, h("h2", { id: "s-password" }, "Password"), passwordForm()));
}
