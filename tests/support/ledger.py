"""A write load with a ledger, for the fault scripts (outage, failover): writers that each
set new variables of one app in a loop, recording every answer and every acknowledged
write, and the check afterwards that every acknowledged write is stored. Standard library
only.

    load = ledger.WriteLoad(request, token, "app", writers=4, pause=0.07)
    load.start(); ...; load.stop()
    status, lost = load.lost()
"""

import json
import threading
import time


class WriteLoad:
    """`writers` threads, each setting `V_<writer>_<i>` of `app` through `request` (the
    script's `request(method, path, token, body)`), pausing `pause` seconds after a 2xx and
    `pause_after_error` after anything else."""

    def __init__(self, request, token, app, writers, pause, pause_after_error=None):
        self.request = request
        self.token = token
        self.app = app
        self.pause = pause
        self.pause_after_error = pause if pause_after_error is None else pause_after_error
        # (began, status, seconds taken, Retry-After) of every write, and what each
        # acknowledged write stored.
        self.results = []
        self.acked = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(n,)) for n in range(writers)]

    def _write(self, n):
        i = 0
        while not self._stop.is_set():
            name = f"V_{n}_{i}"
            began = time.monotonic()
            status, headers, _, elapsed = self.request("PUT", f"/v1/apps/{self.app}/variables/{name}", self.token,
                                                       {"value": str(i)})
            with self.lock:
                retry = headers.get("Retry-After") or headers.get("retry-after")
                self.results.append((began, status, elapsed, retry))
                if 200 <= status < 300:
                    self.acked[name] = str(i)
            i += 1
            time.sleep(self.pause if 200 <= status < 300 else self.pause_after_error)

    def start(self):
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()

    def answers(self):
        """The answers so far (a copy)."""
        with self.lock:
            return list(self.results)

    def lost(self):
        """The status of listing the app's variables, and the acknowledged writes it does not
        hold with their value."""
        status, _, body, _ = self.request("GET", f"/v1/apps/{self.app}/variables", self.token)
        stored = {v["name"]: v["value"] for v in json.loads(body)["items"]} if status == 200 else {}
        return status, [name for name, value in self.acked.items() if stored.get(name) != value]
