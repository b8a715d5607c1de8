"""A recording stand-in for REAPER: the ``reaper`` table of ReaScript for real Lua 5.4 (lupa),
and REAPER's OSC surface on a loopback UDP port.

The ``reaper`` functions follow the documented signatures and return values (checked on
every call: a wrong argument raises a Lua error, as REAPER does), and model what the omnifoa
scripts touch: tracks with their info values, strings and P_EXT data, items, takes, sources
read from real files, FX from a set of installed plug-ins, undo blocks, ext state,
registered scripts and the resource folder, the selected items and the time selection, and
``ExecProcess`` (it really runs the command line: see there). The OSC surface follows
REAPER's rules: at most 1024 bytes, only i/f/s arguments (messages with N, T, F or h are
dropped), ``/action/<id>`` and ``/action/_<named id>`` run the action.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf
from lupa import lua54
from pythonosc.osc_message import OscMessage

NUMBER = (int, float)


def checked(*types: Any) -> Callable:
    """Enforce a ReaScript signature: exact argument count and types."""

    def wrap(fn: Callable) -> Callable:
        def call(self: Reaper, *args: Any) -> Any:
            name = fn.__name__
            if len(args) != len(types):
                raise TypeError(f"reaper.{name}: {len(types)} arguments expected, got {len(args)}")
            for i, (arg, kind) in enumerate(zip(args, types, strict=True)):
                if kind is not Any and not (
                    isinstance(arg, kind) and not (kind is NUMBER and isinstance(arg, bool))
                ):
                    raise TypeError(f"reaper.{name}: argument {i + 1} has the wrong type ({arg!r})")
            self.calls.append((name, args))
            return fn(self, *args)

        call.__name__ = fn.__name__
        return call

    return wrap


@dataclass(eq=False)
class Source:
    path: str
    channels: int
    length: float
    rate: int


@dataclass(eq=False)
class Take:
    source: Source | None = None
    name: str = ""
    start_offset: float = 0.0  # D_STARTOFFS: seconds into the source where the item starts
    playrate: float = 1.0  # D_PLAYRATE


@dataclass(eq=False)
class Item:
    position: float = 0.0
    length: float = 0.0
    takes: list[Take] = field(default_factory=list)
    active: Take | None = None  # the take that plays
    selected: bool = False


@dataclass(eq=False)
class Track:
    guid: str
    name: str = ""
    nchan: int = 2
    folder_depth: int = 0
    ext: dict[str, str] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    fx: list[str] = field(default_factory=list)


class Reaper:
    """The ``reaper`` table; ``tracks`` is the project."""

    def __init__(self, resource: Path, plugins: set[str] | None = None) -> None:
        self.resource = resource
        self.plugins = (
            plugins
            if plugins is not None
            else {
                "VST3:IEM SceneRotator (IEM)",
                "VST3:IEM BinauralDecoder (IEM)",
            }
        )
        self.tracks: list[Track] = []
        self.calls: list[tuple[str, tuple]] = []
        self.undo_depth = 0
        self.undo_blocks: list[str] = []
        self.changes_outside_undo = 0
        self.ext_state: dict[tuple[str, str], str] = {}
        self.scripts: dict[int, str] = {}
        self.console: list[str] = []
        self.time_selection: tuple[float, float] = (0.0, 0.0)  # start == end: none
        self.executed: list[str] = []  # ExecProcess command lines, in order
        self._guid = 0

    def _changed(self) -> None:
        if self.undo_depth == 0:
            self.changes_outside_undo += 1

    def _track(self, track: Any) -> Track:
        if not isinstance(track, Track) or track not in self.tracks:
            raise TypeError("not a track of this project")
        return track

    def _item(self, item: Any) -> Item:
        if not isinstance(item, Item) or not any(item in t.items for t in self.tracks):
            raise TypeError("not a media item of this project")
        return item

    def _take(self, take: Any) -> tuple[Item, Take]:
        for track in self.tracks:
            for item in track.items:
                if isinstance(take, Take) and take in item.takes:
                    return item, take
        raise TypeError("not a take of this project")

    # ----------------------------------------------------------- project and tracks
    @checked(NUMBER)
    def CountTracks(self, project):
        return len(self.tracks)

    @checked(NUMBER, NUMBER)
    def GetTrack(self, project, index):
        return self.tracks[int(index)] if 0 <= index < len(self.tracks) else None

    @checked(NUMBER, bool)
    def InsertTrackAtIndex(self, index, want_defaults):
        self._changed()
        self._guid += 1
        guid = f"{{{self._guid:08X}-0000-4000-8000-{self._guid:012X}}}"
        self.tracks.insert(max(0, min(int(index), len(self.tracks))), Track(guid))

    @checked(Any, str, NUMBER)
    def SetMediaTrackInfo_Value(self, track, parm, value):
        track = self._track(track)
        self._changed()
        if parm == "I_NCHAN":
            if value != int(value) or int(value) % 2 or not 2 <= value <= 128:
                return False
            track.nchan = int(value)
        elif parm == "I_FOLDERDEPTH":
            track.folder_depth = int(value)
        else:
            raise TypeError(f"SetMediaTrackInfo_Value: parameter {parm} is not modelled")
        return True

    @checked(Any, str)
    def GetMediaTrackInfo_Value(self, track, parm):
        track = self._track(track)
        if parm == "I_NCHAN":
            return float(track.nchan)
        if parm == "I_FOLDERDEPTH":
            return float(track.folder_depth)
        if parm == "IP_TRACKNUMBER":
            return float(self.tracks.index(track) + 1)
        raise TypeError(f"GetMediaTrackInfo_Value: parameter {parm} is not modelled")

    @checked(Any, str, str, bool)
    def GetSetMediaTrackInfo_String(self, track, parm, value, set_new):
        track = self._track(track)
        if parm == "P_NAME":
            if set_new:
                self._changed()
                track.name = value
            return True, track.name
        if parm.startswith("P_EXT:"):
            key = parm[len("P_EXT:") :]
            if set_new:
                self._changed()
                track.ext[key] = value
                return True, value
            return (key in track.ext), track.ext.get(key, "")
        raise TypeError(f"GetSetMediaTrackInfo_String: parameter {parm} is not modelled")

    @checked(Any)
    def GetTrackGUID(self, track):
        return self._track(track).guid

    # ----------------------------------------------------------- items, takes, sources
    @checked(Any)
    def AddMediaItemToTrack(self, track):
        self._changed()
        item = Item()
        self._track(track).items.append(item)
        return item

    @checked(Any)
    def AddTakeToMediaItem(self, item):
        # Appends a take and makes it the item's active take, as REAPER does (the reference
        # is silent on the active take; this follows REAPER's behaviour and ReaScript docs).
        item = self._item(item)
        self._changed()
        take = Take()
        item.takes.append(take)
        item.active = take
        return take

    @checked(Any)
    def CountTakes(self, item):
        return len(self._item(item).takes)

    @checked(Any, NUMBER)
    def GetMediaItemTake(self, item, index):
        takes = self._item(item).takes
        return takes[int(index)] if 0 <= index < len(takes) else None

    @checked(Any)
    def GetActiveTake(self, item):
        return self._item(item).active

    @checked(Any)
    def SetActiveTake(self, take):
        item, take = self._take(take)
        self._changed()
        item.active = take  # returns nothing, as documented

    @checked(Any, str, str, bool)
    def GetSetMediaItemTakeInfo_String(self, take, parm, value, set_new):
        _, take = self._take(take)
        if parm != "P_NAME":
            raise TypeError(f"GetSetMediaItemTakeInfo_String: parameter {parm} is not modelled")
        if set_new:
            self._changed()
            take.name = value
        return True, take.name

    @checked(str)
    def PCM_Source_CreateFromFile(self, path):
        try:
            info = sf.info(path)
        except (sf.LibsndfileError, RuntimeError, OSError):
            return None
        return Source(path, info.channels, info.frames / info.samplerate, info.samplerate)

    @checked(Any)
    def GetMediaSourceNumChannels(self, source):
        return source.channels

    @checked(Any)
    def GetMediaSourceSampleRate(self, source):
        return source.rate  # an integer; 0 for MIDI, which this stand-in never opens

    @checked(Any)
    def GetMediaSourceLength(self, source):
        return source.length, False  # (length, lengthIsQN): two values, as documented

    @checked(Any, Any)
    def SetMediaItemTake_Source(self, take, source):
        self._changed()
        take.source = source
        return True

    @checked(Any, str, NUMBER)
    def SetMediaItemTakeInfo_Value(self, take, parm, value):
        _, take = self._take(take)
        self._changed()
        if parm == "D_STARTOFFS":
            take.start_offset = float(value)
        elif parm == "D_PLAYRATE":
            take.playrate = float(value)
        else:
            raise TypeError(f"SetMediaItemTakeInfo_Value: parameter {parm} is not modelled")
        return True

    @checked(Any, str)
    def GetMediaItemTakeInfo_Value(self, take, parm):
        _, take = self._take(take)
        if parm == "D_STARTOFFS":
            return take.start_offset
        if parm == "D_PLAYRATE":
            return take.playrate
        raise TypeError(f"GetMediaItemTakeInfo_Value: parameter {parm} is not modelled")

    @checked(Any)
    def GetMediaItemTake_Source(self, take):
        return self._take(take)[1].source

    @checked(Any)
    def GetMediaSourceFileName(self, source):
        # Lua: string filenamebuf = reaper.GetMediaSourceFileName(PCM_source source)
        if not isinstance(source, Source):
            raise TypeError("GetMediaSourceFileName: not a PCM_source")
        return source.path

    @checked(NUMBER)
    def CountSelectedMediaItems(self, project):
        return sum(item.selected for track in self.tracks for item in track.items)

    @checked(NUMBER, NUMBER)
    def GetSelectedMediaItem(self, project, index):
        chosen = [item for track in self.tracks for item in track.items if item.selected]
        return chosen[int(index)] if 0 <= index < len(chosen) else None

    @checked(Any, str)
    def GetMediaItemInfo_Value(self, item, parm):
        item = self._item(item)
        if parm == "D_POSITION":
            return item.position
        if parm == "D_LENGTH":
            return item.length
        raise TypeError(f"GetMediaItemInfo_Value: parameter {parm} is not modelled")

    @checked(Any)
    def UpdateItemInProject(self, item):
        self._item(item)

    @checked(bool, bool, NUMBER, NUMBER, bool)
    def GetSet_LoopTimeRange(self, is_set, is_loop, start, end, allow_autoseek):
        if is_set:
            self.time_selection = (float(start), float(end))
        return self.time_selection  # (start, end): two values

    @checked(Any, str, NUMBER)
    def SetMediaItemInfo_Value(self, item, parm, value):
        self._changed()
        if parm == "D_POSITION":
            item.position = float(value)
        elif parm == "D_LENGTH":
            item.length = float(value)
        else:
            raise TypeError(f"SetMediaItemInfo_Value: parameter {parm} is not modelled")
        return True

    @checked(Any, str, bool, NUMBER)
    def TrackFX_AddByName(self, track, name, rec_fx, instantiate):
        track = self._track(track)
        if name not in self.plugins:
            return -1
        self._changed()
        track.fx.append(name)
        return len(track.fx) - 1

    # ----------------------------------------------------------- undo, UI, misc
    @checked()
    def Undo_BeginBlock(self):
        self.undo_depth += 1

    @checked(str, NUMBER)
    def Undo_EndBlock(self, description, flags):
        if self.undo_depth == 0:
            raise TypeError("Undo_EndBlock without Undo_BeginBlock")
        self.undo_depth -= 1
        self.undo_blocks.append(description)

    @checked()
    def UpdateArrange(self):
        return None

    @checked(str)
    def ShowConsoleMsg(self, message):
        self.console.append(message)

    @checked(str, str, NUMBER)
    def ShowMessageBox(self, message, title, kind):
        self.console.append(message)
        return 1

    @checked(str, NUMBER)
    def ExecProcess(self, cmdline, timeout_ms):
        """Run ``cmdline`` and return "<exit code>\\n<output>" (None on a total failure or when
        it outlasts ``timeout_ms``; 0 waits as long as it takes). The line is run by /bin/sh
        here, the strictest reading a command line can get: anything a script did not quote
        is split or expanded. Its stdout and stderr come back together, as a console shows
        them, so a command's error sentence is in the output."""
        self.executed.append(cmdline)
        if timeout_ms < 0:
            raise TypeError("ExecProcess: the omnifoa scripts always wait for the command")
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", cmdline],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout_ms / 1000 if timeout_ms > 0 else None,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return f"{done.returncode}\n{done.stdout}"

    @checked()
    def GetResourcePath(self):
        return str(self.resource)

    @checked(str, NUMBER)
    def EnumerateFiles(self, path, index):
        try:
            names = sorted(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
        except OSError:
            return None
        return names[int(index)] if 0 <= index < len(names) else None

    @checked(str, NUMBER)
    def RecursiveCreateDirectory(self, path, ignored):
        os.makedirs(path, exist_ok=True)
        return 1

    @checked(bool, NUMBER, str, bool)
    def AddRemoveReaScript(self, add, section, path, commit):
        if not os.path.isfile(path):
            return 0
        command = 50000 + len(self.scripts)
        self.scripts[command] = path
        return command

    @checked(NUMBER)
    def ReverseNamedCommandLookup(self, command):
        path = self.scripts.get(int(command))
        if path is None:
            return None
        return "RS" + hashlib.sha1(path.encode()).hexdigest()

    @checked(str, str, str, bool)
    def SetExtState(self, section, key, value, persist):
        self.ext_state[(section, key)] = value

    @checked(str, str)
    def GetExtState(self, section, key):
        return self.ext_state.get((section, key), "")


def run_script(path: Path, reaper: Reaper) -> None:
    """Run a ReaScript file in real Lua 5.4 with the stub as its ``reaper`` table."""
    lua = lua54.LuaRuntime(unpack_returned_tuples=True, register_eval=False)
    lua.globals().reaper = reaper
    lua.execute(f"dofile({_lua_string(str(path))})")


def _lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class OscSurface:
    """REAPER's OSC control surface on 127.0.0.1: runs registered actions when triggered."""

    def __init__(self, reaper: Reaper, drop_first: int = 0) -> None:
        self.reaper = reaper
        self.drop_first = drop_first
        self.received: list[bytes] = []
        self.triggered: list[str] = []
        self.ignored: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                datagram, _ = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.received.append(datagram)
            if len(self.received) <= self.drop_first:
                continue  # lost on the way
            self._handle(datagram)

    def _handle(self, datagram: bytes) -> None:
        if len(datagram) > 1024:
            self.ignored.append("too long")
            return
        try:
            message = OscMessage(datagram)
        except Exception:
            self.ignored.append("not OSC")
            return
        tags = message.dgram[len(message.address) :].split(b",", 1)[-1].split(b"\0", 1)[0]
        if any(t not in b"ifs" for t in tags):
            self.ignored.append(f"types {tags!r}")
            return
        if not message.address.startswith("/action/"):
            self.ignored.append(message.address)
            return
        command = message.address[len("/action/") :]
        for number, path in self.reaper.scripts.items():
            named = "_" + self.reaper.ReverseNamedCommandLookup(number)
            if command in (named, str(number)):
                run_script(Path(path), self.reaper)
                self.triggered.append(command)  # after the action ran, as observers expect
                return
        self.ignored.append(f"unknown action {command}")
