#!/usr/bin/env python3
"""The web console (issue 15) in a real headless Chromium, against a rolegate binary on a fresh
Postgres database. The walk-through of README, by clicking:

1. an owner signs up, creates an app, sets a variable, and invites a limited collaborator (the
   role the invite form selects by default) and a collaborator, copying each invitation link;
2. the limited collaborator opens the link, signs up there, accepts, and sees the app without
   the member list or its controls and without variable values; they redeploy the default
   branch and see the deployment; an app they are not in reads "app not found";
3. the collaborator accepts through the API and then never uses the app: their membership is
   dated 120 days back in the database (the review's window is 90 days by default), which is
   what a real database holds once that time has passed; the server's clock is not touched;
4. the owner signs in, opens the access review, sees the `stale_member` finding of the unused
   member, previews and applies its remediation (removal, through POST /v1/access-review/apply),
   and downloads the CSV, which no longer lists them;
4b. the owner sets when the limited collaborator's access ends (30 days), then makes it
   permanent again; turns two-factor authentication on in the account page (the secret typed into
   a TOTP computed here, ten recovery codes shown once) and requires it of every member of the app;
5. the limited collaborator, refused the app until then, follows the page's link to the account
   page and turns two-factor authentication on (a wrong code first); signing in again asks for
   the one-time code, and a recovery code gets them in; new recovery codes void the earlier
   ones; then they leave the app;
6. the links rolegate mails open the console: a newcomer signs up, the link of the verification
   mail (caught by an SMTP server the script runs, aiosmtpd) verifies the address, and the
   account page says so; then they ask for a password reset on the sign-in page, the mailed link
   sets a new password, the old one is refused and the new one signs in; the account page then
   changes it again and signs out every other session (another token stops working, the
   console's own does not).

Each step asserts what the page shows. Also: the page's headers (CSP, Referrer-Policy,
X-Frame-Options), the total size of the embedded assets gzipped (under 100 KB), no cookie ever
set, signing out revokes the console's token, and no internal error in the server's log.
Screenshots of each page go to target/browser-screenshots/. Prints the time to the first
render. Cleans up the server, the database and the browser, even on failure.

Usage: tests/browser/console.py [path/to/rolegate] (default target/release/rolegate).
Environment: PG (server URL without database, default postgres://postgres@127.0.0.1:5432),
PORT (default 18900), SCREENSHOTS (directory). Needs Debian's `chromium` and
`chromium-driver`, `pip install selenium==4.50.0 aiosmtpd==1.4.6`, and psql.
"""

import base64
import email
import email.policy
import gzip
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

from aiosmtpd.controller import Controller
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import client  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/rolegate"))
PG = os.environ.get("PG", "postgres://postgres@127.0.0.1:5432")
DB = "rolegate_browser"
PORT = int(os.environ.get("PORT", "18900"))
BASE = f"http://127.0.0.1:{PORT}"
SHOTS = os.path.abspath(os.environ.get("SCREENSHOTS", os.path.join(ROOT, "target/browser-screenshots")))
PASSWORD = "correct horse battery staple"
APP = "web-shop"
OWNER, LIMITED, UNUSED = "ada@example.com", "carol@example.com", "dave@example.com"
NEWCOMER = "erin@example.com"
NEW_PASSWORD = "moss covered teapot under a blue moon"
THIRD_PASSWORD = "seven quiet herons over the harbour"
SECRET_VALUE = "postgres://shop:s3cret-value@db.internal/shop"
WAIT = 10


class Mailbox:
    """What rolegate mails, caught by a real SMTP server (aiosmtpd) on a port of its own."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message.get_body(("plain",)).get_content()))
        return "250 OK"

    def link(self, to, marker, seconds=WAIT):
        """The first link of a mail to `to` that holds `marker`, waiting for the mail."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for rcpt, text in self.messages:
                if to in rcpt:
                    found = re.search(r"\S*" + re.escape(marker) + r"\S*", text)
                    if found:
                        return found.group(0)
            time.sleep(0.1)
        raise AssertionError(f"no mail to {to} with {marker!r}; mails: {self.messages}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, path, token=None, body=None, basic=None):
    status, headers, body, _ = client.call(BASE + path, method, token, body, basic)
    return status, headers, body


def must(expected, answer, what):
    status, _, body = answer
    assert status == expected, f"{what}: {status} {body[:300]!r}"
    return json.loads(body) if body else None


def psql(*sql, database="postgres"):
    args = ["psql", f"{PG}/{database}", "-qAt", "-v", "ON_ERROR_STOP=1"]
    for s in sql:
        args += ["-c", s]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def totp(secret_b32):
    """The current RFC 6238 code of a base32 secret (HMAC-SHA-1, 6 digits, 30 s)."""
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def verify_address(mailbox, email):
    """Proves `email` with the link of its verification mail, as its owner would."""
    token = mailbox.link(email, "/verify-email#token=rgv_").split("#token=", 1)[1]
    answer = must(200, request("POST", "/v1/users/verify-email", body={"token": token}), "verify " + email)
    assert answer["email_verified"] is True, answer


def wait_for_health(seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(BASE + "/readyz", timeout=2):
                return True
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    return False


def check_assets():
    """The page's headers, and every file it loads (modules followed through their imports)."""
    status, headers, html = request("GET", "/")
    assert status == 200, status
    csp = headers.get("content-security-policy", "")
    for part in ("script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert part in csp, (part, csp)
    assert "unsafe-inline" not in csp, csp
    assert headers.get("referrer-policy") == "no-referrer", headers
    assert headers.get("x-frame-options") == "DENY", headers
    assert headers.get("content-type", "").startswith("text/html"), headers
    seen, todo = {"/": html}, re.findall(rb'(?:src|href)="(/console/[^"]+)"', html)
    todo = [t.decode() for t in todo]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        status, headers, body = request("GET", path)
        assert status == 200, (path, status)
        assert headers.get("content-security-policy") == csp, path
        seen[path] = body
        for imported in re.findall(rb'from "\./([^"]+)"', body):
            todo.append("/console/" + imported.decode())
    raw = sum(len(b) for b in seen.values())
    zipped = sum(len(gzip.compress(b, 9)) for b in seen.values())
    print(f"console assets: {len(seen)} files, {raw} bytes, {zipped} bytes gzipped (each file gzipped alone)")
    assert zipped < 100 * 1024, zipped
    assert len(seen) >= 6, sorted(seen)


class Page:
    """The browser, with the few ways the test finds things: by label, by button text, by heading."""

    def __init__(self, driver):
        self.d = driver
        self.n = 0

    def wait(self, condition, what, seconds=WAIT):
        try:
            # The page re-renders parts of itself: an element read mid-change is looked up again.
            return WebDriverWait(self.d, seconds, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            self.shot("failure")
            raise AssertionError(f"timed out waiting for {what}; page says: {self.text()[:1500]}")

    def text(self):
        return self.d.find_element(By.TAG_NAME, "body").text

    def heading(self, text):
        self.wait(EC.presence_of_element_located((By.XPATH, f"//h1[normalize-space()='{text}']")), f"heading {text}")

    def sees(self, text, seconds=WAIT):
        self.wait(lambda d: text in d.find_element(By.TAG_NAME, "body").text, f"text {text!r}", seconds)

    def labelled(self, label, within="//main"):
        el = self.wait(EC.presence_of_element_located((By.XPATH, f"{within}//label[normalize-space()='{label}']")),
                       f"label {label}")
        return self.d.find_element(By.ID, el.get_attribute("for"))

    def fill(self, label, value, within="//main"):
        el = self.labelled(label, within)
        el.clear()
        el.send_keys(value)
        return el

    def button(self, text, within="/"):
        return self.wait(EC.element_to_be_clickable((By.XPATH, f"{within}/button[normalize-space()='{text}']")),
                         f"button {text}")

    def click(self, text, within="/"):
        self.button(text, within).click()

    def link(self, text):
        return self.wait(EC.element_to_be_clickable((By.XPATH, f"//a[normalize-space()='{text}']")), f"link {text}")

    def shot(self, name, top=None):
        """A screenshot of the viewport (1280×800), scrolled to the element `top` selects if any."""
        if top:
            self.d.execute_script("document.querySelector(arguments[0]).scrollIntoView()", top)
        else:
            self.d.execute_script("window.scrollTo(0, 0)")
        self.n += 1
        path = os.path.join(SHOTS, f"{self.n:02d}-{name}.png")
        self.d.save_screenshot(path)
        return path

    def submit(self, button, email, password=PASSWORD):
        """Fills the sign-in or sign-up form's Email and Password, and presses `button`."""
        self.fill("Email", email)
        self.fill("Password", password)
        self.click(button)

    def no_cookie(self):
        assert self.d.get_cookies() == [], self.d.get_cookies()
        assert self.d.execute_script("return document.cookie") == ""


def browser(downloads):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
                "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {
        "download.default_directory": downloads,
        "download.prompt_for_download": False,
    })
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    # The viewport, not the window, is 1280×800: screenshots are that size.
    chrome = driver.execute_script("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]")
    driver.set_window_size(1280 + chrome[0], 800 + chrome[1])
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    return driver


def walk(p, downloads, mailbox):
    d = p.d
    # 1. The owner signs up and creates an app.
    started = time.monotonic()
    d.get(BASE + "/")
    p.labelled("Email")
    p.button("Sign in")
    first_render = time.monotonic() - started
    paint = d.execute_script(
        "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null")
    painted = f" (first contentful paint at {paint:.0f} ms)" if paint is not None else ""
    print(f"first render: sign-in form shown {first_render * 1000:.0f} ms after navigation started{painted}")
    p.shot("sign-in")
    # The keyboard: each page takes the focus when it renders; the skip link, followed with
    # Enter, moves focus to the page without changing the route (the hash).
    assert d.switch_to.active_element.get_attribute("id") == "main"
    url = d.current_url
    d.execute_script("document.querySelector('.skip').focus()")
    d.switch_to.active_element.send_keys(Keys.ENTER)
    assert d.switch_to.active_element.get_attribute("id") == "main"
    assert d.current_url == url, d.current_url
    p.heading("Sign in")
    p.link("Sign up").click()
    p.heading("Sign up")
    p.submit("Sign up", OWNER)
    p.heading("Apps")
    p.sees("You are not a member of any app yet")
    p.no_cookie()
    stored = d.execute_script("return JSON.parse(sessionStorage.getItem('rolegate.console.session'))")
    assert stored and stored["token"].startswith("rg_") and stored["email"] == OWNER, stored
    hours = (time.mktime(time.strptime(stored["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime())) / 3600
    assert 11.5 < hours <= 12.1, stored["expires_at"]
    p.fill("App name", APP)
    p.click("Create app")
    p.heading(APP)
    p.sees("Your role: Owner")
    members = p.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "table.members")), "members table")
    headers = [th.text for th in members.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers[:5] == ["Email", "Role", "2FA", "Last used", "Access expires"], headers
    assert OWNER in members.text and "Owner" in members.text, members.text
    p.sees("No variables.")
    p.fill("Variable name", "DATABASE_URL")
    p.fill("Value", SECRET_VALUE)
    p.click("Set variable")
    p.sees(SECRET_VALUE)

    # The invite form: Email, Role (no Owner; Limited collaborator selected), Send invitation.
    role = Select(p.labelled("Role"))
    assert [o.text for o in role.options] == ["Collaborator", "Limited collaborator"], [o.text for o in role.options]
    assert role.first_selected_option.text == "Limited collaborator"
    links = {}
    for email, role_text in ((LIMITED, None), (UNUSED, "Collaborator")):
        p.fill("Email", email, within="//form[@aria-label='Invite someone']")
        if role_text:
            Select(p.labelled("Role")).select_by_visible_text(role_text)
        p.click("Send invitation")
        p.sees(f"Invitation sent to {email}")
        link = p.labelled("Invitation link").get_attribute("value")
        assert link.startswith(f"{BASE}/invitations/accept#token=rgi_"), link
        links[email] = link
    invitations = d.find_element(By.CSS_SELECTOR, "table.invitations").text
    assert LIMITED in invitations and "Limited collaborator" in invitations and "pending" in invitations, invitations
    assert UNUSED in invitations and "Collaborator" in invitations, invitations
    p.shot("app-owner")

    # Signing out revokes the console's token.
    p.click("Sign out")
    p.heading("Sign in")
    assert d.execute_script("return sessionStorage.getItem('rolegate.console.session')") is None
    status, _, _ = request("GET", "/v1/users/self", token=stored["token"])
    assert status == 401, f"the console's token still works after signing out: {status}"

    # 2. The limited collaborator opens the link, signs up, accepts.
    d.get(links[LIMITED])
    p.heading("You are invited to an app")
    assert "#token=" not in d.current_url, d.current_url
    p.click("Create an account instead")
    p.submit("Sign up", LIMITED)
    p.click("Accept invitation")
    p.heading(APP)
    p.sees("Your role: Limited collaborator")
    p.sees("does not allow collaborators.read")
    assert not d.find_elements(By.CSS_SELECTOR, "table.members"), "a limited collaborator sees the member list"
    assert not d.find_elements(By.XPATH, "//button[normalize-space()='Send invitation']")
    assert not d.find_elements(By.XPATH, "//button[normalize-space()='Remove']")
    p.sees("Values are hidden")
    variables = p.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "table.variables")), "variables table")
    assert "DATABASE_URL" in variables.text, variables.text
    assert SECRET_VALUE not in d.page_source, "a limited collaborator sees a variable's value"
    assert not d.find_elements(By.XPATH, "//button[normalize-space()='Set variable']")
    p.sees("No deployments yet.")
    p.click("Redeploy default branch")
    p.sees("Redeploy of main requested")
    deployments = d.find_element(By.CSS_SELECTOR, "table.deployments").text
    assert "main" in deployments and "redeploy" in deployments and LIMITED in deployments, deployments
    p.shot("app-limited-collaborator", top="h1")
    # A 404 on an app reads the same whether it exists or not.
    d.get(BASE + "/#/apps/no-such-app")
    p.sees("app not found")
    p.link("Apps").click()
    p.heading("Apps")
    p.link(APP)
    assert "Limited collaborator" in d.find_element(By.CSS_SELECTOR, "ul.apps").text
    p.click("Sign out")
    p.heading("Sign in")

    # 3. The other invitee accepts through the API and never uses the app. Their membership
    # is dated back past the review's window, as a real database would hold it by then.
    must(201, request("POST", "/v1/users", body={"email": UNUSED, "password": PASSWORD}), "sign-up")
    dave = must(201, request("POST", "/v1/tokens", basic=f"{UNUSED}:{PASSWORD}"), "token")["token"]
    token = links[UNUSED].split("#token=", 1)[1]
    must(200, request("POST", "/v1/invitations/accept", token=dave, body={"token": token}), "accept")
    psql("update collaborators set created_at = created_at - interval '120 days' "
         f"where user_id = (select id from users where email = '{UNUSED}')", database=DB)

    # 4. The owner signs in (with the keyboard: Enter submits), reviews, remediates, downloads the CSV.
    p.fill("Email", OWNER)
    p.fill("Password", PASSWORD).send_keys(Keys.ENTER)
    p.heading("Apps")
    p.link(APP)
    p.link("Access review").click()
    p.heading("Access review")
    row = p.wait(EC.presence_of_element_located((By.XPATH, f"//tr[@data-email='{UNUSED}']")), "the unused member's row")
    assert "stale_member" in row.text and "has never used web-shop" in row.text, row.text
    limited_row = d.find_element(By.XPATH, f"//tr[@data-email='{LIMITED}']")
    assert "stale_member" not in limited_row.text, limited_row.text
    table_headers = [th.text for th in d.find_elements(By.CSS_SELECTOR, "table.review thead th")][:8]
    assert table_headers == ["App", "Role", "Status", "Last used", "Access expires", "2FA", "Findings", "Remediation"], table_headers
    csv_link = p.link("Download CSV")
    p.wait(lambda _: (csv_link.get_attribute("href") or "").startswith("blob:"), "the CSV to be ready")
    Select(p.labelled("Group by")).select_by_visible_text("App")
    p.wait(EC.presence_of_element_located((By.XPATH, f"//caption[normalize-space()='App {APP}']")), "grouped by app")
    p.shot("access-review")
    p.labelled(f"Remove {UNUSED} from {APP}").click()
    p.click("Review selected changes")
    p.sees("What will change")
    changes = d.find_element(By.CSS_SELECTOR, "ul.changes").text
    assert changes == f"Remove {UNUSED} from {APP}", changes
    p.click("Apply changes")
    p.sees(f"Applied 1 change: Remove {UNUSED} from {APP}.")
    assert not d.find_elements(By.XPATH, f"//tr[@data-email='{UNUSED}']"), "the removed member is still listed"
    csv_link = p.link("Download CSV")
    p.wait(lambda _: (csv_link.get_attribute("href") or "").startswith("blob:"), "the CSV to be ready")
    csv_link.click()
    target = os.path.join(downloads, "access-review.csv")
    p.wait(lambda _: os.path.exists(target) and os.path.getsize(target) > 0, "the CSV download")
    with open(target, encoding="utf-8") as f:
        csv_text = f.read()
    assert csv_text.startswith("app,app_id,collaborator_id"), csv_text[:200]
    assert LIMITED in csv_text and OWNER in csv_text and UNUSED not in csv_text, csv_text
    print(f"downloaded access-review.csv: {len(csv_text.splitlines()) - 1} rows")
    p.shot("access-review-applied")
    # The removal is recorded as the review's.
    must(200, request("GET", "/healthz"), "health")
    p.d.get(BASE + f"/#/apps/{APP}")
    p.heading(APP)
    p.sees("collaborator.removed")
    assert UNUSED not in d.find_element(By.CSS_SELECTOR, "table.members").text
    p.link("API tokens").click()
    p.heading("API tokens")
    p.sees("console (this console)")
    # A scoped token: one permission, one app; shown once; then revoked.
    p.fill("Token name", "ci-redeploy")
    Select(p.labelled("Permissions (none selected: no limit)")).select_by_value("deployments.redeploy_default")
    Select(p.labelled("Apps (none selected: every app)")).select_by_value(APP)
    p.fill("Your password", PASSWORD)
    p.click("Create token")
    p.sees("Token ci-redeploy created")
    scoped = p.labelled("New token").get_attribute("value")
    assert scoped.startswith("rg_"), scoped
    tokens = p.d.find_element(By.CSS_SELECTOR, "table[aria-label='API tokens']").text
    assert "ci-redeploy" in tokens and "deployments.redeploy_default" in tokens and APP in tokens, tokens
    must(202, request("POST", f"/v1/apps/{APP}/deployments/redeploy", token=scoped), "redeploy with the scoped token")
    status, _, body = request("GET", f"/v1/apps/{APP}/variables", token=scoped)
    assert status == 403 and json.loads(body)["required_permission"] == "variables.list_names", (status, body)
    p.shot("tokens")
    p.click("Revoke", within="//tr[td[starts-with(normalize-space(), 'ci-redeploy')]]/td")
    p.wait(lambda d: "ci-redeploy" not in d.find_element(By.CSS_SELECTOR, "table[aria-label='API tokens']").text,
           "the scoped token to be revoked")
    assert request("GET", "/v1/apps", token=scoped)[0] == 401

    # The owner gives the limited collaborator 30 days of access, then makes it permanent again.
    owner_token = d.execute_script("return JSON.parse(sessionStorage.getItem('rolegate.console.session')).token")
    p.link("Apps").click()
    p.link(APP).click()
    p.heading(APP)
    row = f"//table[contains(@class, 'members')]//tr[td[1][normalize-space()='{LIMITED}']]"
    end_form = f"//form[@aria-label='End of access for {LIMITED}']"
    p.wait(EC.element_to_be_clickable((By.XPATH, f"{row}//summary")), "the end-of-access control").click()
    p.fill("Days of access left", "30", within=end_form)
    p.click("Set end of access", within=end_form)
    p.wait(lambda d: "UTC" in d.find_element(By.XPATH, f"{row}/td[5]").text, "the end of access in the member list")
    members = must(200, request("GET", f"/v1/apps/{APP}/collaborators", token=owner_token), "members")["items"]
    ends = [m["access_expires_at"] for m in members if m["email"] == LIMITED]
    days = (time.mktime(time.strptime(ends[0][:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime())) / 86400
    assert 29.9 < days <= 30.01, ends
    p.wait(EC.element_to_be_clickable((By.XPATH, f"{row}//summary")), "the end-of-access control").click()
    p.click("Make permanent", within=end_form)
    p.wait(lambda d: d.find_element(By.XPATH, f"{row}/td[5]").text == "—", "a permanent membership")
    members = must(200, request("GET", f"/v1/apps/{APP}/collaborators", token=owner_token), "members")["items"]
    assert [m["access_expires_at"] for m in members if m["email"] == LIMITED] == [None], members

    # The owner turns two-factor authentication on in the account page, then requires it of
    # every member of the app. Only a proven address may (issue 30): the owner opens the link
    # of the verification mail first.
    verify_address(mailbox, OWNER)
    p.link("Account").click()
    p.heading("Account")
    p.sees("Two-factor authentication is off")
    p.click("Turn on two-factor authentication")
    secret = p.labelled("Secret key").get_attribute("value")
    confirm = "//form[@aria-label='Confirm two-factor authentication']"
    p.fill("Code", totp(secret), within=confirm)
    p.click("Turn on", within=confirm)
    p.sees("Two-factor authentication is on.")
    owner_codes = [li.text for li in d.find_elements(By.CSS_SELECTOR, "ol.recovery-codes li")]
    assert len(owner_codes) == 10 and all(re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", c) for c in owner_codes), owner_codes
    assert must(200, request("GET", "/v1/users/self", token=owner_token), "self")["tfa_enabled"] is True
    p.shot("account-two-factor")
    p.link("Apps").click()
    p.link(APP).click()
    p.heading(APP)
    p.click("Require two-factor authentication")
    p.sees(f"Refused until they turn it on: {LIMITED}.")
    p.button("Stop requiring two-factor authentication")
    assert must(200, request("GET", f"/v1/apps/{APP}", token=owner_token), "app")["require_tfa"] is True
    p.no_cookie()
    p.click("Sign out")
    p.heading("Sign in")

    # 5. The limited collaborator is refused the app until they turn two-factor authentication
    # on, which the page links to; then signing in asks for the one-time code.
    p.submit("Sign in", LIMITED)
    p.heading("Apps")
    p.link(APP).click()
    p.heading(APP)
    p.sees("this app requires two-factor authentication")
    # Accepting the invitation proved nothing about the mailbox: the verification link does.
    verify_address(mailbox, LIMITED)
    p.link("turn it on").click()
    p.heading("Account")
    p.click("Turn on two-factor authentication")
    secret = p.labelled("Secret key").get_attribute("value")
    p.fill("Code", "000000" if totp(secret) != "000000" else "111111", within=confirm)
    p.click("Turn on", within=confirm)
    p.sees("wrong")
    p.fill("Code", totp(secret), within=confirm)
    p.click("Turn on", within=confirm)
    p.sees("Two-factor authentication is on.")
    codes = [li.text for li in d.find_elements(By.CSS_SELECTOR, "ol.recovery-codes li")]
    assert len(codes) == 10 and not set(codes) & set(owner_codes), codes
    p.click("Sign out")
    p.heading("Sign in")
    p.submit("Sign in", LIMITED)
    p.sees("this account has two-factor authentication on")
    p.fill("One-time code", codes[0])
    p.click("Sign in")
    p.heading("Apps")
    # New recovery codes, with a recovery code: the earlier ones stop working.
    p.link("Account").click()
    p.heading("Account")
    p.sees("Two-factor authentication is on")
    renew = "//form[@aria-label='New recovery codes']"
    p.fill("Code", codes[1], within=renew)
    p.click("Make new recovery codes", within=renew)
    p.sees("New recovery codes made")
    fresh = [li.text for li in d.find_elements(By.CSS_SELECTOR, "ol.recovery-codes li")]
    assert len(fresh) == 10 and not set(fresh) & set(codes), fresh
    carol = d.execute_script("return JSON.parse(sessionStorage.getItem('rolegate.console.session')).token")
    status, _, body = request("DELETE", "/v1/users/self/tfa", token=carol, body={"code": codes[2]})
    assert status == 401, f"an earlier recovery code still works: {status} {body}"
    # Leaving: without collaborators.read, the console finds its own membership in the timeline.
    p.link("Apps").click()
    p.heading("Apps")
    p.link(APP).click()
    p.heading(APP)
    p.click("Leave this app")
    p.wait(EC.alert_is_present(), "the confirmation").accept()
    p.heading("Apps")
    p.sees("You are not a member of any app yet")
    p.click("Sign out")
    p.heading("Sign in")

    # 6. The mailed links open the console: the verification link verifies the address...
    p.link("Sign up").click()
    p.heading("Sign up")
    p.submit("Sign up", NEWCOMER)
    p.heading("Apps")
    d.get(mailbox.link(NEWCOMER, "/verify-email#token=rgv_"))
    p.heading("Verify your address")
    p.sees(f"{NEWCOMER} is verified.")
    assert "#token=" not in d.current_url, d.current_url
    p.link("Go to the console").click()
    p.heading("Apps")
    p.link("Account").click()
    p.heading("Account")
    p.wait(lambda d: d.find_element(By.XPATH, "//dt[normalize-space()='Email verified']/following-sibling::dd[1]")
           .text == "yes", "the address verified on the account page")
    p.click("Sign out")
    p.heading("Sign in")
    # ... and the reset link sets a new password.
    d.find_element(By.XPATH, "//summary[normalize-space()='Forgot your password?']").click()
    p.fill("Email for the reset link", NEWCOMER)
    p.click("Mail me a link")
    p.sees("a link to set a new password is on its way")
    d.get(mailbox.link(NEWCOMER, "/password-reset#token=rgr_"))
    p.heading("Set a new password")
    assert "#token=" not in d.current_url, d.current_url
    p.fill("New password", NEW_PASSWORD)
    p.click("Set password")
    p.sees("Your password is set")
    d.get(BASE + "/#/signin")
    p.heading("Sign in")
    p.submit("Sign in", NEWCOMER)
    p.sees("wrong email or password")
    p.fill("Password", NEW_PASSWORD)
    p.click("Sign in")
    p.heading("Apps")
    # The account page changes it again and signs out every other session, the console's kept.
    other = must(201, request("POST", "/v1/tokens", basic=f"{NEWCOMER}:{NEW_PASSWORD}"), "token")["token"]
    p.link("Account").click()
    p.heading("Account")
    change = "//form[@aria-label='Change password']"
    p.fill("Current password", NEW_PASSWORD, within=change)
    p.fill("New password", THIRD_PASSWORD, within=change)
    d.find_element(By.XPATH, f"{change}//input[@name='revoke']").click()
    p.click("Change password", within=change)
    p.sees("Your password is changed, and every other session is signed out.")
    assert request("GET", "/v1/users/self", token=other)[0] == 401, "the other token still works"
    p.link("Apps").click()
    p.heading("Apps")
    p.click("Sign out")
    p.heading("Sign in")
    p.submit("Sign in", NEWCOMER, THIRD_PASSWORD)
    p.heading("Apps")
    p.no_cookie()


def main():
    if not os.path.exists(BIN):
        print(f"{BIN} does not exist: build it first (cargo build --release)", file=sys.stderr)
        return 1
    for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(tool):
            print(f"{tool} is missing (Debian: apt-get install chromium chromium-driver)", file=sys.stderr)
            return 1
    os.makedirs(SHOTS, exist_ok=True)
    for old in os.listdir(SHOTS):
        if old.endswith(".png"):
            os.remove(os.path.join(SHOTS, old))
    work = tempfile.mkdtemp(prefix="rolegate-browser-")
    downloads = os.path.join(work, "downloads")
    os.makedirs(downloads)
    psql(f"drop database if exists {DB} with (force)", f"create database {DB}")
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"{PG}/{DB}",
        "ROLEGATE_LISTEN": f"127.0.0.1:{PORT}",
        "ROLEGATE_JWT_SECRET": "browser-test-secret-of-enough-length-0123",
        "ROLEGATE_SECRETS_KEY": base64.b64encode(b"browser-test-secrets-key-32bytes").decode(),
        "RUST_LOG": "warn",
    })
    for var in ("ROLEGATE_SMTP_URL", "ROLEGATE_PUBLIC_URL", "ROLEGATE_STALE_AFTER_DAYS"):
        env.pop(var, None)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env.update({
        "ROLEGATE_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "ROLEGATE_MAIL_FROM": "rolegate <rolegate@example.com>",
        "ROLEGATE_DISPATCH_INTERVAL_MS": "100",
    })
    log_path = os.path.join(work, "server.log")
    log = open(log_path, "w")
    server = subprocess.Popen([BIN], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    driver = None
    ok = False
    try:
        if not wait_for_health():
            print("rolegate did not start:\n" + open(log_path).read(), file=sys.stderr)
            return 1
        check_assets()
        driver = browser(downloads)
        page = Page(driver)
        walk(page, downloads, mailbox)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "Content Security Policy" in e["message"]]
        assert not errors, f"CSP violations: {errors}"
        internal = [line for line in open(log_path) if "internal error" in line or "panicked" in line]
        assert not internal, f"the server logged internal errors: {internal}"
        ok = True
    except Exception as err:  # noqa: BLE001 - reported, then everything is cleaned up
        traceback.print_exc()
        print(f"FAIL: {err}", file=sys.stderr)
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception as err:  # noqa: BLE001 - cleaning up whatever happened
                print(f"closing the browser: {err}", file=sys.stderr)
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        smtp.stop()
        try:
            psql(f"drop database if exists {DB} with (force)")
        except subprocess.CalledProcessError as err:
            print(f"dropping {DB}: {err.stderr}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    shots = sorted(f for f in os.listdir(SHOTS) if f.endswith(".png"))
    print(f"screenshots in {SHOTS}: {', '.join(shots)}")
    print("browser walk-through: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
