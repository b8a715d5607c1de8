"""The service's uploads: throughput of a 1 GB video sent to a real ``omnifoa serve``.

Run: ``.venv/bin/python benchmarks/bench_service.py [--size-mb 1000] [--repeats 3]``. Rows: the
whole upload as a client does it (:func:`plugin_core.service.transfers.upload`: the client's
sha256 of the file, then 64 MiB PATCHes streamed to disk and hashed by the service, checked
when complete) over plain HTTP on 127.0.0.1, and over TLS on 127.0.0.2 (``--listen`` with a
self-signed certificate and a person's token); and the sending alone (the sha256 already
known). The reference, measured in the same run, is a local copy of the same bytes
(``shutil.copyfile``) on the same disk. Each service runs in its own process.
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    json_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omnifoa-bench-service-") as scratch:
        folder = Path(scratch)
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
