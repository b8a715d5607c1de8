"""``omnifoa train`` and ``omnifoa eval``: the bundled model's recipe and its measurement."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from plugin_core.cli.values import number, whole
from plugin_core.errors import InputError
from plugin_core.file_checks import OVERWRITE_HINT


def _train_foley(args: argparse.Namespace) -> int:
    from plugin_core.training.foley_run import train_foley

    weights = Path(args.weights) if args.weights else Path(args.work) / "omnifoa-mini.safetensors"
    if weights.exists() and not args.force:
        raise InputError(f"{weights} exists; {OVERWRITE_HINT}.")
    print(
        f"training omnifoa-mini (object Foley) on {args.scenes} SynthSphere scenes in {args.work}"
    )
    record = train_foley(Path(args.work), weights, scenes=args.scenes)
    print(f"wrote {weights} ({record['bytes'] / 1e6:.1f} MB, {record['minutes']:.1f} min)")
    print(f"training record: {Path(args.work) / 'training_record.json'}")
    return 0


def _train(args: argparse.Namespace) -> int:
    import torch

    from models.training.recipe import RECIPES
    from plugin_core.training.pipeline import train_bundled

    if args.recipe == "foley":
        return _train_foley(args)
    name = args.recipe
    if name == "auto":
        name = "gpu" if torch.cuda.is_available() else "cpu"
    recipe = RECIPES[name]
    if recipe.device == "cuda" and not torch.cuda.is_available():
        raise InputError("The gpu recipe needs a CUDA GPU; use --recipe cpu on this machine.")
    if args.codec_steps is not None:
        recipe = dataclasses.replace(recipe, codec_steps=args.codec_steps)
    if args.flow_inputs:
        from plugin_core.training.pipeline import export_flow_inputs

        out = export_flow_inputs(recipe, Path(args.work), Path(args.flow_inputs))
        print(
            f"wrote {out} and its codec; train the flow with python -m models.training.flow_inputs"
        )
        return 0
    weights = Path(args.weights) if args.weights else Path(args.work) / "omniaudio-mini.safetensors"
    if weights.exists() and not args.force:
        raise InputError(f"{weights} exists; {OVERWRITE_HINT}.")
    print(
        f"training {recipe.preset} with the {recipe.name} recipe in {args.work} "
        f"(about {recipe.training_minutes:.0f} min of training "
        "after the data is prepared)"
    )
    summary = train_bundled(recipe, Path(args.work), weights)
    print(f"wrote {weights} (sha256 {summary['sha256']})")
    print(f"training record: {Path(args.work) / 'training_record.json'}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from models.family import CodecRoundTrip, VoicePlacement
    from plugin_core.atomic_files import write_atomic
    from plugin_core.evaluation import HELD_OUT_SEEDS, format_table, run_evaluation
    from plugin_core.evaluation.codec_report import (
        CODEC_REPORT_NAME,
        PLACEMENT_REPORT_NAME,
        codec_carrier,
        codec_round_trip,
        direction_round_trip,
        format_codec_report,
        format_direction_trips,
        placement_carrier,
    )
    from plugin_core.evaluation.fov_turn import (
        FOV_TURN_CLIPS,
        FOV_TURN_NAME,
        format_fov_turn,
        fov_turn_rows,
    )
    from plugin_core.evaluation.model_systems import model_systems
    from plugin_core.evaluation.report import REPORT_NAMES
    from plugin_core.evaluation.steering import (
        STEERING_CLIPS,
        STEERING_NAME,
        format_steering,
        steering_rows,
    )
    from plugin_core.file_checks import output_file
    from plugin_core.generation.loaded_model import load_model

    out = Path(args.out)
    if out.is_dir():  # an earlier report is checked before hours of evaluation, not after
        for name in (
            *REPORT_NAMES,
            CODEC_REPORT_NAME,
            PLACEMENT_REPORT_NAME,
            STEERING_NAME,
            FOV_TURN_NAME,
        ):
            output_file(out / name, args.overwrite)
    systems = {}
    seconds = args.seconds
    if args.model != "none":
        loaded = load_model(args.model, args.device)
        systems = model_systems(loaded, args.seed)
        window = loaded.model.window.seconds
        if seconds is not None and seconds > window + 1e-6:
            raise InputError(
                f"{args.model} generates {window:g} s windows; evaluate clips of at most "
                f"{window:g} s (--seconds), not {seconds:g} s."
            )
        seconds = seconds or window
    seeds = HELD_OUT_SEEDS[: args.clips]
    codec = loaded.model if systems and isinstance(loaded.model, CodecRoundTrip) else None
    hop = {"codec_hop": codec.codec_hop} if codec else {}
    report = run_evaluation(systems, seeds, seconds or 10.0, out_dir=Path(args.out), **hop)
    print(format_table(report))
    if codec is not None:
        text = format_codec_report(
            codec_round_trip(codec, seeds, seconds or 10.0),
            direction_round_trip(codec_carrier(codec)),
        )
        print(f"\n{args.model}'s codec alone (encode → decode):\n{text}")
        write_atomic(out / CODEC_REPORT_NAME, lambda tmp: tmp.write_text(text + "\n"))
    elif systems and isinstance(loaded.model, VoicePlacement):
        trips = direction_round_trip(placement_carrier(loaded.model))
        text = format_direction_trips(trips)
        print(f"\n{args.model}'s voice placement alone (no codec):\n{text}")
        write_atomic(out / PLACEMENT_REPORT_NAME, lambda tmp: tmp.write_text(text + "\n"))
    if systems:
        text = format_steering(steering_rows(loaded, seeds[:STEERING_CLIPS], seed=args.seed))
        print(f"\nsteered by the picture (panorama turned, first {STEERING_CLIPS} clips):\n{text}")
        write_atomic(out / STEERING_NAME, lambda tmp: tmp.write_text(text + "\n"))
        aims = format_fov_turn(fov_turn_rows(loaded, seeds[:FOV_TURN_CLIPS], seed=args.seed))
        print(f"\nsteered by the field of view (first {FOV_TURN_CLIPS} clips):\n{aims}")
        write_atomic(out / FOV_TURN_NAME, lambda tmp: tmp.write_text(aims + "\n"))
    print(f"report written to {args.out}")
    return 0


def add_training_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train`` and ``eval`` on the top-level subcommand parser."""
    p = sub.add_parser("train", help="train the bundled model on SynthSphere (one command)")
    p.add_argument(
        "--recipe", default="foley", choices=["foley", "auto", "cpu", "gpu"],
        help="foley: the bundled omnifoa-mini; auto/cpu/gpu: omniaudio-mini (OmniAudio, small)",
    )  # fmt: skip
    p.add_argument(
        "--scenes", type=whole("--scenes", 4, 100_000), default=96,
        help="training scenes of the foley recipe",
    )  # fmt: skip
    p.add_argument("--work", default="out/train", help="work folder; a rerun resumes from it")
    p.add_argument("--weights", help="output safetensors (default: in the work folder)")
    p.add_argument(
        "--overwrite", "--force", dest="force", action="store_true",
        help="replace existing output weights",
    )  # fmt: skip
    p.add_argument(
        "--codec-steps", type=whole("--codec-steps", 1, 10_000_000), help="override the codec steps"
    )
    p.add_argument(
        "--flow-inputs",
        help="stop after the codec and pack the flow stage's inputs into this .npz",
    )
    p.set_defaults(run=_train)

    p = sub.add_parser("eval", help="score the model and baselines on held-out SynthSphere")
    p.add_argument("--model", default="omnifoa-mini", help="model id, or 'none' for baselines")
    p.add_argument(
        "--clips",
        type=whole("--clips", 1, 100),  # the held-out split's size (evaluation.clips)
        default=100,
        help="held-out clips (at most 100)",
    )
    p.add_argument(
        "--seconds",
        type=number("--seconds", 0.5, 600.0, "s"),
        help="clip length (default: the model's window, 10 s for none)",
    )
    p.add_argument(
        "--seed", type=whole("--seed", 0, 2**31 - 1), default=0, help="added to each clip's seed"
    )
    p.add_argument("--out", default="out/eval", help="folder for the JSON, CSV and table")
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report")
    p.set_defaults(run=_eval, transactional=True)
