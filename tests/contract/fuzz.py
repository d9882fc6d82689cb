#!/usr/bin/env python3
"""Fuzzes the running server against its own OpenAPI document with schemathesis.

Starts the given rolegate binary on a fresh Postgres database, makes an app with an owner, a
collaborator and a limited collaborator (each with an API token), then runs schemathesis
once per caller against GET /v1/openapi.json:

- each role's token on every /v1 operation, with `{app}` bound to the app's id;
- HTTP Basic (email:password) on the token routes;
- the platform token on the /internal operations;
- finally the owner's token on DELETE /v1/apps/{app}, which ends the app.

Checks: no 5xx (not_a_server_error), every response's body matches its schema
(response_schema_conformance), its status is documented (status_code_conformance), its
content type is the documented one (content_type_conformance) and its documented headers
are there (response_headers_conformance). Exits non-zero on any failure and prints a
summary line per run.

Usage: tests/contract/fuzz.py [path/to/rolegate] (default target/release/rolegate).
Environment: PG (server URL without database, default postgres://postgres@127.0.0.1:5432),
PORT (default 18600), EXAMPLES (max examples per operation, default 100).
Needs `pip install schemathesis` and psql.
"""

import base64
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import client  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/rolegate"
PG = os.environ.get("PG", "postgres://postgres@127.0.0.1:5432")
DB = "rolegate_contract"
PORT = int(os.environ.get("PORT", "18600"))
BASE = f"http://127.0.0.1:{PORT}"
EXAMPLES = os.environ.get("EXAMPLES", "100")
PLATFORM_TOKEN = "contract-platform-token-0123456789abcdef"
PASSWORD = "correct horse battery staple"
CHECKS = ",".join([
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
])


def request(method, path, token=None, body=None, basic=None):
    status, _, raw, _ = client.call(BASE + path, method, token, body, basic)
    return status, json.loads(raw) if raw and status else None


def must(expected, result, what):
    status, body = result
    if status != expected:
        sys.exit(f"set-up failed: {what} answered {status}: {body}")
    return body


def user(email):
    must(201, request("POST", "/v1/users", body={"email": email, "password": PASSWORD}), f"sign-up {email}")
    created = must(201, request("POST", "/v1/tokens", basic=f"{email}:{PASSWORD}", body={"name": "fuzz"}),
                   f"token for {email}")
    return created["token"]


def fixtures():
    owner = user("owner@contract.test")
    collaborator = user("collaborator@contract.test")
    limited = user("limited@contract.test")
    app = must(201, request("POST", "/v1/apps", owner, {"name": "contract"}), "create app")
    for token, email, role in [(collaborator, "collaborator@contract.test", "collaborator"),
                               (limited, "limited@contract.test", "limited_collaborator")]:
        invitation = must(201, request("POST", "/v1/apps/contract/invitations", owner,
                                       {"email": email, "role": role}), f"invite {email}")
        must(200, request("POST", "/v1/invitations/accept", token, {"token": invitation["token"]}),
             f"accept as {email}")
    # Something under the app for the list and read routes to show.
    must(200, request("PUT", "/v1/apps/contract/variables/DATABASE_URL", owner, {"value": "postgres://x"}),
         "set a variable")
    must(202, request("POST", "/v1/apps/contract/deployments", owner, {"git_ref": "main"}), "deploy")
    return app["id"], {"owner": owner, "collaborator": collaborator, "limited_collaborator": limited}


def schemathesis(name, auth, extra, app_id):
    config = f"/tmp/rolegate-contract-{name}.toml"
    with open(config, "w") as f:
        f.write(f'[parameters]\n"path.app" = "{app_id}"\n')
    # One worker: with several threads, hypothesis's ast.parse trips CPython 3.11.7's
    # "AST constructor recursion depth mismatch" (a race fixed in later CPythons).
    cmd = ["schemathesis", "--config-file", config, "run", f"{BASE}/v1/openapi.json",
           "--checks", CHECKS, "--max-examples", EXAMPLES, "--workers", "1", "--seed", "1",
           "--generation-database", "none", "--no-color", "--suppress-health-check", "all",
           "--warnings", "off", "--request-timeout", "10", *auth, *extra]
    started = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    out = run.stdout + run.stderr
    tail = out[out.rfind("SUMMARY"):].splitlines()
    summary = [line.strip() for line in tail if re.search(r"(Tested|generated|failure|passed)", line)]
    print(f"== {name}: exit {run.returncode} in {elapsed:.0f} s")
    for line in summary:
        print(f"   {line}")
    if run.returncode != 0:
        saved = f"/tmp/rolegate-contract-{name}.out"
        with open(saved, "w") as f:
            f.write(out)
        failures = out[out.find("FAILURES") if "FAILURES" in out else out.find("ERRORS"):]
        print(failures[:20000])
        print(f"   (the whole output is in {saved})")
    return run.returncode == 0


def main():
    subprocess.run(["psql", f"{PG}/postgres", "-qAt", "-c", f"drop database if exists {DB} with (force)",
                    "-c", f"create database {DB}"], check=True)
    env = dict(os.environ, DATABASE_URL=f"{PG}/{DB}", ROLEGATE_LISTEN=f"127.0.0.1:{PORT}", RUST_LOG="warn",
               ROLEGATE_SECRETS_KEY=base64.b64encode(os.urandom(32)).decode(),
               ROLEGATE_JWT_SECRET="contract-test-secret-0123456789-abcdefghij",
               ROLEGATE_PLATFORM_TOKEN=PLATFORM_TOKEN)
    log = open("/tmp/rolegate-contract.log", "w")
    server = subprocess.Popen([BIN], env=env, stdout=subprocess.DEVNULL, stderr=log)
    ok = True
    try:
        for _ in range(200):
            try:
                if request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        app_id, tokens = fixtures()
        runs = [
            (role, ["-H", f"Authorization: Bearer {tokens[role]}"],
             # Basic-auth routes get their own run; the owner deletes the app, and revokes every
            # token of the account, only at the end.
             ["--exclude-path-regex", "^/internal/", "--exclude-operation-id", "tokens.create",
              "--exclude-operation-id", "tokens.exchange", "--exclude-operation-id", "apps.destroy",
              "--exclude-operation-id", "tokens.revoke_all"])
            for role in ["limited_collaborator", "collaborator", "owner"]
        ]
        runs += [
            ("basic-password", ["-a", f"owner@contract.test:{PASSWORD}"], ["--include-operation-id", "tokens.create"]),
            ("basic-token", ["-H", "Authorization: Basic " + base64.b64encode(f":{tokens['limited_collaborator']}".encode()).decode()],
             ["--include-operation-id", "tokens.exchange"]),
            ("platform", ["-H", f"Authorization: Bearer {PLATFORM_TOKEN}"], ["--include-path-regex", "^/internal/"]),
            ("owner-delete", ["-H", f"Authorization: Bearer {tokens['owner']}"],
             ["--include-operation-id", "apps.destroy", "--include-operation-id", "tokens.revoke_all"]),
        ]
        for name, auth, extra in runs:
            ok &= schemathesis(name, auth, extra, app_id)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if server.returncode not in (0, -15):
        print(f"the server exited with {server.returncode}")
        ok = False
    log.close()
    panics = [line for line in open("/tmp/rolegate-contract.log") if "panicked" in line or "internal error" in line]
    if panics:
        print("server log:\n  " + "\n  ".join(panics[:10]))
        ok = False
    if not ok:
        print("contract fuzzing: FAILED")
        sys.exit(1)
    print("contract fuzzing: all runs passed")


if __name__ == "__main__":
    main()
