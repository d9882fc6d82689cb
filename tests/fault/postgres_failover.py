#!/usr/bin/env python3
"""A planned failover and failback of a real pg_auto_failover cluster under a write load,
with rolegate on the multi-host URL the monitor gives (docs/operations.md, High
availability).

It builds a monitor and two Postgres nodes with synchronous replication on local ports, as an
unprivileged system user (pg_autoctl refuses root), installing pg_auto_failover from Debian
when it is missing; starts the release build with
`postgres://…@127.0.0.1:p1,127.0.0.1:p2/rolegate?target_session_attrs=read-write`; runs a
bounded write load (about 50 writes per second) with a ledger of every acknowledged write;
runs `pg_autoctl perform failover` twice (failover, then failback); and checks:

- no answer is a 500 (a switch is 503 with Retry-After, or nothing at all);
- each switch's error window (first to last failed request) is at most 5 s, unless Postgres
  itself refused writes longer than that (probed directly with psql, not through rolegate);
- no write fails that rolegate began more than 1 s after Postgres took writes again;
- rolegate recovers by itself (the same process answers writes after each switch);
- every acknowledged write is stored afterwards (0 lost).

It prints the figures: seconds with errors, the status codes seen, /readyz during each
switch, and acknowledged writes lost. Everything it starts is stopped and removed, whatever
happens. Usage: tests/fault/postgres_failover.py [path/to/rolegate]. Standard library only.
"""

import base64
import collections
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import client  # noqa: E402
import ledger  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/rolegate"
PORT = int(os.environ.get("PORT", "18510"))
BASE = f"http://127.0.0.1:{PORT}"
PG_PORTS = [int(p) for p in os.environ.get("HA_PORTS", "6400,6401,6402").split(",")]
HA_USER = os.environ.get("HA_USER", "rolegate_ha")
WRITERS = 4
WRITE_PAUSE = 0.07  # per writer: about 50 writes per second in all
WINDOW_LIMIT = 5.0
# A write begun this long after Postgres takes writes again must not fail (the failover
# watcher looks every 200 ms while no host fits; the probes are 0.1 s apart).
BEHIND_LIMIT = 1.0
DB = "rolegate"


def log(message):
    print(message, flush=True)


# ---- the cluster -----------------------------------------------------------------------------

def pg_bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not dirs:
        raise SystemExit("no PostgreSQL server binaries under /usr/lib/postgresql")
    return os.path.dirname(dirs[-1])


def ensure_installed():
    version = os.path.basename(os.path.dirname(pg_bindir()))
    if shutil.which("pg_autoctl") and glob.glob(f"/usr/share/postgresql/{version}/extension/pgautofailover.control"):
        return
    if os.geteuid() != 0:
        raise SystemExit("pg_auto_failover is not installed and this is not root: "
                         f"apt-get install postgresql-{version}-auto-failover pg-auto-failover-cli")
    log(f"== installing pg_auto_failover (postgresql-{version}-auto-failover) from Debian")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", f"postgresql-{version}-auto-failover", "pg-auto-failover-cli"],
                   check=True, env=env, stdout=subprocess.DEVNULL)


class Cluster:
    """A monitor and two nodes run by pg_autoctl as `user` under `root`."""

    def __init__(self):
        self.root_user = os.geteuid() == 0
        if self.root_user:
            try:
                pwd.getpwnam(HA_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--create-home", "--home-dir", f"/var/lib/{HA_USER}",
                                "--shell", "/bin/bash", HA_USER], check=True)
            # Debian's Postgres puts its sockets in /var/run/postgresql, writable by the group.
            subprocess.run(["usermod", "-a", "-G", "postgres", HA_USER], check=True)
            self.user = HA_USER
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.dir = tempfile.mkdtemp(prefix="rolegate-ha-")
        os.chmod(self.dir, 0o755)
        if self.root_user:
            shutil.chown(self.dir, HA_USER)
        self.env = {
            "PATH": f"{pg_bindir()}:/usr/bin:/bin",
            "HOME": self.dir,
            "XDG_CONFIG_HOME": f"{self.dir}/config",
            "XDG_DATA_HOME": f"{self.dir}/data",
            "LANG": "C.UTF-8",
        }
        self.monitor = f"{self.dir}/monitor"
        self.nodes = [f"{self.dir}/node1", f"{self.dir}/node2"]
        self.processes = []

    def command(self, args, **kwargs):
        """`args` as the cluster's user, in its environment."""
        user = pwd.getpwnam(self.user)

        def demote():
            os.setsid()
            if self.root_user:
                os.setgroups(os.getgrouplist(self.user, user.pw_gid))
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)

        return subprocess.Popen(args, env=self.env, cwd=self.dir, preexec_fn=demote, **kwargs)

    def run(self, args, timeout=120):
        proc = self.command(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:3])} failed ({proc.returncode}):\n{out[-3000:]}")
        return out

    def service(self, args, name):
        logfile = open(f"{self.dir}/{name}.log", "w")
        self.processes.append(self.command(args, stdout=logfile, stderr=subprocess.STDOUT))

    def state(self):
        out = self.run(["pg_autoctl", "show", "state", "--pgdata", self.monitor, "--json"])
        return {n["nodename"]: n for n in json.loads(out)}

    def wait_for(self, wanted, timeout=180, nudge=None):
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            try:
                nodes = self.state()
                seen = {name: (node["current_group_state"], node["assigned_group_state"]) for name, node in nodes.items()}
                if all(seen.get(n) == (s, s) for n, s in wanted.items()):
                    return
            except (RuntimeError, ValueError):
                pass
            if nudge:
                nudge()
            time.sleep(0.5)
        raise RuntimeError(f"the cluster did not reach {wanted} in {timeout} s (last seen: {seen})")

    def checkpoint(self, port):
        # pg_basebackup waits for a spread checkpoint; an explicit one ends that wait.
        subprocess.run(["psql", f"postgres://{self.user}@127.0.0.1:{port}/postgres?sslmode=disable", "-qAtc",
                        "checkpoint"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self):
        monitor_port, p1, p2 = PG_PORTS
        self.run(["pg_autoctl", "create", "monitor", "--pgdata", self.monitor, "--pgport", str(monitor_port),
                  "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl"])
        self.service(["pg_autoctl", "run", "--pgdata", self.monitor], "monitor")
        monitor_uri = f"postgres://autoctl_node@127.0.0.1:{monitor_port}/pg_auto_failover?sslmode=disable"
        deadline = time.monotonic() + 60
        while True:
            try:
                self.state()
                break
            except (RuntimeError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        for index, (pgdata, port) in enumerate(zip(self.nodes, [p1, p2])):
            name = f"node{index + 1}"
            self.service(["pg_autoctl", "create", "postgres", "--pgdata", pgdata, "--pgport", str(port),
                          "--hostname", "127.0.0.1", "--name", name, "--auth", "trust", "--no-ssl",
                          "--monitor", monitor_uri, "--dbname", DB, "--run"], name)
            if index == 0:
                self.wait_for({"node1": "single"})
        self.wait_for({"node1": "primary", "node2": "secondary"}, nudge=lambda: self.checkpoint(p1))
        uri = self.run(["pg_autoctl", "show", "uri", "--pgdata", self.monitor, "--formation", "default"]).strip()
        # The monitor gives postgres://h1:p1,h2:p2/db?target_session_attrs=read-write&sslmode=…
        uri = uri.replace("postgres://", f"postgres://{self.user}@", 1).replace("sslmode=prefer", "sslmode=disable")
        sync = subprocess.run(["psql", f"postgres://{self.user}@127.0.0.1:{p1}/{DB}?sslmode=disable", "-qAtc",
                               "select setting from pg_settings where name = 'synchronous_standby_names'"],
                              capture_output=True, text=True).stdout.strip()
        return uri, sync

    def writable(self, uri):
        """Whether the cluster takes a write right now, asked straight of Postgres (not through
        rolegate): a transaction that takes a transaction id on the multi-host URI, so it is
        refused by a standby and waits for the synchronous standby when it commits."""
        try:
            return subprocess.run(["psql", f"{uri}&connect_timeout=2", "-qAtc", "select txid_current()"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def failover(self):
        self.run(["pg_autoctl", "perform", "failover", "--pgdata", self.monitor], timeout=120)

    def primary(self):
        return next(name for name, node in self.state().items() if node["current_group_state"] == "primary")

    def stop(self):
        for pgdata in self.nodes + [self.monitor]:
            if os.path.exists(f"{pgdata}/PG_VERSION"):
                try:
                    self.run(["pg_autoctl", "stop", "--pgdata", pgdata, "--immediate"], timeout=30)
                except (RuntimeError, subprocess.TimeoutExpired):
                    pass
        for proc in self.processes:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # Any postgres left behind by a service killed mid-way.
        for pgdata in self.nodes + [self.monitor]:
            pid_file = f"{pgdata}/postmaster.pid"
            if os.path.exists(pid_file):
                try:
                    os.kill(int(open(pid_file).readline()), signal.SIGQUIT)
                except (ValueError, ProcessLookupError, PermissionError):
                    pass
        time.sleep(0.5)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- rolegate and the load ---------------------------------------------------------------------

def request(method, path, token=None, body=None, basic=None, timeout=15):
    return client.call(BASE + path, method, token, body, basic, timeout=timeout)


def switch_figures(name, switch, until, results, readyz, probes, failures):
    """The figures of one switch: requests started from its command until `until` (the next
    switch, or the end of the load)."""
    start, end = switch
    around = [r for r in results if start - 0.2 <= r[0] < until]
    failed = [r for r in around if not 200 <= r[1] < 300]
    codes = collections.Counter(r[1] for r in around)
    if failed:
        first = min(r[0] for r in failed)
        last = max(r[0] + r[2] for r in failed)
        window = last - first
        seconds = len({int(r[0] - start) for r in failed})
    else:
        window, seconds = 0.0, 0
    # The cluster's own write outage, from the direct probes (by their start: when a new
    # write could not be made). rolegate cannot take a write sooner than Postgres does; what
    # is rolegate's own is a request that failed although it began after Postgres took
    # writes again.
    asked = sorted(p for p in probes if start - 0.2 <= p[0] < until)
    refused = [p for p in asked if not p[1]]
    if refused:
        last_refused = max(p[0] for p in refused)
        writable_again = min((p[0] for p in asked if p[1] and p[0] > last_refused), default=until)
        cluster_window = writable_again - min(p[0] for p in refused)
    else:
        cluster_window, writable_again = 0.0, start
    behind = max(0.0, max(r[0] for r in failed) - writable_again) if failed else 0.0
    ready = collections.Counter(status for t, status in readyz if start <= t < until)
    later = [r for r in around if 200 <= r[1] < 300 and (not failed or r[0] > max(f[0] for f in failed))]
    slowest = max((r[2] for r in around), default=0.0)
    log(f"{name}: pg_autoctl took {end - start:.1f} s; Postgres itself refused new writes for {cluster_window:.2f} s "
        f"({len(refused)} of {len(asked)} direct probes); rolegate failed a write begun {behind:.2f} s after "
        f"Postgres took them again")
    log(f"{name}: error window {window:.2f} s over {seconds} "
        f"second(s); slowest answer {slowest:.2f} s; status codes {dict(sorted(codes.items()))}; /readyz {dict(sorted(ready.items()))}; "
        f"recovered without a restart: {bool(later)}")
    if 500 in codes or any(500 <= c for c in codes if c != 503):
        failures.append(f"{name}: answers of 5xx other than 503: {dict(codes)}")
    if any(r[1] == 0 for r in around):
        failures.append(f"{name}: {codes[0]} requests got no answer at all")
    if any(r[1] == 503 and r[3] is None for r in around):
        failures.append(f"{name}: a 503 without Retry-After")
    if behind > BEHIND_LIMIT:
        failures.append(f"{name}: a write begun {behind:.2f} s after Postgres took writes again failed "
                        f"(limit {BEHIND_LIMIT} s)")
    if window > WINDOW_LIMIT and cluster_window <= WINDOW_LIMIT:
        failures.append(f"{name}: error window {window:.2f} s (limit {WINDOW_LIMIT} s)")
    elif window > WINDOW_LIMIT:
        log(f"{name}: the error window is over {WINDOW_LIMIT} s because Postgres itself refused writes for "
            f"{cluster_window:.2f} s; only rolegate's part (at most {BEHIND_LIMIT} s after) is judged")
    if not later:
        failures.append(f"{name}: no write succeeded after the switch")
    return window


def main():
    ensure_installed()
    failures = []
    cluster = Cluster()
    server = None
    try:
        started = time.monotonic()
        uri, sync = cluster.start()
        safe_uri = uri.replace(f"{cluster.user}@", "<user>@")
        log(f"cluster ready in {time.monotonic() - started:.1f} s: {safe_uri}; synchronous_standby_names = {sync!r}")
        if not sync:
            failures.append("replication is not synchronous")
        env = dict(os.environ, DATABASE_URL=uri, ROLEGATE_LISTEN=f"127.0.0.1:{PORT}", RUST_LOG="warn",
                   ROLEGATE_SECRETS_KEY=base64.b64encode(os.urandom(32)).decode(),
                   ROLEGATE_JWT_SECRET="failover-secret-failover-secret-failover",
                   ROLEGATE_MAX_VARIABLES_PER_APP="0")
        server_log = "/tmp/rolegate-failover.log"
        server = subprocess.Popen([BIN], env=env, stdout=subprocess.DEVNULL, stderr=open(server_log, "w"))
        for _ in range(400):
            if request("GET", "/readyz")[0] == 200:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("rolegate did not become ready on the cluster")
        password = "quiet lanterns drift over copper hills"
        request("POST", "/v1/users", body={"email": "ha@example.com", "password": password})
        status, _, body, _ = request("POST", "/v1/tokens", basic=f"ha@example.com:{password}")
        token = json.loads(body)["token"]
        status, _, body, _ = request("POST", "/v1/apps", token, {"name": "ha-app"})
        if status != 201:
            raise RuntimeError(f"creating the app answered {status}: {body[:300]}")

        load = ledger.WriteLoad(request, token, "ha-app", WRITERS, pause=WRITE_PAUSE)
        readyz = []
        probes = []
        lock = threading.Lock()
        stop = threading.Event()

        def cluster_probe():
            # A new probe every 0.1 s, whether or not earlier ones have answered, so a probe
            # held by a switch does not hide when the cluster takes writes again.
            def one():
                began = time.monotonic()
                ok = cluster.writable(uri)
                with lock:
                    probes.append((began, ok, time.monotonic() - began))

            asked = []
            while not stop.is_set():
                asked.append(threading.Thread(target=one))
                asked[-1].start()
                time.sleep(0.1)
            for t in asked:
                t.join()

        def ready_probe():
            while not stop.is_set():
                status = request("GET", "/readyz", timeout=5)[0]
                readyz.append((time.monotonic(), status))
                time.sleep(0.1)

        load.start()
        threads = [threading.Thread(target=ready_probe)]
        threads.append(threading.Thread(target=cluster_probe))
        for t in threads:
            t.start()
        time.sleep(3)
        switches = []
        for name in ("failover", "failback"):
            before = cluster.primary()
            began = time.monotonic()
            cluster.failover()
            switches.append((name, (began, time.monotonic())))
            log(f"{name}: primary {before} -> {cluster.primary()}")
            time.sleep(8)
        load.stop()
        stop.set()
        for t in threads:
            t.join()
        results = load.results
        pid_alive = server.poll() is None

        ends = [switch[0] - 0.2 for _, switch in switches[1:]] + [float("inf")]
        windows = [switch_figures(name, switch, until, results, readyz, probes, failures)
                   for (name, switch), until in zip(switches, ends)]
        codes = collections.Counter(r[1] for r in results)
        duration = results[-1][0] - results[0][0] if results else 0
        log(f"requests: {len(results)} in {duration:.0f} s ({len(results) / max(duration, 1):.0f}/s); "
            f"status codes {dict(sorted(codes.items()))}; rolegate process never restarted: {pid_alive}")
        if not pid_alive:
            failures.append("rolegate exited during the run")

        # The ledger: every acknowledged write is stored (read through rolegate, on the primary).
        status, lost = load.lost()
        if status != 200:
            failures.append(f"listing the variables answered {status}")
        if lost:
            failures.append(f"{len(lost)} acknowledged writes lost: {lost[:5]}")
        log(f"acknowledged writes: {len(load.acked)}, found afterwards: {len(load.acked) - len(lost)}, "
            f"lost: {len(lost)}")
        log(f"worst error window: {max(windows):.2f} s (limit {WINDOW_LIMIT} s)")
        moves = [line.strip() for line in open(server_log) if "moved to the next host" in line]
        log(f"rolegate's log: {len(moves)} host switch(es) recorded")
    except Exception as err:  # noqa: BLE001 - any failure is reported, after the clean-up
        failures.append(f"{type(err).__name__}: {err}")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        cluster.stop()
    if failures:
        log("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    log("postgres failover: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
