#!/usr/bin/env python3
"""A real Prometheus scrapes a running rolegate (issue 17, docs/operations.md):

- rolegate serves /metrics on its own listener (ROLEGATE_METRICS_LISTEN), not on the API's;
- `promtool check metrics` accepts the exposition;
- Prometheus (Debian's `prometheus` package) scrapes it every second, and queries through
  its HTTP API return `up == 1`, the request counter of the requests made here, and the
  authorization decision counter of a refusal;
- `promtool check rules` accepts the alert rules in docs/rolegate-alerts.yml.

Usage: tests/metrics/prometheus_scrape.py [path/to/rolegate]. Runs rolegate on SQLite in a
temporary directory. Prints its figures and exits non-zero on any broken promise. Standard
library only; needs `prometheus` and `promtool` on PATH.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import client  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/rolegate")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
API_PORT = int(os.environ.get("PORT", "18700"))
METRICS_PORT = API_PORT + 1
PROMETHEUS_PORT = API_PORT + 2
API = f"http://127.0.0.1:{API_PORT}"
PASSWORD = "correct horse battery staple"


def request(method, url, token=None, body=None, basic=None):
    status, _, body, _ = client.call(url, method, token, body, basic, timeout=30)
    return status, body


def wait_for(url, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    return False


def query(expr):
    url = f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as resp:
        answer = json.load(resp)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def main():
    failures = []
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (Debian: apt-get install prometheus)", file=sys.stderr)
            return 1
    work = tempfile.mkdtemp(prefix="rolegate-prometheus-")
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"sqlite://{work}/rolegate.db",
        "ROLEGATE_LISTEN": f"127.0.0.1:{API_PORT}",
        "ROLEGATE_METRICS_LISTEN": f"127.0.0.1:{METRICS_PORT}",
        "ROLEGATE_JWT_SECRET": "prometheus-scrape-test-secret-of-enough-length",
        "RUST_LOG": "error",
    })
    env.pop("ROLEGATE_SMTP_URL", None)
    server = subprocess.Popen([BIN], env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prometheus = None
    try:
        if not wait_for(f"{API}/healthz"):
            print("rolegate did not start", file=sys.stderr)
            return 1

        # Known traffic: two users, an app, a limited collaborator refused a write.
        tokens = {}
        for who in ("owner", "limited"):
            status, body = request("POST", f"{API}/v1/users", body={"email": f"{who}@example.com", "password": PASSWORD})
            assert status == 201, (status, body)
            status, body = request("POST", f"{API}/v1/tokens", basic=f"{who}@example.com:{PASSWORD}")
            assert status == 201, (status, body)
            tokens[who] = json.loads(body)["token"]
        status, body = request("POST", f"{API}/v1/apps", token=tokens["owner"], body={"name": "scraped"})
        assert status == 201, (status, body)

        # The API's port does not serve the metrics.
        status, _ = request("GET", f"{API}/metrics")
        if status != 404:
            failures.append(f"GET /metrics on the API port answered {status}, not 404")

        # promtool accepts the exposition.
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10) as resp:
            exposition = resp.read()
        checked = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True)
        # promtool exits 1 on lint warnings too (such as a counter without `_total` in a
        # histogram's name); only a parse error fails here.
        if b"error while linting" in checked.stderr or b"text format parsing error" in checked.stderr:
            failures.append(f"promtool check metrics: {checked.stderr.decode()}")
        print(f"promtool check metrics: {checked.stderr.decode().strip() or 'no findings'}")
        rules = subprocess.run(["promtool", "check", "rules", os.path.join(ROOT, "docs/rolegate-alerts.yml")],
                               capture_output=True)
        if rules.returncode != 0:
            failures.append(f"promtool check rules: {rules.stdout.decode()} {rules.stderr.decode()}")

        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n"
                "scrape_configs:\n  - job_name: rolegate\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{METRICS_PORT}']\n"
            )
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={work}/tsdb",
             f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready", 60):
            print("prometheus did not start", file=sys.stderr)
            return 1

        # A refusal to find through Prometheus: an app the caller is not a member of.
        request("GET", f"{API}/v1/apps/not-theirs", token=tokens["limited"])

        started = time.monotonic()
        found = {}
        wanted = {
            "up": 'up{job="rolegate"} == 1',
            "requests": 'sum(rolegate_http_requests_total{route="/v1/apps",method="POST",status="201"})',
            "refusal": 'sum(rolegate_authz_decisions_total{permission="app.read",outcome="not_member"})',
            "process": 'process_resident_memory_bytes{job="rolegate"}',
        }
        while time.monotonic() - started < 60 and len(found) < len(wanted):
            for name, expr in wanted.items():
                if name not in found:
                    result = query(expr)
                    if result:
                        found[name] = result[0]["value"][1]
            time.sleep(0.5)
        for name, expr in wanted.items():
            if name not in found:
                failures.append(f"Prometheus never returned {expr}")
        if found.get("requests") not in (None, "1"):
            failures.append(f"POST /v1/apps 201 counted {found.get('requests')}, not 1")
        print(f"Prometheus answered after {time.monotonic() - started:.1f}s: {found}")
    finally:
        for process in (prometheus, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(work, ignore_errors=True)

    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
