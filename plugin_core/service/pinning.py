"""How a client trusts a remote service over HTTPS: a CA file (the server's own certificate
for a self-signed one), or the SHA-256 fingerprint of the server's certificate, pinned.

A pinned connection checks the fingerprint right after the TLS handshake, before a byte of the
request (and so the token) is sent; a mismatch closes it. Standard library only, so every
client (the CLI, scripts) can use it.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import ssl
import urllib.request
from pathlib import Path
from typing import Any

_HEX = re.compile(r"[0-9a-f]{64}")


class PinMismatch(ssl.SSLError):
    """The server's certificate is not the one the client pinned."""


def _colons(digest: str) -> str:
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


def fingerprint_of(der: bytes) -> str:
    """A certificate's SHA-256 fingerprint as ``AB:CD:…`` (what ``omnifoa serve`` prints)."""
    return _colons(hashlib.sha256(der).hexdigest())


def parse_fingerprint(text: str) -> str:
    """``text`` (64 hex digits, colons and case free) as :func:`fingerprint_of` writes it;
    ValueError otherwise."""
    plain = text.strip().replace(":", "").lower()
    if not _HEX.fullmatch(plain):
        raise ValueError(
            f"A certificate fingerprint is 64 hexadecimal digits (SHA-256, colons allowed), "
            f"not {text[:100]!r}."
        )
    return _colons(plain)


class Trust:
    """How a client trusts the server: the certificates in ``ca`` (None: the system's CAs),
    or, with ``fingerprint``, only the certificate that has it (hostname not checked: the
    pin names the certificate itself)."""

    def __init__(self, ca: Path | None = None, fingerprint: str | None = None) -> None:
        self.pin = None if fingerprint is None else parse_fingerprint(fingerprint)
        if self.pin is not None:
            self.context = ssl.create_default_context()
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        else:
            self.context = ssl.create_default_context(cafile=None if ca is None else str(ca))

    def connection(self, host: str, port: int | None, **options: Any) -> HTTPSConnection:
        """An HTTPS connection to ``host`` that trusts only what this trust does."""
        connection = HTTPSConnection(host, port, context=self.context, **options)
        connection.pin = self.pin
        return connection

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener with this trust; it follows no redirects (a token stays where
        sent)."""
        opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.HTTPHandler(),
            _TrustHandler(self),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            opener.add_handler(handler)
        return opener


class HTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection that, with a ``pin``, goes on only to the certificate with that
    fingerprint: checked right after the handshake, before a byte of a request is sent."""

    pin: str | None = None

    def connect(self) -> None:
        super().connect()
        if self.pin is None:
            return
        der = self.sock.getpeercert(binary_form=True)
        if der is None or fingerprint_of(der) != self.pin:
            self.sock.close()
            raise PinMismatch(
                f"the server's certificate has the SHA-256 fingerprint "
                f"{fingerprint_of(der or b'')}, not the pinned {self.pin}"
            )


class _TrustHandler(urllib.request.HTTPSHandler):
    def __init__(self, trust: Trust) -> None:
        super().__init__(context=trust.context)
        self.trust = trust

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connect(host: str, **options: Any) -> HTTPSConnection:
            options.pop("context", None)
            return self.trust.connection(host, None, **options)

        return self.do_open(connect, req)
