#!/usr/bin/env python3
"""A local stand-in for an Ollama server, for lakehost's tests (Python 3 standard library only).

It follows Ollama's public API document (docs/api.md and docs.ollama.com/api/errors):

  POST /api/embed    {"model", "input": str | [str], "truncate"?, "options"?, "keep_alive"?,
                      "dimensions"?}
                     -> {"model", "embeddings": [[...]], "total_duration", "load_duration",
                         "prompt_eval_count"}
  POST /api/chat     {"model", "messages": [{"role", "content"}], "stream"? (default true),
                      "options"? {"temperature", "num_predict", ...}, "format"?, "keep_alive"?}
                     -> streamed: NDJSON (application/x-ndjson), one object per line with
                        "message": {"role": "assistant", "content": <delta>}, "done": false;
                        the last line has "done": true, "done_reason", "prompt_eval_count",
                        "eval_count" and durations
                     -> "stream": false: one object with the whole message
  GET  /api/tags     -> {"models": [{"name", "model", "modified_at", "size", "digest", "details"}]}
  GET  /api/version  -> {"version": "..."}

Errors are {"error": "message"}: 400 for a missing or malformed field ("model is required"),
404 for an unknown model (model "x" not found, try pulling it first). An error after a stream has
started keeps the 200 status and arrives as one NDJSON line {"error": "..."}.

What the fake model does (deterministic, so tests can assert on it):
  - an embedding is derived from sha256(model, text): `--dimension` values in [-1, 1) times 3, so
    vectors are deliberately NOT unit length (clients must normalise). The text "<zero-vector>"
    gives an all-zero vector.
  - a chat reply is "Echo: <last user message> | messages: <n> | system: <system prompt or ->",
    sent as one delta per word (words keep their trailing space). options.num_predict = k > 0
    cuts the reply to k deltas (done_reason "length"). prompt_eval_count counts the words of all
    messages; eval_count counts the deltas.

Test control (not part of Ollama's API):
  POST /_control  {"fail_next": n, "status": 503, "retry_after": seconds, "body": {...}}
                      the next n API requests fail with that status (default 500), the optional
                      Retry-After header and body (default {"error": "injected failure"})
                  {"delay_ms": ms}            every API response waits ms first (0 = off)
                  {"stream_error_after": k}   the next streamed chat sends k deltas, then an
                                              {"error": ...} line
                  {"drop_after": k}           the next streamed chat sends k deltas, then closes
                                              the connection without the final line
                  {"reset": true}             clears all of the above and the recorded requests
  GET  /_control/requests -> {"requests": [{"method", "path", "headers": {lowercased: value},
                              "body": <parsed JSON or raw text>, "time": monotonic seconds}]}
                              every API request received, failed ones included, in order.

Usage: ollama_server.py --port-file FILE [--port 0] [--dimension 16]
                        [--models nomic-embed-text,llama3.2]
"""

import argparse
import hashlib
import json
import re
import struct
import sys
import time
from datetime import datetime, timezone

from upstream_control import ControlHandler, ControlState, serve

VERSION = "0.6.2"


class State(ControlState):
    def __init__(self, models, dimension):
        self.models = models
        self.dimension = dimension
        super().__init__()


def canonical_model(name):
    return name if ":" in name else name + ":latest"


def fake_embedding(model, text, dimension):
    if text == "<zero-vector>":
        return [0.0] * dimension
    out = []
    counter = 0
    while len(out) < dimension:
        digest = hashlib.sha256(f"{model}\0{counter}\0{text}".encode("utf-8", "surrogatepass")).digest()
        for (value,) in struct.iter_unpack(">I", digest):
            out.append(round((value / 2**32 * 2.0 - 1.0) * 3.0, 6))
        counter += 1
    return out[:dimension]


def words(text):
    return len(text.split())


def chat_reply(messages):
    last_user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "") or "-"
    reply = f"Echo: {last_user} | messages: {len(messages)} | system: {system}"
    # One delta per word, each keeping the whitespace that follows it, so they concatenate back.
    return re.findall(r"\S+\s*", reply)


def now_rfc3339():
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class Handler(ControlHandler):
    server_version = "ollama-test"

    # ---- plumbing -------------------------------------------------------------------------------

    def send_json(self, status, obj, extra_headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message):
        self.send_json(status, {"error": message})

    def failure_body(self, status):
        return {"error": "injected failure"}

    def start_chunked(self, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ---- dispatch (after ControlHandler's recording and injected faults) ------------------------

    def do_DELETE(self):
        self.dispatch()

    def api(self, path, raw):
        routes = {
            ("POST", "/api/embed"): self.embed,
            ("POST", "/api/chat"): self.chat,
            ("GET", "/api/tags"): self.tags,
            ("GET", "/api/version"): self.version,
        }
        route = routes.get((self.command, path))
        if route is None:
            # Ollama answers unknown paths with a plain-text 404 ("404 page not found").
            data = b"404 page not found"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.command == "POST":
            if not raw:
                return self.error(400, "missing request body")
            try:
                req = json.loads(raw)
            except ValueError as e:
                return self.error(400, str(e))
            if not isinstance(req, dict):
                return self.error(400, "json: cannot unmarshal into request object")
            return route(req)
        return route()

    # ---- the API --------------------------------------------------------------------------------

    def known_model(self, req):
        """The canonical model name, or None after answering with the documented error."""
        model = req.get("model")
        if not isinstance(model, str) or not model:
            self.error(400, "model is required")
            return None
        name = canonical_model(model)
        if name not in self.state.models:
            self.error(404, f'model "{model}" not found, try pulling it first')
            return None
        return model

    def embed(self, req):
        model = self.known_model(req)
        if model is None:
            return
        inp = req.get("input")
        if isinstance(inp, str):
            texts = [inp]
        elif isinstance(inp, list) and all(isinstance(t, str) for t in inp):
            texts = inp
        elif inp is None:
            texts = []
        else:
            return self.error(400, "invalid input type")
        dimension = self.state.dimension
        dims = req.get("dimensions")
        if dims is not None:
            if not isinstance(dims, int) or dims < 1 or dims > dimension:
                return self.error(400, f"dimensions must be between 1 and {dimension}")
            dimension = dims
        start = time.monotonic_ns()
        vectors = [fake_embedding(canonical_model(model), t, dimension) for t in texts]
        self.send_json(200, {
            "model": model,
            "embeddings": vectors,
            "total_duration": time.monotonic_ns() - start,
            "load_duration": 1000,
            "prompt_eval_count": sum(words(t) for t in texts),
        })

    def chat(self, req):
        model = self.known_model(req)
        if model is None:
            return
        messages = req.get("messages", [])
        if not isinstance(messages, list):
            return self.error(400, "json: cannot unmarshal messages into []api.Message")
        for m in messages:
            if not isinstance(m, dict) or not isinstance(m.get("content", ""), str):
                return self.error(400, "json: cannot unmarshal message into api.Message")
            if m.get("role") not in ("system", "user", "assistant", "tool"):
                return self.error(400, f"invalid role: {m.get('role')!r}")
        options = req.get("options") or {}
        if not isinstance(options, dict):
            return self.error(400, "json: cannot unmarshal options into map[string]any")
        deltas = chat_reply(messages) if messages else []
        done_reason = "stop" if messages else "load"
        num_predict = options.get("num_predict")
        if isinstance(num_predict, int) and 0 < num_predict < len(deltas):
            deltas = deltas[:num_predict]
            done_reason = "length"
        prompt_tokens = sum(words(m.get("content", "")) for m in messages)
        final = {
            "model": model,
            "created_at": now_rfc3339(),
            "done": True,
            "done_reason": done_reason,
            "total_duration": 5000000,
            "load_duration": 1000,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 1000000,
            "eval_count": len(deltas),
            "eval_duration": 4000000,
        }
        if req.get("stream", True) is False:
            final["message"] = {"role": "assistant", "content": "".join(deltas)}
            return self.send_json(200, final)

        error_after, drop_after = self.state.take_stream_fault()
        self.start_chunked("application/x-ndjson")
        for i, delta in enumerate(deltas):
            if error_after is not None and i == error_after:
                self.write_chunk(json.dumps({"error": "an error was encountered while running the model"}).encode() + b"\n")
                return self.end_chunked()
            if drop_after is not None and i == drop_after:
                self.close_connection = True
                return  # no terminating chunk: the client sees the transfer break off
            line = {
                "model": model,
                "created_at": now_rfc3339(),
                "message": {"role": "assistant", "content": delta},
                "done": False,
            }
            self.write_chunk(json.dumps(line).encode() + b"\n")
        final["created_at"] = now_rfc3339()
        final["message"] = {"role": "assistant", "content": ""}
        self.write_chunk(json.dumps(final).encode() + b"\n")
        self.end_chunked()

    def tags(self):
        models = []
        for name in sorted(self.state.models):
            models.append({
                "name": name,
                "model": name,
                "modified_at": "2025-01-01T00:00:00Z",
                "size": 1000000,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": {"format": "gguf", "family": "test", "families": None,
                            "parameter_size": "1M", "quantization_level": "Q4_0"},
            })
        self.send_json(200, {"models": models})

    def version(self):
        self.send_json(200, {"version": VERSION})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True, help="the chosen port is written here")
    p.add_argument("--dimension", type=int, default=16, help="length of every embedding")
    p.add_argument("--models", default="nomic-embed-text,llama3.2",
                   help="comma-separated names the server knows (\":latest\" implied)")
    args = p.parse_args()

    state = State({canonical_model(m) for m in args.models.split(",") if m}, args.dimension)
    return serve(Handler, state, args.host, args.port, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
