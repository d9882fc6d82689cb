// The console's entry: the navigation, the hash routes (`#/apps/web-shop`, `#/account`), signing in, up
// and out, and the pages the links of rolegate's mails open.

import * as api from "./api.js";
import { h, field, form, messages, replace, button } from "./dom.js";
import { appsPage, appPage, myInvitationsPage, tokensPage } from "./views.js";
import { reviewPage } from "./review.js";
import { accountPage } from "./account.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const PENDING = "rolegate.console.invitation";

/** Shows `title` and `children` as the page, and moves focus there for keyboards and readers. */
export function page(title, ...children) {
  document.title = `${title} · rolegate`;
  replace(main, ...children);
  main.focus({ preventScroll: true });
}

function navigation() {
  const s = api.session();
  if (!s) {
    replace(nav, h("a", { href: "/#/signin" }, "Sign in"), h("a", { href: "/#/signup" }, "Sign up"));
    return;
  }
  replace(nav,
    h("a", { href: "/#/apps" }, "Apps"),
    h("a", { href: "/#/invitations" }, "My invitations"),
    h("a", { href: "/#/access-review" }, "Access review"),
    h("a", { href: "/#/tokens" }, "API tokens"),
    h("a", { href: "/#/account" }, "Account"),
    h("span", { class: "who" }, s.email),
    button("Sign out", async () => {
      await api.signOut().catch(() => {});
      location.assign("/#/signin");
      route();
    }));
}

/** The sign-in form; `done` runs once signed in. Asks for a one-time code when the API does. */
export function signInForm(done, email = "") {
  const out = messages();
  let code = null;
  const f = form({ class: "card", "aria-label": "Sign in" }, [
    field("Email", { type: "email", name: "email", autocomplete: "username", required: true, value: email }),
    field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true }),
    h("div", { class: "otp" }),
    out,
    h("button", { type: "submit" }, "Sign in"),
  ], async (el) => {
    try {
      await api.signIn(el.email.value.trim(), el.password.value, code && code.value.trim());
      await done();
    } catch (err) {
      if (api.needsCode(err) && !code) {
        const wrap = field("One-time code", { name: "otp", autocomplete: "one-time-code", inputmode: "numeric", required: true },
          "The code of your authenticator app, or a recovery code.");
        code = wrap.querySelector("input");
        el.querySelector(".otp").append(wrap);
        out.error(err);
        code.focus();
        return;
      }
      out.error(err);
    }
  });
  return f;
}

/** The sign-up form: `POST /v1/users`, then signing in with the same password. */
export function signUpForm(done) {
  const out = messages();
  return form({ class: "card", "aria-label": "Sign up" }, [
    field("Email", { type: "email", name: "email", autocomplete: "username", required: true }),
    field("Password", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 8 },
      "A long passphrase: rolegate refuses passwords that are easy to guess."),
    field("Name (optional)", { name: "name", autocomplete: "name" }),
    out,
    h("button", { type: "submit" }, "Sign up"),
  ], async (el) => {
    const body = { email: el.email.value.trim(), password: el.password.value };
    if (el.name.value.trim()) body.name = el.name.value.trim();
    try {
      await api.post("/v1/users", body, { auth: false });
      await api.signIn(body.email, body.password);
      await done();
    } catch (err) {
      out.error(err);
    }
  });
}

function signInPage() {
  page("Sign in",
    h("h1", {}, "Sign in"),
    signInForm(() => go("#/apps")),
    h("p", {}, "No account yet? ", h("a", { href: "/#/signup" }, "Sign up"), "."),
    forgotPassword());
}

function signUpPage() {
  page("Sign up",
    h("h1", {}, "Sign up"),
    signUpForm(() => go("#/apps")),
    h("p", {}, "Already have an account? ", h("a", { href: "/#/signin" }, "Sign in"), "."));
}

function forgotPassword() {
  const out = messages();
  return h("details", {}, h("summary", {}, "Forgot your password?"),
    form({ "aria-label": "Password reset" }, [
      field("Email for the reset link", { type: "email", name: "email", required: true }),
      out,
      h("button", { type: "submit" }, "Mail me a link"),
    ], async (el) => {
      try {
        const answer = await api.post("/v1/users/password-reset", { email: el.email.value.trim() }, { auth: false });
        out.ok(answer.message);
      } catch (err) {
        out.error(err);
      }
    }));
}

/** `/invitations/accept#token=rgi_…`: sign in or up, then accept or decline. */
function invitationLinkPage() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromLink) {
    sessionStorage.setItem(PENDING, fromLink);
    // The secret leaves the address bar (and so the history).
    history.replaceState(null, "", "/invitations/accept");
  }
  const token = sessionStorage.getItem(PENDING);
  if (!token) {
    page("Invitation", h("h1", {}, "Invitation"),
      h("p", { class: "error", role: "alert" }, "This link carries no invitation: open the whole link you were sent."));
    return;
  }
  const out = messages();
  if (!api.session()) {
    const holder = h("div", {});
    const showSignIn = () => replace(holder, signInForm(invitationLinkPage),
      h("p", {}, "New to rolegate? ", button("Create an account instead", showSignUp, { class: "link" })));
    const showSignUp = () => replace(holder, signUpForm(invitationLinkPage),
      h("p", {}, "Already have an account? ", button("Sign in instead", showSignIn, { class: "link" })));
    showSignIn();
    page("Invitation", h("h1", {}, "You are invited to an app"),
      h("p", {}, "Sign in, or create an account with the address the invitation was sent to, to accept it."),
      holder);
    navigation();
    return;
  }
  navigation();
  page("Invitation",
    h("h1", {}, "You are invited to an app"),
    h("p", {}, `Signed in as ${api.session().email}. Accepting adds you to the app with the role the invitation gives.`),
    out,
    h("div", { class: "actions" },
      button("Accept invitation", async () => {
        try {
          const member = await api.post("/v1/invitations/accept", { token });
          sessionStorage.removeItem(PENDING);
          go(`#/apps/${encodeURIComponent(member.app_id)}`);
        } catch (err) {
          out.error(err);
        }
      }, { class: "primary" }),
      button("Decline", async () => {
        try {
          await api.post("/v1/invitations/decline", { token });
          sessionStorage.removeItem(PENDING);
          out.ok("Declined.", " ", h("a", { href: "/#/apps" }, "Back to your apps"));
        } catch (err) {
          out.error(err);
        }
      })));
}

/** `/verify-email#token=rgv_…`. */
async function verifyEmailPage() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  history.replaceState(null, "", "/verify-email");
  const out = messages();
  page("Verify your address", h("h1", {}, "Verify your address"), out, h("p", {}, h("a", { href: "/#/apps" }, "Go to the console")));
  if (!token) return out.error("This link carries no token: open the whole link of the mail.");
  try {
    const answer = await api.post("/v1/users/verify-email", { token }, { auth: false });
    out.ok(`${answer.email} is verified.`);
  } catch (err) {
    out.error(err);
  }
}

/** `/password-reset#token=rgr_…`. */
function passwordResetPage() {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromLink) {
    sessionStorage.setItem("rolegate.console.reset", fromLink);
    history.replaceState(null, "", "/password-reset");
  }
  const token = sessionStorage.getItem("rolegate.console.reset");
  const out = messages();
  page("Set a new password", h("h1", {}, "Set a new password"),
    form({ class: "card", "aria-label": "New password" }, [
      field("New password", { type: "password", name: "password", autocomplete: "new-password", required: true }),
      field("One-time code (if two-factor authentication is on)", { name: "code", autocomplete: "one-time-code" }),
      out,
      h("button", { type: "submit" }, "Set password"),
    ], async (el) => {
      const body = { token: token || "", new_password: el.password.value };
      if (el.code.value.trim()) body.code = el.code.value.trim();
      try {
        await api.post("/v1/users/password-reset/confirm", body, { auth: false });
        sessionStorage.removeItem("rolegate.console.reset");
        out.ok("Your password is set; every earlier token is revoked.", " ", h("a", { href: "/#/signin" }, "Sign in"));
      } catch (err) {
        out.error(err);
      }
    }));
}

/** Goes to a hash route (re-rendering even when it is the current one). */
export function go(hash) {
  if (location.pathname !== "/") {
    location.assign(`/${hash}`);
    return;
  }
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const path = location.pathname;
  if (path === "/invitations/accept") return invitationLinkPage();
  if (path === "/verify-email") return verifyEmailPage();
  if (path === "/password-reset") return passwordResetPage();
  navigation();
  const hash = location.hash.replace(/^#\/?/, "");
  const [head, ...rest] = hash.split("/");
  if (head === "signup") return signUpPage();
  if (!api.session()) return signInPage();
  try {
    switch (head) {
      case "":
      case "apps":
        if (rest.length && rest[0]) return await appPage(decodeURIComponent(rest[0]));
        return await appsPage();
      case "invitations":
        return await myInvitationsPage();
      case "access-review":
        return await reviewPage();
      case "tokens":
        return await tokensPage();
      case "account":
        return await accountPage();
      case "signin":
        return go("#/apps");
      default:
        page("Not found", h("h1", {}, "Not found"), h("p", {}, "The console has no such page. ", h("a", { href: "/#/apps" }, "Your apps")));
    }
  } catch (err) {
    const out = messages();
    page("Error", h("h1", {}, "Something went wrong"), out);
    out.error(err);
  }
}

// The skip link moves focus; following it would change the hash, which is the route.
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", route);
window.addEventListener("rolegate:signed-out", () => {
  navigation();
  if (location.pathname === "/") signInPage();
});
route();
