#!/usr/bin/env python3
"""A minimal receiver of rolegate's orders (see docs/platform.md), standard library only.

It checks each delivery's Rolegate-Signature, drops deliveries it has already handled
(rolegate delivers at least once), prints each new order and answers 204.

    ROLEGATE_PLATFORM_SECRET='the same secret as rolegate' python3 examples/receiver.py --port 8282

then start rolegate with ROLEGATE_PLATFORM_WEBHOOK_URL=http://127.0.0.1:8282/orders.
"""

import argparse
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time

# A signature older (or further in the future) than this is refused, so a captured
# delivery cannot be replayed later.
TOLERANCE_SECONDS = 5 * 60


def verify(secret, header, body, now):
    """Whether `header` (`t=<unix>,v1=<hex>`) signs `body` under `secret`, recently."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, given = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


class Orders:
    """Order ids already handled. A real receiver keeps them in its own database, and
    records an id in the same transaction as the work the order asks for."""

    def __init__(self):
        self._seen = set()
        self._lock = threading.Lock()

    def first_time(self, order_id):
        with self._lock:
            if order_id in self._seen:
                return False
            self._seen.add(order_id)
            return True


def handler(secret, orders):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            signature = self.headers.get("Rolegate-Signature", "")
            if not verify(secret, signature, body, time.time()):
                print(f"rejected: bad or stale signature ({signature!r})", flush=True)
                self.answer(401)
                return
            # Trust the signed body, not the headers: Rolegate-Order-Id and
            # Rolegate-Order-Type are conveniences and are not covered by the signature.
            order = json.loads(body)
            if not orders.first_time(order["id"]):
                print(f"duplicate {order['type']} {order['id']}: already handled", flush=True)
                self.answer(204)
                return
            print(f"verified {order['type']} {order['id']} for app {order['app']['name']}", flush=True)
            print(json.dumps(order, indent=2, sort_keys=True), flush=True)
            self.answer(204)

        def answer(self, status):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass  # the lines above say what happened

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8282)
    args = parser.parse_args()
    secret = os.environ.get("ROLEGATE_PLATFORM_SECRET", "")
    if not secret:
        sys.exit("set ROLEGATE_PLATFORM_SECRET to rolegate's ROLEGATE_PLATFORM_SECRET")
    server = http.server.ThreadingHTTPServer(
        (args.host, args.port), handler(secret.encode(), Orders())
    )
    print(f"listening on http://{args.host}:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
