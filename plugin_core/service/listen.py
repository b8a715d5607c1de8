"""What ``omnifoa serve --listen HOST:PORT`` needs before it listens beyond loopback: TLS (a
certificate and key given, or a self-signed one made for the host) and at least one person's
token. Anything missing is one sentence, and the service does not start.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from plugin_core.errors import InputError
from plugin_core.service.tls import Certificate, load_certificate, self_signed
from plugin_core.service.tokens import TokenBook

_LISTEN = re.compile(
    r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>[0-9]{1,5})"
)
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
WILDCARDS = ("0.0.0.0", "::")


@dataclass(frozen=True)
class Remote:
    """Listening beyond loopback: the host and port, the certificate, the people's tokens."""

    host: str
    port: int
    certificate: Certificate
    tokens: TokenBook

    def url(self, port: int) -> str:
        return f"https://{_in_url(self.host)}:{port}"

    def host_names(self) -> tuple[str, ...]:
        """The ``Host`` names answered: the listening host and the certificate's names."""
        names = [] if self.host in WILDCARDS else [self.host.lower()]
        names += [n for n in self.certificate.names if n not in names]
        return tuple(_in_url(n) for n in names)


def _in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 address in brackets) as (host, port); InputError otherwise."""
    match = _LISTEN.fullmatch(text.strip())
    host = match and (match["ip6"] or match["host"])
    if not match or not host or int(match["port"]) > 65535 or not _host_ok(host):
        raise InputError(
            f"--listen takes HOST:PORT (a host name or address, [v6 address], and a port up to "
            f"65535), not {text[:100]!r}."
        )
    return host, int(match["port"])


def _host_ok(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return len(host) <= 253 and all(_DNS_LABEL.fullmatch(p) for p in host.split("."))


def remote_access(
    listen: str,
    folder: Path,
    cert: Path | None = None,
    key: Path | None = None,
    make_self_signed: bool = False,
) -> Remote:
    """The remote service's TLS and tokens for ``listen``, from the config ``folder``;
    InputError (the service does not start) when TLS or tokens are missing."""
    host, port = parse_listen(listen)
    if (cert is None) != (key is None):
        raise InputError("Give --tls-cert and --tls-key together (a certificate and its key).")
    if cert is not None and make_self_signed:
        raise InputError("Give --tls-cert/--tls-key or --tls-self-signed, not both.")
    if cert is None and not make_self_signed:
        raise InputError(
            f"Listening on {listen} needs TLS: give --tls-cert and --tls-key, or --tls-self-signed."
        )
    if make_self_signed and host in WILDCARDS:
        raise InputError(
            f"A self-signed certificate is made for the name or address laptops use, not "
            f"{host}; --listen on that address."
        )
    tokens = TokenBook(folder)
    if not len(tokens):
        raise InputError(
            f"Listening on {listen} needs people's tokens and there are none in {folder}; "
            "add one with `omnifoa serve tokens add NAME`."
        )
    if cert is not None and key is not None:
        certificate = load_certificate(cert, key)
    else:
        certificate = self_signed(folder, host)
    remote = Remote(host, port, certificate, tokens)
    if not remote.host_names():
        raise InputError(
            f"The certificate {certificate.cert} names no host and {host} is every address: "
            "--listen on the name laptops use, or give a certificate naming it."
        )
    return remote
