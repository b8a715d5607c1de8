"""The ``omnifoa`` command line: the parser of every command group, and the error boundary."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from plugin_core import __version__
from plugin_core.cli.conform import add_conform_commands
from plugin_core.cli.generate import add_generate_commands
from plugin_core.cli.media import add_media_commands
from plugin_core.cli.models import add_model_commands
from plugin_core.cli.preview import add_preview_commands
from plugin_core.cli.reaper import add_reaper_commands
from plugin_core.cli.service import add_service_commands
from plugin_core.cli.synth import add_synth_commands
from plugin_core.cli.training import add_training_commands
from plugin_core.errors import OmnifoaError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``omnifoa`` command."""
    parser = argparse.ArgumentParser(
        prog="omnifoa", description="First-Order Ambisonics for 360° video."
    )
    parser.add_argument("--version", action="version", version=f"omnifoa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        add_media_commands,
        add_synth_commands,
        add_generate_commands,
        add_model_commands,
        add_training_commands,
        add_service_commands,
        add_reaper_commands,
        add_conform_commands,
        add_preview_commands,
    ):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``omnifoa`` command; user errors print one sentence and return 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except OmnifoaError as exc:
        print(f"omnifoa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("omnifoa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
