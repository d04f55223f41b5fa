"""A loopback LLM server speaking the real wire protocols, with scripted replies.

- Ollama: ``POST /api/chat`` (NDJSON stream, or one JSON object with ``"stream": false``),
  ``GET /api/tags`` (the models), ``POST /api/show`` (one model, 404 if unknown),
  ``GET /api/version``
- OpenAI: ``POST /v1/chat/completions`` (SSE ``data:`` chunks, ``[DONE]``, and a usage chunk
  when ``stream_options.include_usage`` is set), ``GET /v1/models`` and
  ``GET /v1/models/{id}`` (``{"object": "list", "data": [...]}``)
- Anthropic: ``POST /v1/messages`` (SSE ``message_start`` ... ``message_stop``),
  ``GET /v1/models`` (``{"data", "has_more", "first_id", "last_id"}``) and
  ``GET /v1/models/{id}``, told from OpenAI's by the ``anthropic-version`` header

The official client packages point at it (``OLLAMA_HOST``, ``base_url=``); it is a test
fixture standing in for a backend, not a mock of our code. Each model has a script: a list of
replies consumed in order, or a function of the request's messages. A model with no script is
unknown (404 in that protocol's own error format). Every request is logged.

Run it by hand for a demo: ``python tests/fake_llm_server.py --port 11434 --model demo``.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Union


@dataclass
class Reply:
    text: str = ""
    thinking: str = ""
    chunk_size: int = 8  # characters per streamed chunk
    delay: float = 0.0  # seconds before each chunk
    first_delay: float = 0.0  # seconds before the first byte of the body
    die_after: Optional[int] = None  # drop the connection after this many characters
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    status: int = 200  # a non-200 status answers with an error body instead
    error: str = ""


Script = Union[list, Callable[[list], Union[Reply, str]]]


def _as_reply(r: Union[Reply, str]) -> Reply:
    return r if isinstance(r, Reply) else Reply(text=str(r))


class FakeLLMServer:
    def __init__(self, scripts: Optional[dict[str, Script]] = None, *, host: str = "127.0.0.1",
                 port: int = 0, api_key: Optional[str] = None) -> None:
        self.scripts: dict[str, Script] = dict(scripts or {})
        self.api_key = api_key
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most chat requests served at once
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread: Optional[threading.Thread] = None

    # -- control ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeLLMServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def script(self, model: str, replies: Script) -> None:
        with self._lock:
            self.scripts[model] = replies if callable(replies) else list(replies)

    def requests_for(self, model: str) -> list[dict]:
        return [r for r in self.requests if r.get("model") == model]

    def next_reply(self, model: str, messages: list) -> Optional[Reply]:
        """The scripted reply, or None if the model is unknown."""
        with self._lock:
            script = self.scripts.get(model)
            if script is None:
                return None
            if callable(script):
                return _as_reply(script(messages))
            if not script:
                return Reply(status=500, error=f"fake server: no scripted reply left for {model}")
            return _as_reply(script.pop(0))

    def log(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)


def _usage(reply: Reply, messages: list) -> tuple[int, int]:
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = sum(len(str(m.get("content", ""))) for m in messages) // 4 + 1
    completion = reply.completion_tokens
    if completion is None:
        completion = (len(reply.text) + len(reply.thinking)) // 4 + 1
    return prompt, completion


class _Dropped(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # like real servers: small chunks go out at once

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet
        pass

    @property
    def fake(self) -> FakeLLMServer:
        return self.server.fake  # type: ignore[attr-defined]

    # -- helpers ---------------------------------------------------------------------------
    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return {}

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def _chunk(self, data: str) -> None:
        raw = data.encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Die mid-stream: close the socket without ending the chunked body."""
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()
        self.close_connection = True
        raise _Dropped()

    def _pieces(self, reply: Reply):
        """(kind, text) pieces: thinking first, then text; honours delay and die_after."""
        sent = 0
        if reply.first_delay:
            time.sleep(reply.first_delay)
        for kind, whole in (("thinking", reply.thinking), ("text", reply.text)):
            for i in range(0, len(whole), max(1, reply.chunk_size)):
                if reply.die_after is not None and sent >= reply.die_after:
                    self._drop()
                if reply.delay:
                    time.sleep(reply.delay)
                piece = whole[i:i + reply.chunk_size]
                sent += len(piece)
                yield kind, piece
        if reply.die_after is not None and sent >= reply.die_after:
            self._drop()

    def _authorised(self, header_value: Optional[str]) -> bool:
        key = self.fake.api_key
        return key is None or header_value == key

    # -- routes ----------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/api/version":
            self._json(200, {"version": "0.12.0"})
        elif path == "/api/tags":
            self._json(200, {"models": [
                {"name": m, "model": m, "modified_at": "2026-01-01T00:00:00Z", "size": 1,
                 "digest": "0" * 64, "details": {"family": "fake"}}
                for m in self.fake.scripts]})
        elif path in ("/v1/models", "/models") or path.startswith(("/v1/models/", "/models/")):
            self._models(path.split("/models", 1)[1].lstrip("/"))
        elif path == "/":
            self._json(200, {"status": "Ollama is running"})
        else:
            self._json(404, {"error": f"no route {path}"})

    def _models(self, wanted: str) -> None:
        """The Models API in the dialect the caller speaks: Anthropic's SDK sends
        ``anthropic-version``; anything else gets OpenAI's shape. ``wanted``: one model
        (GET /v1/models/{id}) or "" for the list."""
        anthropic_api = "anthropic-version" in {k.lower() for k in self.headers}
        bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        ok = self._authorised(bearer) or (anthropic_api and
                                          self._authorised(self.headers.get("x-api-key")))
        self.fake.log({"protocol": "anthropic" if anthropic_api else "openai",
                       "model": wanted, "path": self.path, "headers": dict(self.headers)})
        names = sorted(self.fake.scripts)

        def one(m: str) -> dict:
            if anthropic_api:
                return {"type": "model", "id": m, "display_name": m,
                        "created_at": "2026-01-01T00:00:00Z"}
            return {"id": m, "object": "model", "created": 0, "owned_by": "fake"}

        if not ok:
            if anthropic_api:
                self._json(401, {"type": "error", "error": {"type": "authentication_error",
                                                            "message": "invalid x-api-key"}})
            else:
                self._json(401, {"error": {"message": "Incorrect API key provided.",
                                           "type": "invalid_request_error",
                                           "code": "invalid_api_key"}})
        elif wanted and wanted not in names:
            if anthropic_api:
                self._json(404, {"type": "error", "error": {"type": "not_found_error",
                                                            "message": f"model: {wanted}"}})
            else:
                self._json(404, {"error": {
                    "message": f"The model `{wanted}` does not exist or you do not have "
                               "access to it.", "type": "invalid_request_error",
                    "param": None, "code": "model_not_found"}})
        elif wanted:
            self._json(200, one(wanted))
        elif anthropic_api:
            self._json(200, {"data": [one(m) for m in names], "has_more": False,
                             "first_id": names[0] if names else None,
                             "last_id": names[-1] if names else None})
        else:
            self._json(200, {"object": "list", "data": [one(m) for m in names]})

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        body = self._body()
        fake = self.fake
        with fake._lock:
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            self._post(path, body)
        finally:
            with fake._lock:
                fake.in_flight -= 1

    def _post(self, path: str, body: dict) -> None:
        try:
            if path == "/api/chat":
                self._ollama_chat(body)
            elif path == "/api/show":
                model = body.get("model") or body.get("name", "")
                if model in self.fake.scripts:
                    self._json(200, {"modelfile": "", "parameters": "", "template": "",
                                     "model_info": {"general.architecture": "fake"},
                                     "details": {"family": "fake"}, "capabilities": ["completion"]})
                else:
                    self._json(404, {"error": f"model '{model}' not found"})
            elif path in ("/v1/chat/completions", "/chat/completions"):
                self._openai_chat(body)
            elif path in ("/v1/messages", "/messages"):
                self._anthropic_messages(body)
            else:
                self._json(404, {"error": f"no route {path}"})
        except (_Dropped, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- Ollama ----------------------------------------------------------------------------
    def _ollama_chat(self, body: dict) -> None:
        model = body.get("model", "")
        messages = body.get("messages", [])
        self.fake.log({"protocol": "ollama", "model": model, "body": body,
                       "headers": dict(self.headers)})
        reply = self.fake.next_reply(model, messages)
        if reply is None:
            self._json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        if reply.status != 200:
            self._json(reply.status, {"error": reply.error or "error"})
            return
        prompt_tokens, completion_tokens = _usage(reply, messages)
        now = "2026-01-01T00:00:00.000000Z"
        final = {"model": model, "created_at": now,
                 "message": {"role": "assistant", "content": ""}, "done": True,
                 "done_reason": "stop", "total_duration": 1000, "load_duration": 10,
                 "prompt_eval_count": prompt_tokens, "prompt_eval_duration": 100,
                 "eval_count": completion_tokens, "eval_duration": 500}
        if body.get("stream") is False:
            list(self._pieces(reply))
            final["message"] = {"role": "assistant", "content": reply.text}
            if reply.thinking:
                final["message"]["thinking"] = reply.thinking
            self._json(200, final)
            return
        self._start_stream("application/x-ndjson")
        for kind, piece in self._pieces(reply):
            msg = {"role": "assistant", "content": piece if kind == "text" else ""}
            if kind == "thinking":
                msg["thinking"] = piece
            self._chunk(json.dumps({"model": model, "created_at": now, "message": msg,
                                    "done": False}) + "\n")
        self._chunk(json.dumps(final) + "\n")
        self._end_stream()

    # -- OpenAI ----------------------------------------------------------------------------
    def _openai_chat(self, body: dict) -> None:
        model = body.get("model", "")
        messages = body.get("messages", [])
        self.fake.log({"protocol": "openai", "model": model, "body": body,
                       "headers": dict(self.headers)})
        auth = self.headers.get("Authorization", "")
        if not self._authorised(auth.removeprefix("Bearer ")):
            self._json(401, {"error": {"message": "Incorrect API key provided.",
                                       "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        reply = self.fake.next_reply(model, messages)
        if reply is None:
            self._json(404, {"error": {
                "message": f"The model `{model}` does not exist or you do not have access to it.",
                "type": "invalid_request_error", "param": None, "code": "model_not_found"}})
            return
        if reply.status != 200:
            self._json(reply.status, {"error": {"message": reply.error or "error",
                                                "type": "server_error", "code": None}})
            return
        prompt_tokens, completion_tokens = _usage(reply, messages)
        cid = "chatcmpl-" + uuid.uuid4().hex[:12]
        base = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model, "system_fingerprint": "fp_fake"}

        def send(obj: dict) -> None:
            self._chunk("data: " + json.dumps(obj) + "\n\n")

        self._start_stream("text/event-stream")
        send({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                   "finish_reason": None}]})
        for kind, piece in self._pieces(reply):
            delta = {"content": piece} if kind == "text" else {"reasoning_content": piece}
            send({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            send({**base, "choices": [], "usage": {
                "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}})
        self._chunk("data: [DONE]\n\n")
        self._end_stream()

    # -- Anthropic -------------------------------------------------------------------------
    def _anthropic_messages(self, body: dict) -> None:
        model = body.get("model", "")
        messages = list(body.get("messages", []))
        if body.get("system"):
            messages.insert(0, {"role": "system", "content": body["system"]})
        self.fake.log({"protocol": "anthropic", "model": model, "body": body,
                       "headers": dict(self.headers)})
        bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if not (self._authorised(self.headers.get("x-api-key")) or self._authorised(bearer)):
            self._json(401, {"type": "error", "error": {"type": "authentication_error",
                                                        "message": "invalid x-api-key"}})
            return
        reply = self.fake.next_reply(model, messages)
        if reply is None:
            self._json(404, {"type": "error", "error": {"type": "not_found_error",
                                                        "message": f"model: {model}"}})
            return
        if reply.status != 200:
            self._json(reply.status, {"type": "error", "error": {
                "type": "api_error", "message": reply.error or "error"}})
            return
        prompt_tokens, completion_tokens = _usage(reply, messages)

        def send(event: str, obj: dict) -> None:
            self._chunk(f"event: {event}\ndata: {json.dumps(obj)}\n\n")

        self._start_stream("text/event-stream")
        send("message_start", {"type": "message_start", "message": {
            "id": "msg_" + uuid.uuid4().hex[:12], "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}})
        index = -1
        current = None
        for kind, piece in self._pieces(reply):
            if kind != current:
                if current is not None:
                    send("content_block_stop", {"type": "content_block_stop", "index": index})
                index += 1
                current = kind
                block = {"type": "thinking", "thinking": ""} if kind == "thinking" else \
                    {"type": "text", "text": ""}
                send("content_block_start", {"type": "content_block_start", "index": index,
                                             "content_block": block})
            delta = {"type": "text_delta", "text": piece} if kind == "text" else \
                {"type": "thinking_delta", "thinking": piece}
            send("content_block_delta", {"type": "content_block_delta", "index": index,
                                         "delta": delta})
        if current is not None:
            send("content_block_stop", {"type": "content_block_stop", "index": index})
        send("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": completion_tokens}})
        send("message_stop", {"type": "message_stop"})
        self._end_stream()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=11434)
    ap.add_argument("--script", help="JSON file: {model: [reply text, ...]} (cycled)")
    ap.add_argument("--delay", type=float, default=0.02,
                    help="seconds between streamed chunks of scripted replies (0.02)")
    ap.add_argument("--chunk-size", type=int, default=8, help="characters per chunk (8)")
    ap.add_argument("--model", action="append", default=[],
                    help="a model that answers FINAL(42) after one code block")
    args = ap.parse_args()
    scripts: dict[str, Script] = {}
    if args.script:
        with open(args.script) as fh:
            for model, replies in json.load(fh).items():
                counter = {"n": 0}

                def cycle(_msgs, replies=replies, counter=counter):
                    r = replies[counter["n"] % len(replies)]
                    counter["n"] += 1
                    return Reply(text=r, delay=args.delay, chunk_size=args.chunk_size)

                scripts[model] = cycle
    for model in args.model:
        def demo(msgs):
            n = sum(1 for m in msgs if m.get("role") == "assistant")
            if n == 0:
                return Reply(text="Let me look at the data.\n```repl\nprint(type(context), "
                                  "len(context or ''))\n```\n", delay=0.02)
            return Reply(text="FINAL(42)", delay=0.02)
        scripts[model] = demo
    server = FakeLLMServer(scripts, port=args.port)
    print(f"fake LLM server on {server.url} with models: {', '.join(scripts) or '(none)'}",
          flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
