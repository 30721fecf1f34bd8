"""A loopback server speaking OpenAI's Batch API and Anthropic's Message Batches as documented.

OpenAI: POST /v1/files (multipart, purpose=batch), GET /v1/files/{id}/content, POST /v1/batches,
GET /v1/batches/{id}, POST /v1/batches/{id}/cancel; batches go validating -> in_progress ->
finalizing -> completed (or expired, cancelled), answers in an output file and failures in an error
file. Anthropic: POST /v1/messages/batches, GET .../{id}, POST .../{id}/cancel, GET .../{id}/results
(JSONL at an absolute `results_url`); in_progress -> ended (or canceling -> ended).

Answers echo the last user message. A batch ends after `polls_to_end` retrievals. Per request,
a user message containing FAIL_ONCE errors the first time its custom id is seen, FAIL always
errors (a server error), BAD is an invalid request; `expire_next` makes the next batch expire with
only its first half answered. Results come back in reverse order (custom ids must match them).
Written for tests: every request and key it receives is counted, nothing is persisted.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)


def _last_user(messages: list[dict[str, Any]]) -> str:
    return next((str(m["content"]) for m in reversed(messages) if m["role"] == "user"), "")


class BatchServer:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key  # when set, requests must carry it (Bearer or x-api-key)
        self.polls_to_end = 2
        self.expire_next = False
        self.files: dict[str, bytes] = {}
        self.openai: dict[str, dict[str, Any]] = {}
        self.anthropic: dict[str, dict[str, Any]] = {}
        self.submitted: Counter[str] = Counter()  # custom id -> times it arrived in a batch
        self.created: list[str] = []  # batch ids, in creation order
        self.headers_seen: list[str] = []
        self.bodies_seen: list[bytes] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "BatchServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- answering one request ------------------------------------------------------------
    def _outcome(self, cid: str, text: str) -> str:
        first = self.submitted[cid] == 1
        if "BAD" in text:
            return "bad"
        if "FAIL_ONCE" in text:
            return "fail" if first else "ok"
        return "fail" if "FAIL" in text else "ok"

    def _plan(self, items: list[tuple[str, str]]) -> dict[str, str]:
        """custom id -> ok | fail | bad | expired, decided when the batch is created."""
        expire, self.expire_next = self.expire_next, False
        for cid, _ in items:
            self.submitted[cid] += 1
        plan = {cid: self._outcome(cid, text) for cid, text in items}
        if expire:
            for cid, _ in items[len(items) // 2 :]:
                plan[cid] = "expired"
        return plan

    # -- OpenAI -----------------------------------------------------------------------------
    def openai_create(self, body: dict[str, Any]) -> dict[str, Any]:
        lines = [json.loads(x) for x in self.files[body["input_file_id"]].decode().splitlines() if x.strip()]
        bid = f"batch_{next(_ids)}"
        plan = self._plan([(ln["custom_id"], _last_user(ln["body"]["messages"])) for ln in lines])
        self.openai[bid] = {"id": bid, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                            "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                            "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": 1,
                            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                            "metadata": body.get("metadata"), "_lines": lines, "_plan": plan, "_polls": 0}  # fmt: skip
        self.created.append(bid)
        return self.openai[bid]

    def openai_poll(self, bid: str) -> dict[str, Any]:
        batch = self.openai[bid]
        if batch["status"] in ("completed", "expired", "cancelled"):
            return batch
        batch["_polls"] += 1
        if batch["status"] == "cancelling" or batch["_polls"] >= self.polls_to_end:
            self._openai_end(batch)
        else:
            batch["status"] = "in_progress" if batch["_polls"] < self.polls_to_end - 1 else "finalizing"
            batch["request_counts"]["completed"] = batch["_polls"] * len(batch["_lines"]) // (self.polls_to_end + 1)
        return batch

    def _openai_end(self, batch: dict[str, Any]) -> None:
        out, err = [], []
        cancelled = batch["status"] == "cancelling"
        for ln in reversed(batch["_lines"]):
            cid, outcome = ln["custom_id"], batch["_plan"][ln["custom_id"]]
            rid = f"batch_req_{next(_ids)}"
            if cancelled or outcome == "expired":
                code = "batch_cancelled" if cancelled else "batch_expired"
                err.append({"id": rid, "custom_id": cid, "response": None, "error": {"code": code, "message": "not executed"}})
            elif outcome == "ok":
                text = "echo: " + _last_user(ln["body"]["messages"])
                usage = {"prompt_tokens": len(json.dumps(ln["body"]["messages"])) // 4, "completion_tokens": len(text.split())}
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                completion = {"id": f"chatcmpl-{rid}", "object": "chat.completion", "created": 1, "model": ln["body"]["model"],
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
                                           "logprobs": None}], "usage": usage}  # fmt: skip
                out.append({"id": rid, "custom_id": cid, "response": {"status_code": 200, "request_id": rid, "body": completion}, "error": None})
            else:
                status, kind = (400, "invalid_request_error") if outcome == "bad" else (500, "server_error")
                body = {"error": {"message": f"injected {outcome}", "type": kind, "code": None}}
                err.append({"id": rid, "custom_id": cid, "response": {"status_code": status, "request_id": rid, "body": body}, "error": None})
        for name, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                fid = f"file-{next(_ids)}"
                self.files[fid] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[name] = fid
        expired = any(o == "expired" for o in batch["_plan"].values())
        batch["status"] = "cancelled" if cancelled else "expired" if expired else "completed"
        batch["request_counts"].update(completed=len(out), failed=len(err))

    # -- Anthropic --------------------------------------------------------------------------
    def anthropic_create(self, body: dict[str, Any]) -> dict[str, Any]:
        reqs = body["requests"]
        bid = f"msgbatch_{next(_ids)}"
        plan = self._plan([(r["custom_id"], _last_user(r["params"]["messages"])) for r in reqs])
        counts = {"processing": len(reqs), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        self.anthropic[bid] = {"id": bid, "type": "message_batch", "processing_status": "in_progress", "request_counts": counts,
                               "created_at": "2026-12-01T00:00:00Z", "expires_at": "2026-12-02T00:00:00Z", "ended_at": None,
                               "cancel_initiated_at": None, "archived_at": None, "results_url": None,
                               "_requests": reqs, "_plan": plan, "_polls": 0}  # fmt: skip
        self.created.append(bid)
        return self.anthropic[bid]

    def anthropic_poll(self, bid: str) -> dict[str, Any]:
        batch = self.anthropic[bid]
        if batch["processing_status"] != "ended":
            batch["_polls"] += 1
            if batch["processing_status"] == "canceling" or batch["_polls"] >= self.polls_to_end:
                self._anthropic_end(batch)
        return batch

    def _anthropic_end(self, batch: dict[str, Any]) -> None:
        cancelled = batch["processing_status"] == "canceling"
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        lines = []
        for r in reversed(batch["_requests"]):
            outcome = "canceled" if cancelled else batch["_plan"][r["custom_id"]]
            if outcome == "ok":
                text = "echo: " + _last_user(r["params"]["messages"])
                usage = {"input_tokens": len(json.dumps(r["params"]["messages"])) // 4, "output_tokens": len(text.split())}
                message = {"id": f"msg_{next(_ids)}", "type": "message", "role": "assistant", "model": r["params"]["model"],
                           "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                           "usage": usage}  # fmt: skip
                result: dict[str, Any] = {"type": "succeeded", "message": message}
                counts["succeeded"] += 1
            elif outcome in ("fail", "bad"):
                kind = "invalid_request_error" if outcome == "bad" else "api_error"
                result = {"type": "errored", "error": {"type": "error", "error": {"type": kind, "message": f"injected {outcome}"}}}
                counts["errored"] += 1
            else:
                result = {"type": outcome}
                counts[outcome] += 1
            lines.append({"custom_id": r["custom_id"], "result": result})
        batch["_results"] = "".join(json.dumps(x) + "\n" for x in lines).encode()
        batch.update(processing_status="ended", request_counts=counts, ended_at="2026-12-01T01:00:00Z",
                     results_url=f"{self.url}/v1/messages/batches/{batch['id']}/results")  # fmt: skip


def _public(obj: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in obj.items() if not k.startswith("_")}).encode()


def _handler(server: BatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server.bodies_seen.append(raw)
            return raw

        def _route(self, method: str) -> None:
            server.headers_seen.append(str(self.headers))
            given = {self.headers.get("x-api-key"), (self.headers.get("Authorization") or "").removeprefix("Bearer ")}
            if not given - {None, ""} or (server.api_key and server.api_key not in given):
                return self._send(401, b'{"error": {"message": "no key", "type": "authentication_error"}}')
            path = self.path.split("?")[0].rstrip("/")
            parts = path.split("/")[2:]  # after /v1
            with server.lock:
                raw = self._body() if method == "POST" else b""
                if parts[:1] == ["files"] and method == "POST":
                    msg = BytesParser().parsebytes(b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + raw)
                    form = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True) for p in msg.get_payload()}
                    fid = f"file-{next(_ids)}"
                    server.files[fid] = form["file"]
                    return self._send(200, json.dumps({"id": fid, "object": "file", "bytes": len(form["file"]), "created_at": 1,
                                                       "filename": "batch.jsonl", "purpose": form["purpose"].decode(),
                                                       "status": "processed"}).encode())  # fmt: skip
                if parts[:1] == ["files"] and parts[-1] == "content":
                    return self._send(200, server.files[parts[1]], "application/octet-stream")
                if parts[:1] == ["batches"]:
                    if method == "POST" and len(parts) == 1:
                        return self._send(200, _public(server.openai_create(json.loads(raw))))
                    if parts[1] not in server.openai:
                        return self._send(404, b'{"error": {"message": "no such batch"}}')
                    if parts[-1] == "cancel":
                        batch = server.openai[parts[1]]
                        if batch["status"] not in ("completed", "expired", "cancelled"):
                            batch["status"] = "cancelling"
                        return self._send(200, _public(batch))
                    return self._send(200, _public(server.openai_poll(parts[1])))
                if parts[:2] == ["messages", "batches"]:
                    if method == "POST" and len(parts) == 2:
                        return self._send(200, _public(server.anthropic_create(json.loads(raw))))
                    if parts[2] not in server.anthropic:
                        return self._send(404, b'{"type": "error", "error": {"type": "not_found_error", "message": "no batch"}}')
                    batch = server.anthropic[parts[2]]
                    if parts[-1] == "cancel":
                        if batch["processing_status"] == "in_progress":
                            batch["processing_status"] = "canceling"
                        return self._send(200, _public(batch))
                    if parts[-1] == "results":
                        if batch["processing_status"] != "ended":
                            return self._send(404, b'{"type": "error", "error": {"type": "not_found_error", "message": "not ended"}}')
                        return self._send(200, batch["_results"], "application/binary")
                    return self._send(200, _public(server.anthropic_poll(parts[2])))
            self._send(404, b'{"error": {"message": "unknown route"}}')

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

    return Handler
