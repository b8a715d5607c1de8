"""``omnifoa models ...``: list, download, verify and convert model checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_core.atomic_files import atomic_output
from plugin_core.errors import InputError
from plugin_core.file_checks import input_file, output_file, write_failures
from plugin_core.generation.model_registry import (
    download,
    get_entry,
    load_registry,
    local_path,
    verify,
    with_parts,
)


def _list(args: argparse.Namespace) -> int:
    registry = load_registry()
    print(f"{'id':<16} {'kind':<13} {'family':<10} {'preset':<13} {'licence':<10} here")
    for entry in registry.values():
        path = local_path(entry)
        family = entry.family if entry.kind == "generator" else "-"
        needs = f" (needs {', '.join(entry.requires.values())})" if entry.requires else ""
        print(
            f"{entry.id:<16} {entry.kind:<13} {family:<10} {entry.preset or '-':<13} "
            f"{entry.licence:<10} {path if path else 'not downloaded'}{needs}"
        )
    return 0


def _download(args: argparse.Namespace) -> int:
    for entry in with_parts(get_entry(args.model)):
        path = download(entry)
        print(f"{entry.id}: {path.name} in {path.parent}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    # a model named: it and the parts it loads with; else every registered model
    entries = with_parts(get_entry(args.model)) if args.model else load_registry().values()
    failed = False
    for entry in entries:
        result = verify(entry)
        detail = f"sha256 {result.sha256}" if result.sha256 else "no local file"
        print(f"{entry.id}: {result.status} ({detail})")
        failed |= result.status == "mismatch" or (bool(args.model) and result.status == "missing")
    return 1 if failed else 0


def _convert(args: argparse.Namespace) -> int:
    from safetensors import SafetensorError

    from models.families import convert_checkpoint
    from models.family import ModelLoadError

    target = Path(args.output)
    if target.suffix != ".safetensors":
        raise InputError(f"Name the converted file *.safetensors, not {target.name}.")
    input_file(args.input, "checkpoint")
    output_file(target, args.overwrite, [args.input])
    try:
        with write_failures(target, SafetensorError), atomic_output(target) as tmp:
            copy = "ema" if args.ema else "model"
            report = convert_checkpoint(args.family, args.input, tmp, copy)
    except ModelLoadError as exc:
        raise InputError(str(exc)) from None
    print(f"wrote {target}: {report.tensors} tensors from a {report.source} checkpoint")
    if report.left_out:
        print(f"left out {report.left_out} tensors inference does not use")
    return 0


def add_model_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``omnifoa models list|download|verify|convert``."""
    models = sub.add_parser("models", help="the model registry: list, download, verify, convert")
    msub = models.add_subparsers(dest="models_command", required=True)
    p = msub.add_parser("list", help="registered models and where their files are")
    p.set_defaults(run=_list)
    p = msub.add_parser("download", help="fetch a model through huggingface_hub")
    p.add_argument("model")
    p.set_defaults(run=_download)
    p = msub.add_parser(
        "verify", help="check model files (a model's parts too) against their registered sha256"
    )
    p.add_argument("model", nargs="?")
    p.set_defaults(run=_verify)
    p = msub.add_parser("convert", help="convert a checkpoint to safetensors (one time)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument(
        "--ema",
        action="store_true",
        help="take the EMA copy (default: the weights the reference loads)",
    )
    p.add_argument(
        "--family",
        help="the checkpoint's model family (default: the one its weight names belong to)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(run=_convert, transactional=True)
