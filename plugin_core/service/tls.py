"""The remote service's TLS certificate: the one given (``--tls-cert``/``--tls-key``), or a
self-signed one made for the listening host and kept in the service's config folder (so its
fingerprint, which laptops pin, stays the same from one start to the next).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from plugin_core.errors import InputError
from plugin_core.service.pinning import fingerprint_of
from plugin_core.service.state_file import write_private_bytes

SELF_SIGNED_DIR = "tls"
VALID_DAYS = 825  # the longest validity Apple's TLS clients accept for a server certificate


@dataclass(frozen=True)
class Certificate:
    """The certificate the service presents: its files, the host names and addresses it is
    for, and its SHA-256 fingerprint."""

    cert: Path
    key: Path
    names: tuple[str, ...]
    fingerprint: str


def _subject_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    names = [*alt.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in alt.get_values_for_type(x509.IPAddress)]
    return tuple(name.lower() for name in names)


def load_certificate(cert: Path, key: Path) -> Certificate:
    """The certificate in ``cert`` with its private key ``key`` (PEM); InputError when they
    cannot serve TLS together."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
        leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise InputError(
            f"Cannot serve TLS with the certificate {cert} and key {key} ({exc}); give a PEM "
            "certificate and its unencrypted private key."
        ) from None
    der = leaf.public_bytes(serialization.Encoding.DER)
    return Certificate(cert, key, _subject_names(leaf), fingerprint_of(der))


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed(folder: Path, host: str) -> Certificate:
    """The self-signed certificate for ``host`` kept in ``folder``/tls, made now (ECDSA P-256)
    when there is none or it expires within a day."""
    store = folder / SELF_SIGNED_DIR
    cert, key = store / f"{host}.crt", store / f"{host}.key"
    if cert.is_file() and key.is_file():
        try:
            found = x509.load_pem_x509_certificate(cert.read_bytes())
        except (OSError, ValueError) as exc:
            raise InputError(
                f"Cannot read the self-signed certificate {cert} ({exc}); remove it and its "
                "key to make a new one (laptops then pin the new fingerprint)."
            ) from None
        tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        if found.not_valid_after_utc > tomorrow:
            return load_certificate(cert, key)
    store.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"omnifoa service {host}")])
    now = datetime.datetime.now(datetime.UTC)
    made = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([_host_name(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private.public_key()), False)
        .sign(private, hashes.SHA256())
    )
    write_private_bytes(
        key,
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_private_bytes(cert, made.public_bytes(serialization.Encoding.PEM))
    return load_certificate(cert, key)
