"""ASGI middleware that checks what reaches the app before any route reads it.

TrustedHost: a request or WebSocket handshake whose Host header is not a name the app answers to is refused (400)
before anything else runs, so that a page of another site cannot reach the app by DNS rebinding.
BodyLimit: an upload's body is counted as it streams in, with or without a Content-Length, and refused (413) once
over its route's limit; one that sends nothing for `idle_seconds`, or is not whole after `total_seconds`, is
dropped (408).
SameOrigin: a WebSocket handshake or a POST whose Origin is another site, or this one under another scheme (a page
the user has open elsewhere), is refused (403), so only the app's own page drives it; clients that send no Origin
(curl, scripts) are let through.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fer_lab.app.errors import ClientError, Stalled, TooLarge, shown

MB = 2**20
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HOST = re.compile(r"\[(?P<ipv6>[0-9a-f:.]+)\](?::[0-9]+)?|(?P<name>[^\[\]:]+)(?::[0-9]+)?")
"""A Host header: a name or an IPv6 address in brackets, and an optional port."""


class TrustedHost:
    """`allowed_hosts`: the names (and addresses) the app answers to, whatever the port."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]):
        self.app, self.allowed = app, frozenset(host.lower() for host in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = Headers(scope=scope).get("host") if scope["type"] in ("http", "websocket") else None
        if scope["type"] not in ("http", "websocket") or self._answers(host):
            await self.app(scope, receive, send)
            return
        refused = f"the Host header {shown(host)} is not a name the app answers to" if host else "no Host header"
        message = (
            f"{refused}: open the app as localhost or 127.0.0.1, or by a name it was started with (--allowed-hosts)"
        )
        await JSONResponse({"error": message}, status_code=400)(scope, receive, send)  # a WebSocket's handshake too

    def _answers(self, host: str | None) -> bool:
        match = HOST.fullmatch(host.lower()) if host is not None else None
        return match is not None and (match["ipv6"] or match["name"]) in self.allowed


class BodyLimit:
    """`limits`: route path -> (most bytes of the file its body carries, what the file is, for messages); the body
    may have `overhead` bytes more (a form's boundaries and small fields)."""

    def __init__(
        self,
        app: ASGIApp,
        limits: Mapping[str, tuple[int, str]],
        overhead: int,
        idle_seconds: float,
        total_seconds: float,
    ):
        self.app, self.limits, self.overhead = app, dict(limits), overhead
        self.idle_seconds, self.total_seconds = idle_seconds, total_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.limits:
            await self.app(scope, receive, send)
            return
        limit, what = self.limits[scope["path"]]
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit + self.overhead:  # refused before reading a byte of it
            await _answer(TooLarge(too_large(what, limit, int(length))), scope, receive, send)
            return
        received, deadline = 0, asyncio.get_running_loop().time() + self.total_seconds
        refused: ClientError | None = None

        async def counted() -> Message:
            nonlocal received, refused
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), min(self.idle_seconds, max(left, 0.0)))
            except TimeoutError:
                late = left <= self.idle_seconds
                refused = Stalled(
                    f"the {what} did not arrive within {self.total_seconds:g} s: send it again"
                    if late
                    else f"the {what} upload sent nothing for {self.idle_seconds:g} s: send it again"
                )
                raise refused from None
            received += len(message.get("body", b""))
            if received > limit + self.overhead:
                refused = TooLarge(too_large(what, limit))
                raise refused
            return message

        async def answer(message: Message) -> None:
            """The app's answer, or this refusal's when the body was refused (a route may have wrapped it)."""
            if refused is None:
                await send(message)
            elif message["type"] == "http.response.start":
                await _answer(refused, scope, receive, send)

        await self.app(scope, counted, answer)


async def _answer(error: ClientError, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"error": str(error)}, status_code=error.status)(scope, receive, send)


class SameOrigin:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        checked = scope["type"] == "websocket" or (scope["type"] == "http" and scope["method"] not in SAFE_METHODS)
        headers = Headers(scope=scope) if checked else None
        origin = headers.get("origin") if headers is not None else None
        scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
        if headers is None or origin is None or _origin(origin) == (scheme, headers.get("host", "").lower()):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # closing before accepting: the handshake gets 403
            await send({"type": "websocket.close", "code": 1008})
            return
        response = JSONResponse({"error": "requests from another site's page are refused"}, status_code=403)
        await response(scope, receive, send)


def too_large(what: str, limit: int, size: int | None = None) -> str:
    """The message for an upload over its limit (its size when known before reading it)."""
    measured = f"{size / MB:.1f} MB, " if size is not None else ""
    return f"the {what} is {measured}over the {limit / MB:g} MB limit: send a smaller or shorter one"


def _origin(origin: str) -> tuple[str, str] | None:
    """(scheme, host[:port]) of an Origin header ("null" and malformed origins have none)."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    return (parts.scheme, parts.netloc.lower()) if parts.scheme in ("http", "https") and parts.netloc else None
