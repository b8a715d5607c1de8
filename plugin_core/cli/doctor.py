"""``omnifoa doctor``: check the install and say, for each thing missing, how to fix it.

Each check is one line: ``ok``, ``warn`` (a feature will not work) or ``FAIL`` (generation
will not work), what was found, and the fix. The exit status is 1 when anything fails.
"""

from __future__ import annotations

import argparse
import ctypes.util
import importlib.util
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from plugin_core import __version__, host_folders

CUDA_TORCH = (
    "pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu128"
)


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    level: str  # "ok", "warn" or "FAIL"
    what: str
    detail: str
    fix: str = ""


def _torch() -> Iterator[Finding]:
    import torch

    if torch.cuda.is_available():
        yield Finding(
            "ok", "torch", f"{torch.__version__}, CUDA on {torch.cuda.get_device_name(0)}"
        )
    elif torch.backends.mps.is_available():
        yield Finding("ok", "torch", f"{torch.__version__}, Apple GPU (MPS)")
    elif shutil.which("nvidia-smi"):
        yield Finding(
            "warn", "torch", f"{torch.__version__} cannot use the NVIDIA GPU this machine has",
            f"install the CUDA build: {CUDA_TORCH}",
        )  # fmt: skip
    else:
        yield Finding("ok", "torch", f"{torch.__version__}, CPU (no GPU found)")


def _ffmpeg() -> Iterator[Finding]:
    import av

    version = ".".join(str(v) for v in av.library_versions["libavcodec"])
    yield Finding("ok", "PyAV / FFmpeg", f"PyAV {av.__version__}, libavcodec {version}")
    for name, role, level in [
        ("h264", "decode H.264 360 video", "FAIL"),
        ("hevc", "decode HEVC (most 360 cameras)", "warn"),
        ("vp9", "decode VP9 (YouTube downloads)", "warn"),
        ("libx264", "write H.264 (synth, training data)", "FAIL"),
        ("aac", "write AAC audio (export-video .mp4)", "warn"),
        ("pcm_s24le", "write 24-bit PCM (export-video .mov)", "warn"),
    ]:
        try:
            av.codec.Codec(name, "w" if name in ("libx264", "aac", "pcm_s24le") else "r")
        except Exception:  # PyAV raises its own UnknownCodecError
            fix = "reinstall PyAV from its wheels: pip install --force-reinstall av"
            yield Finding(level, f"codec {name}", f"missing: cannot {role}", fix)


def _audio_files() -> Iterator[Finding]:
    import soundfile

    formats = soundfile.available_formats()
    level = "ok" if "FLAC" in formats else "warn"
    yield Finding(level, "libsndfile", f"{soundfile.__libsndfile_version__}"
                  + ("" if level == "ok" else ", without FLAC"),
                  "" if level == "ok" else "pip install --force-reinstall soundfile")  # fmt: skip


def _qt_missing_libraries(plugin: Path) -> list[str]:
    """The shared libraries ``plugin`` needs that the system lacks (as ldd names them)."""
    done = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=False)
    return sorted({line.split()[0] for line in done.stdout.splitlines() if "not found" in line})


def debian_package(library: str) -> str:
    """The Debian/Ubuntu package that usually carries ``library`` (libxcb-icccm.so.4 ->
    libxcb-icccm4, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0)."""
    name, _, version = library.partition(".so.")
    version = version.split(".")[0]
    return (name + ("-" if name[-1:].isdigit() else "") + version).lower()


def _preview_window() -> Iterator[Finding]:
    if importlib.util.find_spec("PySide6") is None:
        yield Finding("warn", "preview window", "PySide6 is not installed",
                      'pip install "omnifoa[ui]"')  # fmt: skip
        return
    import PySide6

    yield Finding("ok", "PySide6", PySide6.__version__)
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if sys.platform.startswith("linux") and plugin.is_file() and shutil.which("ldd"):
        missing = _qt_missing_libraries(plugin)
        if missing:
            packages = " ".join(sorted({debian_package(lib) for lib in missing}))
            fix = f"sudo apt install {packages} (or your system's packages of these libraries)"
            yield Finding("warn", "preview window (Qt xcb)", f"needs {', '.join(missing)}", fix)


def _audio_output() -> Iterator[Finding]:
    if ctypes.util.find_library("portaudio") or importlib.util.find_spec("_sounddevice_data"):
        yield Finding("ok", "audio output", "PortAudio found")
        return
    fix = {
        "darwin": "brew install portaudio",
        "win32": "pip install sounddevice (its wheel carries PortAudio)",
    }.get(sys.platform, "sudo apt install libportaudio2")
    yield Finding("warn", "audio output", "PortAudio not found: the preview cannot play", fix)


def _models() -> Iterator[Finding]:
    from models.hub_cache import hub_cache_dir
    from plugin_core.generation.model_registry import load_registry, local_path, where_to_put
    from plugin_core.generation.request import DEFAULT_MODEL

    yield Finding("ok", "Hugging Face cache", str(hub_cache_dir()))
    for entry in load_registry().values():
        found = local_path(entry)
        if found is not None:
            yield Finding("ok", f"model {entry.id}", str(found))
        else:
            level = "FAIL" if entry.id == DEFAULT_MODEL else "warn"
            yield Finding(level, f"model {entry.id}", "not on this machine", where_to_put(entry))


def _hosts() -> Iterator[Finding]:
    from plugin_core.install_paths import LUA_DIR

    root = Path(host_folders.blender_config_root())
    versions = sorted(p.name for p in root.glob("[0-9]*.[0-9]*") if p.is_dir())
    if not versions:
        yield Finding("warn", "Blender", f"no user folder in {root}",
                      "start Blender once, then install the omnifoa extension zip")  # fmt: skip
    for version in versions:
        extension = Path(host_folders.blender_extensions_dir(version)) / "omnifoa"
        if extension.is_dir():
            yield Finding("ok", f"Blender {version}", f"omnifoa extension in {extension}")
        else:
            fix = "Edit > Preferences > Get Extensions > Install from Disk: the omnifoa zip"
            yield Finding("warn", f"Blender {version}", "no omnifoa extension", fix)
    reaper = Path(host_folders.reaper_resource_dir())
    scripts = reaper / "Scripts" / "omnifoa"
    if not reaper.is_dir():
        fix = "install REAPER and start it once (or skip it: use omnifoa reaper export-rpp)"
        yield Finding("warn", "REAPER", f"no resource folder at {reaper}", fix)
    elif not (scripts / "omnifoa_ingest.lua").is_file():
        fix = f"copy the .lua files from {LUA_DIR} there (see omnifoa reaper install-help)"
        yield Finding("warn", "REAPER", f"omnifoa scripts not in {scripts}", fix)
    else:
        yield Finding("ok", "REAPER", f"omnifoa scripts in {scripts}")


CHECKS: list[Callable[[], Iterator[Finding]]] = [
    _torch, _ffmpeg, _audio_files, _preview_window, _audio_output, _models, _hosts,
]  # fmt: skip


def findings() -> list[Finding]:
    """Every check's findings; a check that crashes is reported as failing, with its error."""
    found = [
        Finding("ok", "omnifoa", f"{__version__} on Python {platform.python_version()}, "
                f"{platform.system()} {platform.machine()}, from {Path(__file__).parents[2]}"),
    ]  # fmt: skip
    for check in CHECKS:
        try:
            found.extend(check())
        except Exception as exc:  # a broken dependency is exactly what doctor must report
            name = check.__name__.strip("_").replace("_", " ")
            found.append(Finding("FAIL", name, f"{type(exc).__name__}: {exc}",
                                 "reinstall omnifoa and its dependencies"))  # fmt: skip
    return found


def _doctor(args: argparse.Namespace) -> int:
    report = findings()
    for f in report:
        line = f"{f.level:<4}  {f.what}: {f.detail}"
        print(line + (f"\n      fix: {f.fix}" if f.fix else ""))
    failed = sum(f.level == "FAIL" for f in report)
    warned = sum(f.level == "warn" for f in report)
    print(f"{failed} problem(s) stop generation, {warned} limit a feature.")
    return 1 if failed else 0


def add_doctor_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``doctor``."""
    p = sub.add_parser("doctor", help="check the install and say how to fix what is missing")
    p.set_defaults(run=_doctor)
