"""The ``omnifoa`` command line: the parser of every command group, and the error boundary."""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from plugin_core import __version__
from plugin_core.atomic_files import output_transaction
from plugin_core.cli.batch import add_batch_commands
from plugin_core.cli.conform import add_conform_commands
from plugin_core.cli.doctor import add_doctor_commands
from plugin_core.cli.failures import BAD_INPUT, INTERRUPTED, describe
from plugin_core.cli.generate import add_generate_commands
from plugin_core.cli.media import add_media_commands
from plugin_core.cli.models import add_model_commands
from plugin_core.cli.preview import add_preview_commands
from plugin_core.cli.reaper import add_reaper_commands
from plugin_core.cli.service import add_service_commands
from plugin_core.cli.synth import add_synth_commands
from plugin_core.cli.takes import add_takes_commands
from plugin_core.cli.training import add_training_commands
from plugin_core.errors import OmnifoaError


class CommandParser(argparse.ArgumentParser):
    """argparse with omnifoa's failure contract: a bad flag is one sentence, exit 2."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"^argument ([^:]+): (?=\1 )", "", message)  # the flag is named once
        print(f"omnifoa: error: {message}; see `{self.prog} --help`.", file=sys.stderr, flush=True)
        raise SystemExit(BAD_INPUT)


def _one_line_warning(message: Warning | str, *_: object, **__: object) -> str:
    return "omnifoa: warning: " + " ".join(str(message).split()) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``omnifoa`` command."""
    parser = CommandParser(prog="omnifoa", description="First-Order Ambisonics for 360° video.")
    parser.add_argument("--version", action="version", version=f"omnifoa {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show a traceback when something goes wrong"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        add_media_commands,
        add_synth_commands,
        add_generate_commands,
        add_batch_commands,
        add_takes_commands,
        add_model_commands,
        add_training_commands,
        add_service_commands,
        add_reaper_commands,
        add_conform_commands,
        add_preview_commands,
        add_doctor_commands,
    ):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``omnifoa`` command inside the failure contract: a user's mistake or a failing
    system prints one sentence and returns 2; the files of a command marked transactional
    all appear, or none do."""
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("OMNIFOA_DEBUG") == "1"
    if not debug:  # a warning is one line in omnifoa's voice, once, without a source path
        warnings.formatwarning = _one_line_warning
        warnings.simplefilter("once")
    try:
        if getattr(args, "transactional", False):
            with output_transaction():
                return int(args.run(args))
        return int(args.run(args))
    except OmnifoaError as exc:
        print(f"omnifoa: error: {exc}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print("omnifoa: interrupted; nothing it was writing was kept", file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:
        if debug:
            raise
        sentence, status = describe(exc)
        print(f"omnifoa: error: {sentence}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
