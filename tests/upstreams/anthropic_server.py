#!/usr/bin/env python3
"""A local stand-in for the Anthropic Messages API, for lakehost's tests (Python 3 stdlib only).

It follows Anthropic's API reference (Messages, streaming messages, errors, versioning):

  POST /v1/messages  headers: x-api-key (checked when started with --api-key),
                     anthropic-version (required), content-type: application/json
                     {"model", "max_tokens" (required, >= 1), "messages": [{"role": "user" |
                      "assistant", "content": str | [{"type": "text", "text"}]}],
                      "system"?: str | [{"type": "text", "text"}], "temperature"? (0..1),
                      "stream"?, "stop_sequences"?, "top_p"?, "top_k"?, "metadata"?}
                     -> {"id": "msg_...", "type": "message", "role": "assistant", "model",
                         "content": [{"type": "text", "text"}], "stop_reason": "end_turn" |
                         "max_tokens", "stop_sequence": null,
                         "usage": {"input_tokens", "output_tokens"}}
                     -> "stream": true: server-sent events, each `event: <type>` + `data: <json
                        with the same "type">`: message_start (the message with empty content
                        and usage {input_tokens, output_tokens: 1}), content_block_start
                        (index 0, {"type": "text", "text": ""}), ping, one content_block_delta
                        {"type": "text_delta", "text"} per word, content_block_stop,
                        message_delta ({"stop_reason", "stop_sequence"}, usage {output_tokens}),
                        message_stop
  GET  /v1/models    -> {"data": [{"type": "model", "id", "display_name", "created_at"}],
                         "has_more": false, "first_id", "last_id"}

Every error is {"type": "error", "error": {"type", "message"}, "request_id"} with the HTTP status
Anthropic documents: 400 invalid_request_error (a missing or malformed field, a "system" role
inside messages, no anthropic-version header), 401 authentication_error (no or wrong x-api-key
when started with --api-key), 404 not_found_error (unknown model), 429 rate_limit_error,
500 api_error, 529 overloaded_error. Every response carries a `request-id` header. An error after
a stream has started arrives as `event: error` + `data: {"type": "error", "error": {...}}` on the
200 stream.

What the fake model does (deterministic, so tests can assert on it):
  - the reply is "Echo: <last user message> | messages: <n> | system: <system prompt or ->",
    one text_delta per word (words keep their trailing space). max_tokens = k < the number of
    words cuts the reply to k deltas (stop_reason "max_tokens"). input_tokens counts the words of
    the system prompt and all messages; output_tokens counts the deltas.

Test control (not part of the API; never needs the key):
  POST /_control  {"fail_next": n, "status": 529, "retry_after": seconds, "body": {...}}
                      the next n API requests fail with that status (default 500), the optional
                      Retry-After header and body (default: Anthropic's error object for the
                      status)
                  {"delay_ms": ms}            every API response waits ms first (0 = off)
                  {"stream_error_after": k}   the next stream sends k deltas, then an error event
                                              (overloaded_error) and ends
                  {"drop_after": k}           the next stream sends k deltas, then closes the
                                              connection without message_stop
                  {"thinking": true}          replies start with a thinking block (thinking_delta
                                              and signature_delta in streams) and the stream
                                              carries an event of a type this server invents, as
                                              Anthropic may add new ones; false restores
                  {"reset": true}             clears all of the above and the recorded requests
  GET  /_control/requests -> {"requests": [{"method", "path", "headers": {lowercased: value},
                              "body": <parsed JSON or raw text>, "time": monotonic seconds}]}

Usage: anthropic_server.py --port-file FILE [--port 0] [--api-key KEY]
                           [--models claude-test-1,claude-test-2]
"""

import argparse
import json
import re
import sys
import uuid

from upstream_control import ControlHandler, ControlState, serve

# Documented error types by HTTP status (the default bodies of injected failures).
ERROR_TYPES = {
    400: ("invalid_request_error", "injected failure"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


class State(ControlState):
    FLAGS = {"thinking": False}

    def __init__(self, models, api_key):
        self.models = models
        self.api_key = api_key
        super().__init__()


def request_id():
    return "req_" + uuid.uuid4().hex[:24]


def error_object(type_, message):
    return {"type": "error", "error": {"type": type_, "message": message}, "request_id": request_id()}


def default_error(status):
    type_, message = ERROR_TYPES.get(status, ("api_error" if status >= 500 else "invalid_request_error",
                                              "injected failure"))
    return error_object(type_, message)


def text_of(content):
    """The text of a message content: a string or a list of text blocks; None if malformed."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(b, dict) for b in content):
        if any(b.get("type") == "text" and not isinstance(b.get("text"), str) for b in content):
            return None
        return "".join(b["text"] for b in content if b.get("type") == "text")
    return None


def words(text):
    return len(text.split()) if isinstance(text, str) else 0


class Handler(ControlHandler):
    server_version = "anthropic-test"
    retry_after_header = "retry-after"

    # ---- plumbing -------------------------------------------------------------------------------

    def send_json(self, status, obj, extra_headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", obj.get("request_id") or request_id())
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, type_, message):
        self.send_json(status, error_object(type_, message))

    def failure_body(self, status):
        return default_error(status)

    def event(self, obj):
        # The SSE event name always equals the data's "type".
        self.write_chunk(("event: %s\ndata: %s\n\n" % (obj["type"], json.dumps(obj))).encode())

    # ---- dispatch (after ControlHandler's recording and injected faults) ------------------------

    def api(self, path, raw):
        if not self.authorised():
            return
        if not self.headers.get("anthropic-version"):
            return self.error(400, "invalid_request_error", "anthropic-version: header is required")
        routes = {
            ("POST", "/v1/messages"): self.messages,
            ("GET", "/v1/models"): self.list_models,
        }
        route = routes.get((self.command, path))
        if route is None:
            return self.error(404, "not_found_error", "Not Found")
        if self.command == "POST":
            if not self.headers.get("content-type", "").startswith("application/json"):
                return self.error(400, "invalid_request_error", "content-type must be application/json")
            try:
                req = json.loads(raw or b"")
            except ValueError:
                return self.error(400, "invalid_request_error", "There was an issue with the JSON body")
            if not isinstance(req, dict):
                return self.error(400, "invalid_request_error", "request body: Input should be an object")
            return route(req)
        return route()

    def authorised(self):
        if not self.state.api_key:
            return True
        key = self.headers.get("x-api-key", "")
        if not key:
            self.error(401, "authentication_error", "x-api-key header is required")
            return False
        if key != self.state.api_key:
            self.error(401, "authentication_error", "invalid x-api-key")
            return False
        return True

    # ---- the API --------------------------------------------------------------------------------

    def messages(self, req):
        model = req.get("model")
        if not isinstance(model, str) or not model:
            return self.error(400, "invalid_request_error", "model: Field required")
        max_tokens = req.get("max_tokens")
        if max_tokens is None:
            return self.error(400, "invalid_request_error", "max_tokens: Field required")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return self.error(400, "invalid_request_error", "max_tokens: Input should be greater than or equal to 1")
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.error(400, "invalid_request_error", "messages: at least one message is required")
        texts = []
        for i, m in enumerate(messages):
            role = m.get("role") if isinstance(m, dict) else None
            if role == "system":
                return self.error(400, "invalid_request_error",
                                  'messages: Unexpected role "system". The Messages API accepts a top-level '
                                  '`system` parameter, not "system" as an input message role.')
            if role not in ("user", "assistant"):
                return self.error(400, "invalid_request_error",
                                  f"messages.{i}.role: Input should be 'user' or 'assistant'")
            text = text_of(m.get("content"))
            if text is None:
                return self.error(400, "invalid_request_error", f"messages.{i}.content: Input should be a valid list")
            texts.append((role, text))
        system = req.get("system")
        system_text = "" if system is None else text_of(system)
        if system_text is None:
            return self.error(400, "invalid_request_error", "system: Input should be a valid string")
        temperature = req.get("temperature")
        if temperature is not None and (not isinstance(temperature, (int, float)) or isinstance(temperature, bool)
                                        or not 0 <= temperature <= 1):
            return self.error(400, "invalid_request_error", "temperature: range: 0 <= temperature <= 1")
        if model not in self.state.models:
            return self.error(404, "not_found_error", f"model: {model}")

        last_user = next((t for r, t in reversed(texts) if r == "user"), "")
        reply = f"Echo: {last_user} | messages: {len(messages)} | system: {system_text or '-'}"
        deltas = re.findall(r"\S+\s*", reply)  # one delta per word, trailing whitespace kept
        stop_reason = "end_turn"
        if max_tokens < len(deltas):
            deltas = deltas[:max_tokens]
            stop_reason = "max_tokens"
        usage = {"input_tokens": words(system_text) + sum(words(t) for _, t in texts),
                 "output_tokens": len(deltas)}
        ident = "msg_" + uuid.uuid4().hex[:24]
        thinking = self.state.thinking
        if not req.get("stream", False):
            content = [{"type": "thinking", "thinking": "Let me think.", "signature": "sig"}] if thinking else []
            content.append({"type": "text", "text": "".join(deltas)})
            return self.send_json(200, {
                "id": ident, "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": stop_reason, "stop_sequence": None, "usage": usage,
            })

        error_after, drop_after = self.state.take_stream_fault()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("request-id", request_id())
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        self.event({"type": "message_start", "message": {
            "id": ident, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}})
        index = 0
        if thinking:
            self.event({"type": "content_block_start", "index": 0,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
            self.event({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "thinking_delta", "thinking": "Let me think."}})
            self.event({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "signature_delta", "signature": "sig"}})
            self.event({"type": "content_block_stop", "index": 0})
            self.event({"type": "lakehost_test_future_event", "note": "clients must ignore this"})
            index = 1
        self.event({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}})
        self.event({"type": "ping"})
        for i, d in enumerate(deltas):
            if error_after is not None and i == error_after:
                self.event(error_object("overloaded_error", "Overloaded"))
                return self.write_chunk(b"")  # terminating chunk
            if drop_after is not None and i == drop_after:
                self.close_connection = True
                return
            self.event({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": d}})
        self.event({"type": "content_block_stop", "index": index})
        self.event({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]}})
        self.event({"type": "message_stop"})
        self.write_chunk(b"")

    def list_models(self):
        ids = sorted(self.state.models)
        self.send_json(200, {
            "data": [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                     for m in ids],
            "has_more": False, "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True, help="the chosen port is written here")
    p.add_argument("--models", default="claude-test-1,claude-test-2")
    p.add_argument("--api-key", default="", help="require x-api-key: <key>")
    args = p.parse_args()

    state = State({m for m in args.models.split(",") if m}, args.api_key)
    return serve(Handler, state, args.host, args.port, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
