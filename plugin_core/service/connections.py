"""One HTTP/1.1 connection: uvicorn's h11 protocol with a deadline for each request to arrive
whole, and the JSON sentence where uvicorn would refuse in plain text.

A client that connects and sends nothing, or trickles its request a byte at a time, costs a
pending timer, not a thread; ``REQUEST_DEADLINE_S`` after the connection opened (or after the
previous answer on it) it is closed, with a 408 if it had begun a request.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from plugin_core.service.replies import reply_bytes

REQUEST_DEADLINE_S = 20.0  # the whole request (line, headers, body), however slowly it trickles


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 connection, with the request deadline and JSON refusals."""

    _deadline: asyncio.TimerHandle | None = None
    _begun = False  # bytes of a request came since the connection opened or was last answered

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self._expect_request()

    def data_received(self, data: bytes) -> None:
        self._begun = True
        super().data_received(data)
        self._check_request_read()

    def on_response_complete(self) -> None:
        self._expect_request()  # the next request on this connection has its own deadline
        super().on_response_complete()
        self._check_request_read()  # a pipelined request may already be whole

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._refuse(
            HTTPStatus.BAD_REQUEST,
            "The request is not valid HTTP/1.1 (a garbled request line or header, or no Host).",
        )

    def _expect_request(self) -> None:
        self._begun = False
        self._cancel_deadline()
        self._deadline = self.loop.call_later(REQUEST_DEADLINE_S, self._too_slow)

    def _check_request_read(self) -> None:
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE):
            self._cancel_deadline()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        if not self._begun:  # nothing asked: nothing to answer
            self.transport.close()
            return
        self._refuse(
            HTTPStatus.REQUEST_TIMEOUT,
            f"The request did not arrive whole within {REQUEST_DEADLINE_S:g} s.",
        )

    def _refuse(self, status: HTTPStatus, sentence: str) -> None:
        """Answer ``sentence`` and close, whatever state the request is in."""
        if self.transport.is_closing():
            return
        body = reply_bytes({"error": sentence})
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()
