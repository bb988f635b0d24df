"""Test control and request recording shared by the local model servers of this folder
(ollama_server.py, openai_server.py, anthropic_server.py; Python 3 standard library only).

Each server's own docstring documents its control endpoints; what they share is here:

  POST /_control  {"fail_next": n, "status": s, "retry_after": seconds, "body": {...}}
                      the next n API requests fail with status s (default 500), the optional
                      Retry-After header and body (default: the server's own error body)
                  {"delay_ms": ms}            every API response waits ms first (0 = off)
                  {"stream_error_after": k}   the next stream sends k deltas, then an error
                  {"drop_after": k}           the next stream sends k deltas, then breaks off
                  {"<flag>": true | false}    a server's own switches (ControlState.FLAGS)
                  {"reset": true}             clears all of the above and the recorded requests
  GET  /_control/requests -> {"requests": [{"method", "path", "headers": {lowercased: value},
                              "body": <parsed JSON or raw text>, "time": monotonic seconds}]}

A server subclasses ControlState (its own fields in __init__, its boolean switches in FLAGS) and
ControlHandler (send_json, failure_body, api), and runs with serve().
"""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ControlState:
    """Everything the test controls or inspects; shared by all handler threads."""

    FLAGS = {}  # a server's own boolean switches: name -> value after a reset

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.fail_next = 0
            self.fail_status = 500
            self.fail_retry_after = None
            self.fail_body = None
            self.delay_ms = 0
            self.stream_error_after = None
            self.drop_after = None
            for name, value in self.FLAGS.items():
                setattr(self, name, value)

    def take_failure(self):
        """(status, retry_after, body) for an injected failure, or None."""
        with self.lock:
            if self.fail_next <= 0:
                return None
            self.fail_next -= 1
            return self.fail_status, self.fail_retry_after, self.fail_body

    def take_stream_fault(self):
        with self.lock:
            fault = (self.stream_error_after, self.drop_after)
            self.stream_error_after = None
            self.drop_after = None
            return fault

    def apply(self, c):
        """Applies a POST /_control body (a dict)."""
        if c.get("reset"):
            self.reset()
        with self.lock:
            if "fail_next" in c:
                self.fail_next = int(c["fail_next"])
                self.fail_status = int(c.get("status", 500))
                self.fail_retry_after = c.get("retry_after")
                self.fail_body = c.get("body")
            if "delay_ms" in c:
                self.delay_ms = int(c["delay_ms"])
            if "stream_error_after" in c:
                self.stream_error_after = int(c["stream_error_after"])
            if "drop_after" in c:
                self.drop_after = int(c["drop_after"])
            for name in self.FLAGS:
                if name in c:
                    setattr(self, name, bool(c[name]))


class ControlHandler(BaseHTTPRequestHandler):
    """Records every API request, answers /_control, injects delays and failures, then hands the
    request to api(). A subclass provides send_json(status, obj, extra_headers=None),
    failure_body(status) (the default body of an injected failure) and api(path, raw)."""

    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like the real servers
    retry_after_header = "Retry-After"

    def log_message(self, fmt, *args):  # quiet: the tests read what they need from /_control
        pass

    @property
    def state(self):
        return self.server.state

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def record(self, raw):
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = raw.decode("utf-8", "replace")
        with self.state.lock:
            self.state.requests.append({
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "time": time.monotonic(),
            })

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        raw = self.read_body()
        path = self.path.split("?", 1)[0]
        if path.startswith("/_control"):
            return self.control(path, raw)
        self.record(raw)
        if self.state.delay_ms:
            time.sleep(self.state.delay_ms / 1000.0)
        failure = self.state.take_failure()
        if failure:
            status, retry_after, body = failure
            headers = {self.retry_after_header: str(retry_after)} if retry_after is not None else None
            return self.send_json(status, body or self.failure_body(status), headers)
        return self.api(path, raw)

    def control(self, path, raw):
        if self.command == "GET" and path == "/_control/requests":
            with self.state.lock:
                return self.send_json(200, {"requests": list(self.state.requests)})
        if self.command == "POST" and path == "/_control":
            try:
                c = json.loads(raw or b"{}")
            except ValueError as e:
                return self.send_json(400, {"error": str(e)})
            self.state.apply(c)
            return self.send_json(200, {"ok": True})
        return self.send_json(404, {"error": "unknown control endpoint"})


def serve(handler, state, host, port, port_file):
    """Serves until interrupted, one thread per connection; the chosen port is written to
    port_file first. Returns the exit status."""
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.state = state
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(tmp, port_file)  # readers never see a half-written file
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
