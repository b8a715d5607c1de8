"""``omnifoa serve``: the resident local service."""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_core.cli.values import whole


def _serve(args: argparse.Namespace) -> int:
    from plugin_core.errors import InputError
    from plugin_core.service.http_server import serve
    from plugin_core.service.state_file import config_dir

    if not 0 <= args.port <= 65535:
        raise InputError(f"A port lies between 0 and 65535, not {args.port}.")
    state_dir = Path(args.state_dir) if args.state_dir else config_dir()
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    serve(args.port, state_dir, args.device)
    return 0


def add_service_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``serve`` on the top-level subcommand parser."""
    p = sub.add_parser("serve", help="run the local generation service (127.0.0.1, token)")
    p.add_argument(
        "--port", type=whole("--port", 0, 65535), default=0, help="TCP port (default: any free one)"
    )
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("--state-dir", help="where the address, token and job journal go")
    p.set_defaults(run=_serve)
