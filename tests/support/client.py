"""The HTTP client of the Python scripts under tests/ (contract fuzzing, fault, metrics and
browser tests): one JSON request with a Bearer or Basic credential. Standard library only.

A script puts this folder on its path and imports it:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import client
"""

import base64
import json
import time
import urllib.error
import urllib.request


def call(url, method="GET", token=None, body=None, basic=None, headers=None, timeout=15):
    """Sends one request to `url`: `body` as JSON, `token` as a Bearer credential or `basic`
    ("email:password") as HTTP Basic. Returns (status, headers, body bytes, seconds taken);
    a server that cannot be reached is status 0, with the error as the body."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    if basic:
        headers["authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read(), time.monotonic() - started
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read(), time.monotonic() - started
    except OSError as err:
        return 0, {}, str(err).encode(), time.monotonic() - started
