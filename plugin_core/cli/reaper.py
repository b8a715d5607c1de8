"""``omnifoa reaper drop | install-help | link | export-rpp``: stems onto REAPER's ambisonic
tracks, and REAPER's regenerate action told how to run omnifoa."""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_core.cli.values import number, whole
from plugin_core.install_paths import LUA_DIR


def _stems(args: argparse.Namespace) -> list:
    """The command's stems, each with its takes."""
    from reaper_bridge.drop import stems_from_paths
    from reaper_bridge.omnifoa_takes import with_takes

    paths = [Path(p) for p in args.stems]
    return [with_takes(s) for s in stems_from_paths(paths, args.position, args.convention)]


def _drop(args: argparse.Namespace) -> int:
    from plugin_core.errors import InputError
    from reaper_bridge.bridge_config import BridgeError, load_config
    from reaper_bridge.doorbell import NoAnswer
    from reaper_bridge.drop import describe_ack, drop_stems

    stems = _stems(args)
    try:
        config = load_config(Path(args.config) if args.config else None, args.port)
        ack = drop_stems(stems, config, args.timeout)
    except (BridgeError, NoAnswer) as exc:
        raise InputError(str(exc)) from None
    print("\n".join(describe_ack(ack)))
    return 0 if ack.get("status") == "ok" else 1


def _install_help(args: argparse.Namespace) -> int:
    from reaper_bridge.bridge_config import default_config_path, reaper_resource_dir

    scripts = reaper_resource_dir() / "Scripts" / "omnifoa"
    print(
        "One-time REAPER set-up for `omnifoa reaper drop`:\n"
        f"1. Copy the .lua files from {LUA_DIR} to {scripts} (keep them together).\n"
        "2. In REAPER: Actions > Show action list > New action > Load ReaScript..., pick\n"
        "   omnifoa_install.lua, then Run it once (it registers omnifoa_ingest.lua and writes\n"
        f"   {default_config_path()}).\n"
        "3. Preferences > Control/OSC/web > Add > OSC (Open Sound Control): mode 'Local port',\n"
        "   local listen port 8000 (or pass --port), pattern config 'Default'; tick Allow binding\n"
        "   messages to REAPER actions and FX learn.\n"
        "4. Keep REAPER open with the project you mix in: dropped stems land there, on\n"
        "   4-channel tracks under the 'omnifoa FOA monitor' folder (IEM SceneRotator ->\n"
        "   BinauralDecoder if installed).\n"
        "5. Try it: omnifoa reaper drop stem.wav --position 0. Without REAPER running, use\n"
        "   omnifoa reaper export-rpp stem.wav -o project.rpp instead.\n"
        "To regenerate a time selection of an omnifoa item from REAPER: run omnifoa reaper link\n"
        "once (it tells REAPER how to run this omnifoa), then load\n"
        "omnifoa_regenerate_selection.lua as an action (Load ReaScript..., as in step 2)."
    )
    return 0


def _link(args: argparse.Namespace) -> int:
    from plugin_core.errors import InputError
    from reaper_bridge.bridge_config import BridgeError, default_config_path, link_omnifoa

    path = Path(args.config) if args.config else default_config_path()
    try:
        command = link_omnifoa(path)
    except BridgeError as exc:
        raise InputError(str(exc)) from None
    print(f"REAPER's omnifoa actions will run: {' '.join(command)} (written to {path})")
    return 0


def _export_rpp(args: argparse.Namespace) -> int:
    from plugin_core.errors import InputError
    from reaper_bridge.bridge_config import BridgeError
    from reaper_bridge.rpp_export import export_rpp

    stems = _stems(args)
    try:
        out = export_rpp(stems, Path(args.output), merge=args.merge)
    except BridgeError as exc:
        raise InputError(str(exc)) from None
    print(f"wrote {out} with {len(stems)} 4-channel track(s) under the monitoring folder")
    return 0


def add_reaper_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``reaper`` and its subcommands."""
    reaper = sub.add_parser("reaper", help="put FOA stems on REAPER ambisonic tracks")
    rsub = reaper.add_subparsers(dest="reaper_command", required=True)

    p = rsub.add_parser("drop", help="send stems to a running REAPER (OSC + job file)")
    p.add_argument("stems", nargs="+", help="4-channel FOA files (AmbiX; FuMa converted)")
    p.add_argument(
        "--position",
        type=number("--position", 0.0, 86400.0, "s"),
        default=0.0,
        help="timeline position",
    )
    p.add_argument("--convention", choices=["ambix", "fuma"], help="declare the stems' format")
    p.add_argument("--config", help="bridge.json (default: in REAPER's resource folder)")
    p.add_argument(
        "--port", type=whole("--port", 1, 65535), default=8000, help="REAPER's OSC listen port"
    )
    p.add_argument(
        "--timeout", type=number("--timeout", 0.1, 600.0, "s"), default=10.0, help="wait for REAPER"
    )
    p.set_defaults(run=_drop)

    p = rsub.add_parser("install-help", help="how to set REAPER up, in five steps")
    p.set_defaults(run=_install_help)

    p = rsub.add_parser("link", help="tell REAPER's regenerate action how to run this omnifoa")
    p.add_argument("--config", help="bridge.json (default: in REAPER's resource folder)")
    p.set_defaults(run=_link)

    p = rsub.add_parser("export-rpp", help="write (or add to) a REAPER project file instead")
    p.add_argument("stems", nargs="+")
    p.add_argument("-o", "--output", required=True, help="the .rpp project")
    p.add_argument("--position", type=number("--position", 0.0, 86400.0, "s"), default=0.0)
    p.add_argument("--convention", choices=["ambix", "fuma"])
    p.add_argument("--merge", action="store_true", help="add to an existing project")
    p.set_defaults(run=_export_rpp, transactional=True)
