"""What every request passes before an endpoint sees it (pure ASGI middleware, outermost
first): a ``Host`` the service is for (loopback names, or in remote use the listening host and
its certificate's names: no DNS rebinding), a token saying who asks, and a limit on requests
answered at once that health is exempt from. HTTP scopes only: the server runs no lifespan
and no WebSockets."""

from __future__ import annotations

from http import HTTPStatus

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from plugin_core.service.replies import refusal
from plugin_core.service.tokens import Caller, Identify

HEALTH = "/v1/health"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
RETRY_AFTER_S = 1


def _values(scope: Scope, name: bytes) -> list[bytes]:
    return [value for key, value in scope["headers"] if key == name]


class HostCheck:
    """Answers only requests addressed to one of ``names`` (bare or with the service's port):
    a web page whose own name was rebound to the service's address sends its own name, and
    is refused."""

    def __init__(self, app: ASGIApp, names: tuple[str, ...], port: int) -> None:
        self.app = app
        self.names, self.port = names, port
        self.allowed = {
            f"{name}{suffix}".lower().encode() for name in names for suffix in ("", f":{port}")
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hosts = [host.lower() for host in _values(scope, b"host")]
        if len(hosts) == 1 and hosts[0] in self.allowed:
            await self.app(scope, receive, send)
            return
        given = repr(hosts[0].decode("latin-1")[:100]) if hosts else "none"
        sentence = (
            f"The service answers only the Host {' or '.join(self.names)} (port {self.port}), "
            f"not {given}."
        )
        await refusal(HTTPStatus.MISDIRECTED_REQUEST, sentence)(scope, receive, send)


class TokenCheck:
    """Answers only requests whose ``Authorization: Bearer <token>`` ``identify`` knows; the
    caller goes to the request's state (``request.state.caller``)."""

    def __init__(self, app: ASGIApp, identify: Identify) -> None:
        self.app = app
        self.identify = identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = _values(scope, b"authorization")
        caller = self.identify(given[0]) if len(given) == 1 else None
        if caller is not None:
            scope.setdefault("state", {})["caller"] = caller
            await self.app(scope, receive, send)
            return
        sentence = "A valid token is needed (Authorization: Bearer)."
        await refusal(HTTPStatus.UNAUTHORIZED, sentence)(scope, receive, send)


def whose(request: Request) -> str | None:
    """The person the request's token speaks for (None: the loopback service's own user)."""
    caller: Caller = request.state.caller
    return caller.person


class RequestLimit:
    """At most ``limit`` requests are answered at once (a long-poll counts while it waits);
    one more is told to come back (503 with ``Retry-After``). Health is always answered."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0  # the event loop's own count: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == HEALTH:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            sentence = (
                f"The service is answering {self.limit} requests already; ask again in "
                f"{RETRY_AFTER_S} s."
            )
            busy = refusal(
                HTTPStatus.SERVICE_UNAVAILABLE, sentence, {"Retry-After": str(RETRY_AFTER_S)}
            )
            await busy(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
