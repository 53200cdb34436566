"""``BodySizeLimit``: refuse an oversized request body with 413 before any route reads it.

Every body careline takes is small (a Twilio webhook is well under 4 KiB, an app
request under 2 KiB), so a limit of ``Settings.max_request_body_bytes`` (64 KiB)
costs nothing and keeps a flood of bytes from reaching the form and JSON parsers
or the database. A declared ``Content-Length`` over the limit is refused at once;
a body without one (chunked) is read up to the limit, then handed on whole.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodySizeLimit:
    """ASGI middleware; ``max_bytes`` is the largest body accepted, in bytes."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and not length.isdigit():
            await _answer(send, 400, "bad_request", "Content-Length: not a number of bytes")
            return
        if length is not None and int(length) > self.max_bytes:
            await self._too_large(send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away before sending its body
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, send: Send) -> None:
        await _answer(send, 413, "too_large", f"request body over {self.max_bytes} bytes")


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read ahead, once; then the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"code": code, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
