"""``omnifoa generate`` and ``omnifoa demo``: flags built from the request's own field specs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from plugin_core.errors import InputError
from plugin_core.generation.request import FieldSpec, check_field, field_default, field_specs

_NUMBERS = {"int": int, "float": float}
_POSITIONAL = ("video", "output")


def _flag(name: str, spec: FieldSpec) -> str:
    return spec.flag or "--" + name.replace("_", "-")


def _help(name: str, spec: FieldSpec) -> str:
    default = field_default(name)
    parts = [spec.help]
    if spec.choices:
        parts.append("one of " + ", ".join(str(c) for c in spec.choices))
    elif spec.minimum is not None and spec.maximum is not None:
        low, high = (
            (int(spec.minimum), int(spec.maximum))
            if spec.kind == "int"
            else (f"{spec.minimum:g}", f"{spec.maximum:g}")
        )
        parts.append(f"{low} to {high}{' ' + spec.unit if spec.unit else ''}")
    if default is not None and default is not False:
        parts.append(f"default {default}")
    return "; ".join(parts)


def _number_parser(name: str, spec: FieldSpec) -> Any:
    """A flag's value parser: the request field's own check, with its sentence, at the door."""
    flag = _flag(name, spec)

    def parse(text: str) -> int | float:
        try:
            value = _NUMBERS[spec.kind](text)
        except ValueError:
            words = "a whole number" if spec.kind == "int" else "a number"
            raise argparse.ArgumentTypeError(f"{flag} must be {words}, not {text!r}") from None
        try:
            return check_field(name, value, flag)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None

    return parse


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per request field (bar video and output); numbers are checked as they are
    parsed, the whole request (fields that clash) once it is built."""
    for name, spec in field_specs().items():
        if name in _POSITIONAL:
            continue
        flag, help_text = _flag(name, spec), _help(name, spec)
        if spec.kind == "bool":
            parser.add_argument(flag, dest=name, action="store_true", help=help_text)
        elif spec.kind in _NUMBERS:
            parser.add_argument(
                flag, dest=name, type=_number_parser(name, spec), default=field_default(name),
                metavar=spec.unit.upper() or "N", help=help_text,
            )  # fmt: skip
        else:  # text, a choice, or a direction-path file
            parser.add_argument(flag, dest=name, default=field_default(name), help=help_text)


def request_values(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields the parsed flags set, bar video and output (a --path file read)."""
    from plugin_core.spatial.direction_path import load_path

    values = {name: getattr(args, name) for name in field_specs() if name not in _POSITIONAL}
    if values["path"] is not None:
        values["path"] = load_path(values["path"])
    return values


def request_from_args(args: argparse.Namespace) -> Any:
    """The GenerationRequest the parsed flags describe (validated)."""
    from plugin_core.generation.request import GenerationRequest

    values = request_values(args)
    request = GenerationRequest(video=Path(args.video), output=Path(args.output), **values)
    request.validate({name: _flag(name, spec) for name, spec in field_specs().items()})
    return request


def _generate(args: argparse.Namespace) -> int:
    from plugin_core.cli.progress import step_bar
    from plugin_core.generation.pipeline import generate
    from plugin_core.generation.stage_clock import StageClock
    from plugin_core.media.stem_takes import takes_folder

    request = request_from_args(args)
    if args.server is not None:
        return _generate_remote(args.server, request, args.timings)
    clock = StageClock() if args.timings else None
    with step_bar("generating") as progress:
        result = generate(request, progress=progress, clock=clock)
    total = clock.now() if clock is not None else 0.0
    takes = (
        f" with {len(result.paths)} takes in {takes_folder(request.output)}"
        if len(result.paths) > 1
        else ""
    )
    print(f"wrote {request.output} (and {request.output.name}.json){takes}")
    if clock is not None:
        print(clock.table(total, result.span[1] - result.span[0]), file=sys.stderr)
    return 0


def _generate_remote(url: str, request: Any, timings: bool) -> int:
    """``generate --server URL``: the same request made on the server, its files fetched."""
    from tqdm import tqdm

    from plugin_core.service.client_config import server_settings
    from plugin_core.service.remote_generate import remote_generate

    if timings:
        raise InputError("--timings measures a local generation; leave it out with --server.")
    client = server_settings(url).client()
    bars: dict[str, tqdm] = {}

    def sent(done: int, size: int) -> None:
        if "upload" not in bars:
            bars["upload"] = tqdm(desc="uploading", total=size, unit="B", unit_scale=True)
        bars["upload"].update(done - bars["upload"].n)

    def progress(percent: float) -> None:
        if "job" not in bars:
            bars["job"] = tqdm(desc="generating on the server", total=100, unit="%")
        bars["job"].update(round(percent, 1) - bars["job"].n)

    try:
        made = remote_generate(client, request, sent, progress)
    finally:
        for bar in bars.values():
            bar.close()
    others = len(made) - 2
    more = f" and {others} takes" if others > 0 else ""
    print(f"wrote {request.output} (and {request.output.name}.json{more}) from {url}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from plugin_core.cli.progress import step_bar
    from plugin_core.evaluation.demo import run_demo

    with step_bar("generating") as progress:
        report = run_demo(Path(args.out), progress=progress)
    print(report)
    return 0


def add_generate_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``generate`` and ``demo``."""
    p = sub.add_parser("generate", help="generate FOA for a 360 video with a registered model")
    p.add_argument("video")
    p.add_argument("-o", "--output", required=True, help="output .wav or .flac")
    add_request_arguments(p)
    p.add_argument(
        "--timings", action="store_true", help="print the seconds of every stage (stderr)"
    )
    p.add_argument(
        "--server",
        metavar="URL",
        help="generate on an omnifoa server (https://HOST:PORT); its token and CA or "
        "fingerprint from OMNIFOA_SERVER_TOKEN/_CA/_FINGERPRINT or client.toml",
    )
    p.set_defaults(run=_generate, transactional=True)

    p = sub.add_parser("demo", help="the main job on the bundled demo scene")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.set_defaults(run=_demo)
