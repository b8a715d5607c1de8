"""``omnifoa serve``: the resident service (loopback, or ``--listen`` over TLS for people
with their own tokens), and ``omnifoa serve tokens add|revoke|list``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from plugin_core.cli.values import number, whole

if TYPE_CHECKING:  # the service is imported only when it is started
    from plugin_core.service.files_api import FileSettings


def _folder(args: argparse.Namespace) -> Path:
    """The service's config folder (``--state-dir``, or the user's), made 0700."""
    from plugin_core.service.state_file import config_dir

    folder = Path(args.state_dir) if args.state_dir else config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _serve(args: argparse.Namespace) -> int:
    from plugin_core.errors import InputError
    from plugin_core.service.http_server import serve
    from plugin_core.service.listen import remote_access

    tls = args.tls_cert or args.tls_key or args.tls_self_signed
    if args.listen is None and tls:
        raise InputError("TLS is for listening beyond loopback: add --listen HOST:PORT.")
    if args.listen is not None and args.port is not None:
        raise InputError("Give the port in --listen HOST:PORT, not also --port.")
    folder = _folder(args)
    remote = None
    if args.listen is not None:
        cert, key = (None if p is None else Path(p) for p in (args.tls_cert, args.tls_key))
        remote = remote_access(args.listen, folder, cert, key, args.tls_self_signed)
    serve(args.port or 0, folder, args.device, remote=remote, settings=_file_settings(args))
    return 0


def _file_settings(args: argparse.Namespace) -> FileSettings:
    """The shared roots, upload cap and retention limit the flags ask for."""
    from plugin_core.service.files_api import FileSettings
    from plugin_core.service.storage_roots import shared_root
    from plugin_core.service.uploads import GIB, Retention

    return FileSettings(
        tuple(shared_root(Path(root)) for root in args.shared_root),
        int(args.upload_cap * GIB),
        Retention(args.keep_days * 86400.0, int(args.keep_gib * GIB)),
    )


def _tokens_add(args: argparse.Namespace) -> int:
    from plugin_core.service.tokens import add_person

    token = add_person(_folder(args), args.name)
    print(f"token of {args.name} (shown once; give it to them, it is stored hashed):")
    print(token)
    return 0


def _tokens_revoke(args: argparse.Namespace) -> int:
    from plugin_core.service.tokens import revoke_person

    revoke_person(_folder(args), args.name)
    print(f"{args.name}'s token is revoked; a running service refuses it from now on.")
    return 0


def _tokens_list(args: argparse.Namespace) -> int:
    from plugin_core.service.tokens import people

    held = people(_folder(args))
    if not held:
        print("No one holds a token yet; add one with `omnifoa serve tokens add NAME`.")
    for name, added in sorted(held.items()):
        print(f"{name}\tadded {time.strftime('%Y-%m-%d %H:%M', time.localtime(added))}")
    return 0


def add_service_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``serve`` (and ``serve tokens``) on the top-level subcommand parser."""
    p = sub.add_parser(
        "serve", help="run the generation service (127.0.0.1 and a token, or --listen with TLS)"
    )
    p.add_argument(
        "--port", type=whole("--port", 0, 65535), help="loopback TCP port (default: any free one)"
    )
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("--state-dir", help="where the address, token, job journal and tokens go")
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="listen beyond loopback (needs TLS and people's tokens: `serve tokens add`)",
    )
    p.add_argument("--tls-cert", help="the server's certificate (PEM), with --tls-key")
    p.add_argument("--tls-key", help="the certificate's unencrypted private key (PEM)")
    p.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="make (once) a self-signed certificate for the --listen host and print its "
        "fingerprint",
    )
    p.add_argument(
        "--shared-root",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder jobs may read videos from by path (repeat for more); once one is given "
        "(or with --listen) jobs read only there and their own uploads",
    )
    p.add_argument(
        "--upload-cap",
        type=number("--upload-cap", 1e-6, 1024.0, "GiB"),
        default=8.0,
        metavar="GIB",
        help="largest upload accepted, in GiB (default 8)",
    )
    p.add_argument(
        "--keep-days",
        type=number("--keep-days", 0.0, 3650.0, "days"),
        default=7.0,
        help="uploads and results older than this are removed (default 7)",
    )
    p.add_argument(
        "--keep-gib",
        type=number("--keep-gib", 1e-6, 1e6, "GiB"),
        default=64.0,
        metavar="GIB",
        help="what one person's uploads and results may take, in GiB; the oldest go first "
        "(default 64)",
    )
    p.set_defaults(run=_serve)
    tsub = p.add_subparsers(dest="serve_command")
    tokens = tsub.add_parser("tokens", help="people's tokens for remote use")
    psub = tokens.add_subparsers(dest="tokens_command", required=True)
    for name, run, what in (
        ("add", _tokens_add, "give NAME a new token (printed once)"),
        ("revoke", _tokens_revoke, "refuse NAME's token from now on"),
        ("list", _tokens_list, "who holds a token"),
    ):
        q = psub.add_parser(name, help=what)
        if name != "list":
            q.add_argument("name", metavar="NAME")
        q.add_argument("--state-dir", default=argparse.SUPPRESS, help="the service's folder")
        q.set_defaults(run=run)
