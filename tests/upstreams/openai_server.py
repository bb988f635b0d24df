#!/usr/bin/env python3
"""A local stand-in for an OpenAI-compatible server, for lakehost's tests (Python 3 stdlib only).

It follows the OpenAI API reference (embeddings, chat completions, the chat.completion.chunk
stream, the error object):

  POST /v1/embeddings        {"model", "input": str | [str], "encoding_format"? "float"|"base64",
                              "dimensions"?, "user"?}
                             -> {"object": "list", "data": [{"object": "embedding", "index": i,
                                 "embedding": [...] | "<base64 float32>"}], "model",
                                 "usage": {"prompt_tokens", "total_tokens"}}
  POST /v1/chat/completions  {"model", "messages": [{"role", "content"}], "temperature"?,
                              "max_tokens"?, "max_completion_tokens"?, "stream"?,
                              "stream_options"? {"include_usage"}}
                             -> {"id", "object": "chat.completion", "created", "model",
                                 "choices": [{"index": 0, "message": {"role": "assistant",
                                 "content"}, "logprobs": null, "finish_reason"}],
                                 "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}
                             -> "stream": true: server-sent events, each `data: <chunk>` with
                                "object": "chat.completion.chunk" and choices[0].delta (the first
                                carries the role, then one content delta per word, then an empty
                                delta with finish_reason), then, with include_usage, a chunk with
                                "choices": [] and "usage", then `data: [DONE]`
  GET  /v1/models            -> {"object": "list", "data": [{"id", "object": "model", "created",
                                 "owned_by"}]}

Every error is {"error": {"message", "type", "param", "code"}}: 400 invalid_request_error for a
missing or malformed field, 404 model_not_found for an unknown model, 401 invalid_api_key (or no
key) when started with --api-key. An error after a stream has started arrives as an event
`data: {"error": {...}}` on the 200 stream (what OpenAI's own SDK checks for).

What the fake model does (deterministic, so tests can assert on it):
  - an embedding is derived from sha256(model, text): `--dimension` values (or the request's
    `dimensions`) in [-1, 1) times 3, deliberately NOT unit length. "<zero-vector>" gives zeros.
  - a chat reply is "Echo: <last user message> | messages: <n> | system: <system prompt or ->",
    one delta per word (words keep their trailing space). max_tokens (or max_completion_tokens)
    = k cuts the reply to k deltas (finish_reason "length"). prompt_tokens counts the words of all
    messages; completion_tokens counts the deltas.

Test control (not part of the API; never needs the key):
  POST /_control  {"fail_next": n, "status": 503, "retry_after": seconds, "body": {...}}
                      the next n API requests fail with that status (default 500), the optional
                      Retry-After header and body (default: an OpenAI error object)
                  {"delay_ms": ms}            every API response waits ms first (0 = off)
                  {"stream_error_after": k}   the next streamed completion sends k deltas, then
                                              an error event
                  {"drop_after": k}           the next streamed completion sends k deltas, then
                                              closes the connection without [DONE]
                  {"reverse_order": true}     embeddings' data come back in reverse order (still
                                              each with its own index); false restores
                  {"reset": true}             clears all of the above and the recorded requests
  GET  /_control/requests -> {"requests": [{"method", "path", "headers": {lowercased: value},
                              "body": <parsed JSON or raw text>, "time": monotonic seconds}]}

Usage: openai_server.py --port-file FILE [--port 0] [--dimension 16] [--api-key KEY]
                        [--models text-embedding-3-small,gpt-4o-mini]
"""

import argparse
import base64
import hashlib
import json
import re
import struct
import sys
import time
import uuid

from upstream_control import ControlHandler, ControlState, serve

MAX_INPUTS = 2048  # the documented limit of one embeddings request


class State(ControlState):
    FLAGS = {"reverse_order": False}

    def __init__(self, models, dimension, api_key):
        self.models = models
        self.dimension = dimension
        self.api_key = api_key
        super().__init__()


def error_object(message, type_="invalid_request_error", param=None, code=None):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


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
    return len(text.split()) if isinstance(text, str) else 0


def chat_reply(messages):
    last_user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    system = next((m.get("content", "") for m in messages if m.get("role") in ("system", "developer")), "") or "-"
    reply = f"Echo: {last_user} | messages: {len(messages)} | system: {system}"
    return re.findall(r"\S+\s*", reply)  # one delta per word, trailing whitespace kept


class Handler(ControlHandler):
    server_version = "openai-test"

    # ---- plumbing -------------------------------------------------------------------------------

    def send_json(self, status, obj, extra_headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message, type_="invalid_request_error", param=None, code=None):
        self.send_json(status, error_object(message, type_, param, code))

    def failure_body(self, status):
        return error_object("injected failure", "server_error") if status >= 500 else \
            error_object("Rate limit reached for requests", "requests", None, "rate_limit_exceeded") \
            if status == 429 else error_object("injected failure")

    def event(self, obj):
        payload = obj if isinstance(obj, str) else json.dumps(obj)
        self.write_chunk(b"data: " + payload.encode() + b"\n\n")

    # ---- dispatch (after ControlHandler's recording and injected faults) ------------------------

    def api(self, path, raw):
        if not self.authorised():
            return
        routes = {
            ("POST", "/v1/embeddings"): self.embeddings,
            ("POST", "/v1/chat/completions"): self.chat,
            ("GET", "/v1/models"): self.list_models,
        }
        route = routes.get((self.command, path))
        if route is None:
            return self.error(404, f"Invalid URL ({self.command} {path})")
        if self.command == "POST":
            try:
                req = json.loads(raw or b"")
            except ValueError:
                return self.error(400, "We could not parse the JSON body of your request. (HINT: This likely "
                                  "means you aren't using your HTTP library correctly. The OpenAI API "
                                  "expects a JSON payload, but what was sent was not valid JSON.")
            if not isinstance(req, dict):
                return self.error(400, "Invalid type for request body: expected an object.")
            return route(req)
        return route()

    def authorised(self):
        if not self.state.api_key:
            return True
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            self.error(401, "You didn't provide an API key. You need to provide your API key in an "
                       "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
            return False
        if auth[7:].strip() != self.state.api_key:
            # OpenAI shows a masked key here; this server shows none of it.
            self.error(401, "Incorrect API key provided.", code="invalid_api_key")
            return False
        return True

    # ---- the API --------------------------------------------------------------------------------

    def known_model(self, req):
        model = req.get("model")
        if not isinstance(model, str) or not model:
            self.error(400, "you must provide a model parameter")
            return None
        if model not in self.state.models:
            self.error(404, f"The model `{model}` does not exist or you do not have access to it.",
                       code="model_not_found")
            return None
        return model

    def embeddings(self, req):
        model = self.known_model(req)
        if model is None:
            return
        inp = req.get("input")
        if isinstance(inp, str):
            texts = [inp]
        elif isinstance(inp, list) and inp and all(isinstance(t, str) for t in inp):
            texts = inp
        else:
            return self.error(400, "'input' must be a non-empty string or array of strings", param="input")
        if len(texts) > MAX_INPUTS:
            return self.error(400, f"'input' must have at most {MAX_INPUTS} items", param="input")
        if any(t == "" for t in texts):
            return self.error(400, "'$.input' is invalid. Please check the API reference: "
                              "https://platform.openai.com/docs/api-reference.", param="input")
        dimension = self.state.dimension
        dims = req.get("dimensions")
        if dims is not None:
            if not isinstance(dims, int) or isinstance(dims, bool) or dims < 1 or dims > dimension:
                return self.error(400, f"'dimensions' must be between 1 and {dimension}", param="dimensions")
            dimension = dims
        fmt = req.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            return self.error(400, "'encoding_format' must be 'float' or 'base64'", param="encoding_format")
        data = []
        for i, t in enumerate(texts):
            v = fake_embedding(model, t, dimension)
            if fmt == "base64":
                v = base64.b64encode(struct.pack("<%df" % len(v), *v)).decode()
            data.append({"object": "embedding", "index": i, "embedding": v})
        if self.state.reverse_order:
            data.reverse()
        tokens = sum(words(t) for t in texts)
        self.send_json(200, {"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def chat(self, req):
        model = self.known_model(req)
        if model is None:
            return
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.error(400, "Invalid 'messages': expected a non-empty array.", param="messages")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user", "assistant", "tool"):
                return self.error(400, f"Invalid value for 'messages[{i}].role'.", param=f"messages[{i}].role")
            if not isinstance(m.get("content"), str):
                return self.error(400, f"Invalid type for 'messages[{i}].content': expected a string.",
                                  param=f"messages[{i}].content")
        temperature = req.get("temperature")
        if temperature is not None and (not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2):
            return self.error(400, "Invalid 'temperature': decimal above maximum value. Expected a value <= 2.",
                              param="temperature", code="decimal_above_max_value")
        limit = req.get("max_completion_tokens", req.get("max_tokens"))
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            return self.error(400, "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1.",
                              param="max_tokens", code="integer_below_min_value")
        stream = req.get("stream", False)
        if req.get("stream_options") is not None and not stream:
            return self.error(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                              param="stream_options")
        deltas = chat_reply(messages)
        finish = "stop"
        if limit is not None and limit < len(deltas):
            deltas = deltas[:limit]
            finish = "length"
        prompt_tokens = sum(words(m.get("content")) for m in messages)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(deltas),
                 "total_tokens": prompt_tokens + len(deltas)}
        ident = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        if not stream:
            return self.send_json(200, {
                "id": ident, "object": "chat.completion", "created": created, "model": model,
                "system_fingerprint": "fp_test",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(deltas),
                                                     "refusal": None},
                             "logprobs": None, "finish_reason": finish}],
                "usage": usage,
            })

        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        error_after, drop_after = self.state.take_stream_fault()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(delta, finish_reason=None, choices=True):
            c = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                 "system_fingerprint": "fp_test",
                 "choices": [{"index": 0, "delta": delta, "logprobs": None,
                              "finish_reason": finish_reason}] if choices else []}
            if include_usage:
                c["usage"] = None  # every chunk carries "usage": null but the last
            return c

        self.event(chunk({"role": "assistant", "content": "", "refusal": None}))
        for i, d in enumerate(deltas):
            if error_after is not None and i == error_after:
                self.event(error_object("The server had an error while processing your request.", "server_error"))
                return self.write_chunk(b"")  # terminating chunk
            if drop_after is not None and i == drop_after:
                self.close_connection = True
                return
            self.event(chunk({"content": d}))
        self.event(chunk({}, finish))
        if include_usage:
            last = chunk({}, choices=False)
            last["usage"] = usage
            self.event(last)
        self.event("[DONE]")
        self.write_chunk(b"")

    def list_models(self):
        self.send_json(200, {"object": "list", "data": [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "lakehost-tests"}
            for m in sorted(self.state.models)]})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True, help="the chosen port is written here")
    p.add_argument("--dimension", type=int, default=16, help="native length of every embedding")
    p.add_argument("--models", default="text-embedding-3-small,gpt-4o-mini")
    p.add_argument("--api-key", default="", help="require Authorization: Bearer <key>")
    args = p.parse_args()

    state = State({m for m in args.models.split(",") if m}, args.dimension, args.api_key)
    return serve(Handler, state, args.host, args.port, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
