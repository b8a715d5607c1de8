"""One HTTP/1.1 connection: uvicorn's h11 protocol with a deadline for each request to arrive,
and the JSON sentence where uvicorn would refuse in plain text.

A client that connects and sends nothing, or trickles its request a byte at a time, costs a
pending timer, not a thread; ``REQUEST_DEADLINE_S`` after the connection opened (or after the
previous answer on it) it is closed, with a 408 if it had begun a request. An upload's bytes
(the body of a ``PATCH``, streamed to disk as it comes) may take longer on a slow link: once
its headers are in, the body must keep coming at ``MIN_BODY_RATE`` or more over each
``BODY_WINDOW_S`` (windows where the service itself holds the bytes back do not count) and
arrive whole within ``BODY_LIMIT_S``; otherwise it gets the 408, and what came is kept.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

import h11
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol

from plugin_core.service.replies import reply_bytes

REQUEST_DEADLINE_S = 20.0  # the whole request (line, headers, body), however slowly it trickles
STREAMED_METHOD = "PATCH"  # an upload's bytes: the one body that may take longer
BODY_WINDOW_S = 20.0  # a streamed body's progress is checked over windows this long
MIN_BODY_RATE = 64 * 1024  # bytes per second a streamed body averages over each window
BODY_LIMIT_S = 3600.0  # a streamed body arrives whole within this, however steadily


class _HeldFlow(FlowControl):
    """uvicorn's flow control, remembering whether reading was paused (the service held the
    client's bytes back) since it was last asked."""

    held = False

    def pause_reading(self) -> None:
        self.held = True
        super().pause_reading()

    def was_held(self) -> bool:
        """Whether reading was paused at any time since the last call."""
        held, self.held = self.held or self.read_paused, self.read_paused
        return held


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 connection, with the request deadline and JSON refusals."""

    _deadline: asyncio.TimerHandle | None = None
    _begun = False  # bytes of a request came since the connection opened or was last answered
    _streaming = False  # the request is a streamed body, held to its rate, not the deadline
    _body_since = 0.0  # when the streamed body's headers were in (loop time)
    _window_bytes = 0  # bytes received in the streamed body's current window

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self.flow = _HeldFlow(transport)
        self._expect_request()

    def data_received(self, data: bytes) -> None:
        self._begun = True
        self._window_bytes += len(data)
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
        self._begun = self._streaming = False
        self._cancel_deadline()
        self._deadline = self.loop.call_later(REQUEST_DEADLINE_S, self._too_slow)

    def _check_request_read(self) -> None:
        state = self.conn.their_state
        if state in (h11.DONE, h11.MUST_CLOSE):
            self._cancel_deadline()
        elif (
            state is h11.SEND_BODY
            and not self._streaming
            and self.scope["method"] == STREAMED_METHOD
        ):
            self._stream_body()

    def _stream_body(self) -> None:
        """The headers are in: from now on the body is held to its rate."""
        self._streaming = True
        self._body_since = self.loop.time()
        self._next_window()

    def _next_window(self) -> None:
        self._cancel_deadline()
        self._window_bytes = 0
        self._deadline = self.loop.call_later(BODY_WINDOW_S, self._check_body)

    def _check_body(self) -> None:
        held = self.flow.was_held() or self.cycle.waiting_for_100_continue
        if self.loop.time() - self._body_since >= BODY_LIMIT_S:
            self._refuse(
                HTTPStatus.REQUEST_TIMEOUT,
                f"The upload's bytes did not arrive whole within {BODY_LIMIT_S:g} s; what came "
                "is kept: send the rest from the offset HEAD gives.",
            )
        elif not held and self._window_bytes < MIN_BODY_RATE * BODY_WINDOW_S:
            self._refuse(
                HTTPStatus.REQUEST_TIMEOUT,
                f"The upload's bytes came slower than {MIN_BODY_RATE / 1024:g} KiB/s over "
                f"{BODY_WINDOW_S:g} s; what came is kept: send the rest from the offset HEAD "
                "gives.",
            )
        else:
            self._next_window()

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
