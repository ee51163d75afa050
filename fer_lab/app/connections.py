"""The app's HTTP connections: uvicorn's HTTP/1.1 protocol with a deadline for a connection's first request.

uvicorn times out idle keep-alive connections but waits forever for a request that never finishes its headers; a
client opening thousands of such connections would use up the server's file handles. Here a connection that has
not sent one whole request line and headers within REQUEST_SECONDS is closed.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_SECONDS = 10.0


class TimedH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._first_request = self.loop.call_later(REQUEST_SECONDS, self._close_if_no_request)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None:
            self._first_request.cancel()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._first_request.cancel()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._first_request.cancel()
        super().connection_lost(exc)

    def _close_if_no_request(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()
