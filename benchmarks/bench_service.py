"""The remote service: a job's overhead over TLS, and the throughput of a 1 GB upload.

Run: ``.venv/bin/python benchmarks/bench_service.py [--part all|jobs|uploads] [--size-mb 1000]
[--repeats 3]``.

Job overhead: the same tiny request (the default model, 1 s of a 256x128 scene video) made
in-process with the model loaded (the reference), and through ``omnifoa serve --listen
127.0.0.2:0`` over TLS as ``omnifoa generate --server`` makes it (the video uploaded, the job
submitted and followed, its files downloaded and verified), the server's model warm; the two
are taken in turn, and the ratio is the remote run's median over the in-process one's.

Uploads: rows of the
whole upload as a client does it (:func:`plugin_core.service.transfers.upload`: the client's
sha256 of the file, then 64 MiB PATCHes streamed to disk and hashed by the service, checked
when complete) over plain HTTP on 127.0.0.1, and over TLS on 127.0.0.2 (``--listen`` with a
self-signed certificate and a person's token); and the sending alone (the sha256 already
known). The reference, measured in the same run, is a local copy of the same bytes
(``shutil.copyfile``) on the same disk. Each service runs in its own process.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from timing import Table, json_option

from plugin_core.service.client import ServiceClient
from plugin_core.service.transfers import file_sha256, upload

MB = 1_000_000
_REMOTE_READY = re.compile(r"omnifoa service on (https://\S+) ")


def _omnifoa(*args: str) -> list[str]:
    return [sys.executable, "-m", "plugin_core.cli", *args]


@contextmanager
def loopback_service(state: Path) -> Iterator[ServiceClient]:
    """``omnifoa serve`` on 127.0.0.1 over plain HTTP, and its client."""
    process = subprocess.Popen(
        _omnifoa("serve", "--state-dir", str(state), "--upload-cap", "4"),
        stdout=subprocess.DEVNULL,
    )
    try:
        while not (state / "service.json").exists():
            if process.poll() is not None:
                raise RuntimeError("the service did not start")
            time.sleep(0.1)
        yield ServiceClient.from_state(state)
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def tls_service(state: Path) -> Iterator[ServiceClient]:
    """``omnifoa serve --listen 127.0.0.2:0`` over TLS (self-signed), and a person's client."""
    added = subprocess.run(
        _omnifoa("serve", "tokens", "add", "bench", "--state-dir", str(state)),
        capture_output=True,
        text=True,
        check=True,
    )
    token = added.stdout.strip().splitlines()[-1]
    flags = ("--listen", "127.0.0.2:0", "--tls-self-signed", "--upload-cap", "4")
    process = subprocess.Popen(
        _omnifoa("serve", "--state-dir", str(state), *flags), stdout=subprocess.PIPE, text=True
    )
    try:
        ready = _REMOTE_READY.search(process.stdout.readline())
        if ready is None:
            raise RuntimeError("the TLS service did not start")
        yield ServiceClient(ready.group(1), token, ca=state / "tls" / "127.0.0.2.crt")
    finally:
        process.terminate()
        process.wait(30)


def timed(run: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def upload_rows(
    table: Table, name: str, client: ServiceClient, source: Path, ref: float, repeats: int
) -> None:
    """The whole upload, and the sending alone, to the service of ``client``."""
    size = source.stat().st_size
    digest = file_sha256(source)

    def whole() -> None:
        upload(client, source)

    def sending() -> None:
        upload(client, source, sha256=digest)

    for task, run in (
        (f"{name}: upload (client sha256 + send)", whole),
        (f"{name}: send only", sending),
    ):
        seconds = timed(run, repeats)
        table.add(task, seconds, ref, mb_per_s=size / MB / seconds)


def job_overhead(folder: Path, repeats: int) -> Table:
    """The same tiny request in-process (model loaded) and on a TLS server on loopback."""
    from plugin_core.generation.loaded_model import load_model
    from plugin_core.generation.pipeline import generate
    from plugin_core.generation.request import GenerationRequest, field_default
    from plugin_core.media.video import write_video
    from plugin_core.service.remote_generate import remote_generate
    from plugin_core.synthsphere import make_scene, render_frames

    video = folder / "scene.mp4"
    write_video(video, render_frames(make_scene(5, 3.0), 256, 128, 12.0), 12.0)
    model, made = field_default("model"), itertools.count()

    def request(where: str) -> GenerationRequest:
        out = folder / where
        out.mkdir(exist_ok=True)
        output = out / f"{next(made)}.wav"
        tiny = GenerationRequest(video=video, output=output, model=model, end=1.0, seed=1)
        tiny.validate()
        return tiny

    loaded = load_model(model)
    state = folder / "jobs_state"
    state.mkdir()
    with tls_service(state) as client:
        generate(request("local"), loaded)  # warm, as the server's model is after its first job
        remote_generate(client, request("remote"))  # the server loads its model once
        times: dict[str, list[float]] = {"local": [], "remote": []}
        for _ in range(repeats):  # taken in turn, so a busy machine slows both alike
            times["local"].append(timed(lambda: generate(request("local"), loaded), 1))
            times["remote"].append(timed(lambda: remote_generate(client, request("remote")), 1))
    local, remote = (statistics.median(times[k]) for k in ("local", "remote"))
    table = Table(
        f"job overhead: {model}, 1 s of a 256x128 video; median of {repeats}",
        "in-process generate with the model loaded, same request",
    )
    table.add("in-process generate (model loaded)", local, local)
    table.add("TLS 127.0.0.2: upload + job + download", remote, local)
    table.notes.append(
        f"remote / in-process: {remote / local:.2f}x; overhead {1000 * (remote - local):.0f} ms "
        "per job (speed-up below 1: that many times slower)"
    )
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--part", choices=("all", "jobs", "uploads"), default="all")
    json_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omnifoa-bench-service-") as scratch:
        folder = Path(scratch)
        if args.part in ("all", "jobs"):
            jobs = job_overhead(folder, args.repeats)
            jobs.print()
            jobs.save(None if args.json is None else args.json.with_suffix(".jobs.json"))
        if args.part == "jobs":
            return 0
        source = folder / "clip.mp4"
        with open(source, "wb") as file:
            for _ in range(args.size_mb):
                file.write(os.urandom(MB))
        copy = folder / "copy.mp4"
        ref = timed(lambda: shutil.copyfile(source, copy), args.repeats)
        copy.unlink()
        table = Table(
            f"upload of {args.size_mb} MB to a real service on loopback; median of {args.repeats}",
            "shutil.copyfile of the same bytes on the same disk",
        )
        table.add("reference: local file copy", ref, ref, mb_per_s=args.size_mb / ref)
        sha = timed(lambda: file_sha256(source), args.repeats)
        table.add("client sha256 of the file alone", sha, ref, mb_per_s=args.size_mb / sha)
        for name, start in (("HTTP 127.0.0.1", loopback_service), ("TLS 127.0.0.2", tls_service)):
            state = folder / name.split()[0].lower()
            state.mkdir()
            with start(state) as client:
                upload_rows(table, name, client, source, ref, args.repeats)
            shutil.rmtree(state / "files", ignore_errors=True)
        table.notes.append("speed-up below 1: the upload is that many times slower than a copy")
        table.notes += [f"{row['task']}: {row['mb_per_s']:.0f} MB/s" for row in table.rows]
        table.print()
        table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
