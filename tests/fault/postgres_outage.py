#!/usr/bin/env python3
"""Stops Postgres under load and checks what rolegate promises (docs/testing.md):

- during the outage every request answers 503 with Retry-After within 2.5 s, /readyz
  answers 503 and /healthz 200; nothing hangs;
- once Postgres is back, writes succeed again within 5 s;
- every write acknowledged with a 2xx, before, during or after, is in the database
  afterwards (0 acknowledged writes lost).

Usage: tests/fault/postgres_outage.py [path/to/rolegate]. Needs root (pg_ctlcluster) and
psql. Prints its figures and exits non-zero on any broken promise. Standard library only.
"""

import base64
import glob
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import client  # noqa: E402
import ledger  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/rolegate"
PG = os.environ.get("PG", "postgres://postgres@127.0.0.1:5432")
DB = "rolegate_fault"
PORT = int(os.environ.get("PORT", "18500"))
BASE = f"http://127.0.0.1:{PORT}"
OUTAGE_SECONDS = 6
WRITERS = 4
VERSION = os.path.basename(glob.glob("/etc/postgresql/*")[0])


def pg(action):
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", VERSION, "main", action], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pg_ready():
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


def request(method, path, token=None, body=None, basic=None, timeout=15):
    return client.call(BASE + path, method, token, body, basic, timeout=timeout)


def main():
    failures = []
    subprocess.run(["psql", f"{PG}/postgres", "-qAt", "-c", f"drop database if exists {DB} with (force)",
                    "-c", f"create database {DB}"], check=True)
    env = dict(os.environ, DATABASE_URL=f"{PG}/{DB}", ROLEGATE_LISTEN=f"127.0.0.1:{PORT}", RUST_LOG="warn",
               ROLEGATE_SECRETS_KEY=base64.b64encode(os.urandom(32)).decode(),
               ROLEGATE_JWT_SECRET="fault-test-secret-0123456789-abcdefghij",
               # Every write makes a new variable: thousands in a run, past the default quota.
               ROLEGATE_MAX_VARIABLES_PER_APP="0")
    server = subprocess.Popen([BIN], env=env, stdout=subprocess.DEVNULL, stderr=open("/tmp/rolegate-fault.log", "w"))
    try:
        for _ in range(200):
            if request("GET", "/readyz")[0] == 200:
                break
            time.sleep(0.05)
        request("POST", "/v1/users", body={"email": "fault@example.com", "password": "quiet lanterns drift over copper hills"})
        status, _, body, _ = request("POST", "/v1/tokens", basic="fault@example.com:quiet lanterns drift over copper hills")
        token = json.loads(body)["token"]
        request("POST", "/v1/apps", token, {"name": "fault"})

        load = ledger.WriteLoad(request, token, "fault", WRITERS, pause=0.0, pause_after_error=0.05)
        load.start()
        time.sleep(3)

        stopped_at = time.monotonic()
        pg("stop")
        print(f"postgres stopped after {len(load.acked)} acknowledged writes")
        time.sleep(1)
        ready = request("GET", "/readyz")
        health = request("GET", "/healthz")
        if ready[0] != 503:
            failures.append(f"/readyz answered {ready[0]} during the outage")
        if health[0] != 200:
            failures.append(f"/healthz answered {health[0]} during the outage")
        reads = [request("GET", "/v1/apps/fault", token) for _ in range(5)]
        time.sleep(OUTAGE_SECONDS - 1)

        # Watch for the moment Postgres accepts connections again, from outside rolegate.
        restart_at = time.monotonic()
        ready_at = []

        def watch():
            while not pg_ready():
                time.sleep(0.02)
            ready_at.append(time.monotonic())

        watcher = threading.Thread(target=watch)
        watcher.start()
        pg("start")
        watcher.join()
        back = ready_at[0]
        recovered = None
        while recovered is None and time.monotonic() - back < 15:
            later = [r[0] + r[2] for r in load.answers() if r[0] >= restart_at and 200 <= r[1] < 300]
            if later:
                recovered = max(0.0, min(later) - back)
            time.sleep(0.05)
        time.sleep(2)
        load.stop()
        results = load.results

        # During the outage (after requests in flight at the stop had their answers).
        during = [r for r in results if stopped_at + 0.5 <= r[0] and r[0] + r[2] < restart_at]
        bad = [r for r in during if r[1] != 503 or r[3] is None]
        slow = max((r[2] for r in during), default=0.0)
        if not during:
            failures.append("no request was made during the outage")
        if bad:
            failures.append(f"{len(bad)} requests during the outage were not 503 with Retry-After: {bad[:3]}")
        if slow > 2.5:
            failures.append(f"the slowest answer during the outage took {slow:.2f} s (limit 2.5 s)")
        for status, headers, _, elapsed in reads:
            if status != 503 or elapsed > 2.5:
                failures.append(f"a read during the outage answered {status} in {elapsed:.2f} s")
        if recovered is None or recovered > 5:
            failures.append(f"writes did not succeed again within 5 s of Postgres being back ({recovered})")

        # The ledger: every acknowledged write is there.
        status, lost = load.lost()
        if status != 200:
            failures.append(f"listing the variables answered {status}")
        if lost:
            failures.append(f"{len(lost)} acknowledged writes lost: {lost[:5]}")

        print(f"requests: {len(results)}; during the outage: {len(during)}, all 503: {not bad}, "
              f"slowest {slow:.2f} s; /readyz {ready[0]}, /healthz {health[0]}")
        print(f"writes succeeded again {recovered:.2f} s after Postgres was back" if recovered is not None else "no recovery")
        print(f"acknowledged writes: {len(load.acked)}, found afterwards: {len(load.acked) - len(lost)}, "
              f"lost: {len(lost)}")
    finally:
        if not pg_ready():
            pg("start")
        server.terminate()
        server.wait(timeout=10)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("postgres outage: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
