"""``omnifoa batch``: every shot of a shot list (or a folder of videos), resumable."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from plugin_core.cli.generate import add_request_arguments, request_values

if TYPE_CHECKING:
    from plugin_core.batch.runner import ShotResult
    from plugin_core.batch.shot_list import Shot

REPORT_NAME = "batch-report.json"
_OVERALL = "{l_bar}{bar}| {n:.1f}/{total_fmt} shots [{elapsed}<{remaining}]"


class BatchBars:
    """The overall bar (shots, with the time left) and one bar for the shot that runs."""

    def __init__(self, to_run: int, shot_bars: bool = True) -> None:
        self.overall = tqdm(
            desc="batch", total=to_run, unit="shot", position=0, bar_format=_OVERALL
        )
        self.shot: tqdm | None = None
        self.shot_bars = shot_bars  # a farm runs shots side by side: the overall bar only
        self.finished = 0

    def shot_started(self, shot: Shot) -> None:
        if self.shot_bars and not shot.up_to_date:
            self.shot = tqdm(desc=shot.name, unit="step", position=1, leave=False)

    def shot_step(self, shot: Shot, step: int, steps: int) -> None:
        if self.shot is not None:
            self.shot.total = steps
            self.shot.update(step - self.shot.n)
        self.overall.update(self.finished + step / max(steps, 1) - self.overall.n)

    def shot_ended(self, shot: Shot, result: ShotResult) -> None:
        if self.shot is not None:
            self.shot.close()
            self.shot = None
        if not shot.up_to_date:
            self.finished += 1
            self.overall.update(self.finished - self.overall.n)

    def close(self) -> None:
        if self.shot is not None:
            self.shot.close()
        self.overall.close()


@contextlib.contextmanager
def first_interrupt_stops() -> Iterator[Callable[[], bool]]:
    """The first Ctrl-C stops the batch cleanly (the running shot within a step, nothing of
    it kept; the report is still written); a second one interrupts at once."""
    pressed = threading.Event()

    def first(_signum: int, _frame: object) -> None:
        pressed.set()
        signal.signal(signal.SIGINT, previous)
        print("\nomnifoa: stopping after this step; Ctrl-C again to stop now", file=sys.stderr)

    if threading.current_thread() is not threading.main_thread():
        yield pressed.is_set  # signals reach only the main thread: nothing to install
        return
    previous = signal.signal(signal.SIGINT, first)
    try:
        yield pressed.is_set
    finally:
        if not pressed.is_set():
            signal.signal(signal.SIGINT, previous)


def _reason(error: BaseException) -> str:
    """A shot's failure in the sentence the command would print for it."""
    from plugin_core.cli.failures import describe
    from plugin_core.errors import OmnifoaError

    return str(error) if isinstance(error, OmnifoaError) else describe(error)[0]


def _report_path(args: argparse.Namespace, source: Path, out: Path | None) -> Path:
    if args.report:
        return Path(args.report).absolute()
    if out is not None:
        return out / REPORT_NAME
    return source.absolute().with_name(f"{source.stem}.report.json")


def _run_shots(
    args: argparse.Namespace, planned: list[Shot], stopped: Callable[[], bool]
) -> list[ShotResult]:
    """The planned shots run here (one warm model) or on the Ray cluster ``--ray`` names."""
    from plugin_core.batch.runner import run_batch
    from plugin_core.batch.warm_models import WarmModels

    bars = BatchBars(sum(not shot.up_to_date for shot in planned), shot_bars=not args.ray)
    try:
        if not args.ray:
            return run_batch(
                planned, WarmModels(args.device), bars, lambda _shot: stopped(), _reason
            )
        from plugin_core.batch.ray_farm import ray_cluster, run_on_ray

        with ray_cluster(args.ray):
            return run_on_ray(planned, args.device, bars, _reason, args.ship_videos)
    finally:
        bars.close()


def _batch(args: argparse.Namespace) -> int:
    from plugin_core.atomic_files import new_folder
    from plugin_core.batch.plan import plan_batch
    from plugin_core.batch.ray_farm import check_address, video_summary
    from plugin_core.batch.report import check_report_path, report_table, write_report
    from plugin_core.batch.shot_list import folder_shots, read_shot_list
    from plugin_core.batch.shot_run import shot_files
    from plugin_core.cli.failures import INTERRUPTED, SHOTS_FAILED
    from plugin_core.cli.progress import step_bar
    from plugin_core.errors import InputError

    if args.ray:
        check_address(args.ray)  # Ray installed and the cluster there, before anything else
    elif args.ship_videos:
        raise InputError("--ship-videos sends videos to Ray workers; give --ray too.")
    source = Path(args.shots)
    out = Path(args.out).absolute() if args.out else None
    defaults = request_values(args)
    if source.is_dir():
        if out is None:
            raise InputError("A folder of videos needs -o/--out FOLDER for the stems.")
        shots = folder_shots(source, defaults, out)
    else:
        shots = read_shot_list(source, defaults, out)
    report = _report_path(args, source, out)
    # a folder made for the stems goes again if the shots are refused, and stays once any runs
    with new_folder(out) if out is not None else contextlib.nullcontext():
        inputs = [source, *(shot.request.video for shot in shots)]
        check_report_path(report, args.overwrite, inputs)
        made = {(s.request.output.parent / n).resolve() for s in shots for n in shot_files(s)}
        if report.resolve() in made:
            raise InputError(f"The report {report} is also a file of a shot; name it otherwise.")
        with step_bar("checking shots") as progress:
            planned = plan_batch(shots, progress)
    # a farm's driver is stopped by Ray's own Ctrl-C handling; here the first one stops cleanly
    stopping = contextlib.nullcontext(bool) if args.ray else first_interrupt_stops()
    with stopping as stopped:
        results = _run_shots(args, planned, stopped)
    write_report(report, source.absolute(), results)
    print(report_table(results))
    if args.ray:
        print(video_summary(results))
    print(f"report: {report}")
    if stopped():
        return INTERRUPTED
    return 0 if all(r.ok for r in results) else SHOTS_FAILED


def add_batch_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``batch``."""
    p = sub.add_parser(
        "batch",
        help="generate every shot of a shot list (.csv/.toml) or a folder of videos; resumable",
        description=(
            "Generate every shot of a shot list (CSV or TOML; columns: the request fields "
            "video, output, start, end, model, seed, yaw, pitch, path, ... and an optional "
            "shot name) or one stem per video of a folder. The generate flags below are the "
            "defaults of every shot. A shot whose stem and sidecar record the same request is "
            "skipped; --overwrite makes every shot again. Exit status 3 when a shot failed."
        ),
    )
    p.add_argument("shots", help="a .csv or .toml shot list, or a folder of videos")
    p.add_argument(
        "-o", "--out", help="folder for the stems (a folder of videos; rows without an output)"
    )
    p.add_argument(
        "--report",
        help="the JSON report (default: FOLDER/batch-report.json with -o, else "
        "<shot list>.report.json beside the list)",
    )
    p.add_argument(
        "--ray",
        metavar="local|ADDRESS",
        help="run the shots on a Ray cluster: its head's HOST:PORT, auto (the cluster this "
        "machine joined) or local (one started on this machine); needs omnifoa[farm]",
    )
    p.add_argument(
        "--ship-videos",
        action="store_true",
        help="with --ray: send every video to the workers through Ray's object store (default: "
        "read from shared storage where a worker sees the same file, else sent)",
    )
    add_request_arguments(p)
    p.set_defaults(run=_batch)
