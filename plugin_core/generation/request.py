"""The generation request: one definition of every field a user sets, used everywhere.

:class:`GenerationRequest` holds the fields under their wire names (the service's job fields,
the sidecar's ``request``, the job records echoed back); each field's :class:`FieldSpec` says
its type, range, choices and help. The CLI builds its flags from the specs, the service
checks job bodies with them, ``GET /v1/schema`` publishes them, and both the CLI and the
service refuse a bad value with the same sentence (:func:`check_field`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from plugin_core.errors import InputError
from plugin_core.media.audio_io import Subtype
from plugin_core.media.stem_writer import Delivery
from plugin_core.spatial.direction_path import DirectionPath

SCHEMA_VERSION = 3  # bump when a field's name, meaning, type or range changes
DEFAULT_MODEL = "omnifoa-mini"
MIN_SPAN_SECONDS = 0.5
MAX_SEED = 2**63 - 1
MAX_TAKES = 16  # takes of one stem made at once (variations, or a range made again)
Level = Literal["loudness", "peak", "off"]
Kind = Literal["int", "float", "bool", "str", "path", "direction_path"]


@dataclass(frozen=True)
class FieldSpec:
    """What one request field accepts; ``minimum``/``maximum`` are inclusive."""

    kind: Kind
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    nullable: bool = False  # None means "the model's own" or "to the end"
    unit: str = ""
    flag: str | None = None  # the CLI flag when it is not --<name with dashes>
    wire: bool = True  # a job field of the service

    def describe(self) -> dict[str, Any]:
        """The spec as JSON (``GET /v1/schema``)."""
        doc: dict[str, Any] = {"type": self.kind, "help": self.help, "nullable": self.nullable}
        for key in ("minimum", "maximum", "choices", "unit"):
            value = getattr(self, key)
            if value not in (None, ""):
                doc[key] = list(value) if isinstance(value, tuple) else value
        return doc


def _meta(spec: FieldSpec) -> dict[str, FieldSpec]:
    return {"spec": spec}


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a user sets for one generation; the CLI, the service and the add-on build it.

    ``end`` None runs to the end of the video; ``path`` (video time) overrides ``yaw`` and
    ``pitch``; ``aim`` points the FoV along the strongest visual action instead (found by
    motion saliency; the sidecar records the path); ``steps``, ``cfg``, ``sampler`` and
    ``fov`` None keep the model's own.
    """

    video: Path = field(metadata={"spec": FieldSpec("path", "the 360 video (equirectangular)")})
    output: Path = field(
        metadata={"spec": FieldSpec("path", "the stem to write (.wav or .flac)", wire=False)}
    )
    start: float = field(
        default=0.0,
        metadata=_meta(FieldSpec("float", "start of the span", 0.0, 24 * 3600.0, unit="s")),
    )
    end: float | None = field(
        default=None,
        metadata=_meta(
            FieldSpec(
                "float",
                "end of the span (default: the video's end)",
                0.0,
                24 * 3600.0,
                nullable=True,
                unit="s",
            )
        ),
    )
    model: str = field(
        default=DEFAULT_MODEL,
        metadata=_meta(FieldSpec("str", "model id (see `omnifoa models list`)")),
    )
    seed: int = field(default=0, metadata=_meta(FieldSpec("int", "sampling seed", 0, MAX_SEED)))
    variations: int = field(
        default=1, metadata=_meta(FieldSpec("int", "takes of the stem (variations)", 1, MAX_TAKES))
    )
    steps: int | None = field(
        default=None,
        metadata=_meta(
            FieldSpec("int", "sampling steps (default: the model's)", 1, 1000, nullable=True)
        ),
    )
    cfg: float | None = field(
        default=None,
        metadata=_meta(
            FieldSpec("float", "guidance scale (default: the model's)", 0.0, 100.0, nullable=True)
        ),
    )
    sampler: str | None = field(
        default=None,
        metadata=_meta(
            FieldSpec(
                "str",
                "sampling method (default: the model's): euler or heun for OmniAudio, joint or "
                "dual guidance for ViSAGe",
                choices=("euler", "heun", "joint", "dual"),
                nullable=True,
            )
        ),
    )
    yaw: float = field(
        default=0.0,
        metadata=_meta(
            FieldSpec(
                "float", "camera direction azimuth (left positive)", -360.0, 360.0, unit="deg"
            )
        ),
    )
    pitch: float = field(
        default=0.0,
        metadata=_meta(
            FieldSpec("float", "camera direction elevation (up positive)", -90.0, 90.0, unit="deg")
        ),
    )
    path: DirectionPath | None = field(
        default=None,
        metadata=_meta(
            FieldSpec(
                "direction_path",
                "camera direction over time: a direction path (.json/.csv)",
                nullable=True,
            )
        ),
    )
    fov: float | None = field(
        default=None,
        metadata=_meta(
            FieldSpec(
                "float",
                "field of view of the camera view (default: the model's)",
                1.0,
                179.0,
                nullable=True,
                unit="deg",
            )
        ),
    )
    aim: bool = field(
        default=False,
        metadata=_meta(
            FieldSpec(
                "bool",
                "aim the FoV along the strongest visual action (motion saliency)",
                flag="--aim-action",
            )
        ),
    )
    ema: bool = field(
        default=False,
        metadata=_meta(
            FieldSpec("bool", "use the checkpoint's EMA weights (default: its main weights)")
        ),
    )
    sample_rate: int = field(
        default=48000,
        metadata=_meta(
            FieldSpec(
                "int", "delivery sample rate", choices=(44100, 48000), unit="Hz", flag="--rate"
            )
        ),
    )
    subtype: Subtype = field(
        default="float32",
        metadata=_meta(FieldSpec("str", "sample format", choices=("float32", "pcm24"))),
    )
    convention: Delivery = field(
        default="ambix",
        metadata=_meta(FieldSpec("str", "FOA convention on disk", choices=("ambix", "fuma"))),
    )
    level: Level = field(
        default="loudness",
        metadata=_meta(
            FieldSpec(
                "str",
                "one gain for the whole stem: to the loudness target, to the peak "
                "target, or off (the model's level; the ceiling still holds)",
                choices=("loudness", "peak", "off"),
            )
        ),
    )
    loudness: float = field(
        default=-23.0,
        metadata=_meta(
            FieldSpec("float", "loudness target of W (BS.1770)", -70.0, -1.0, unit="LUFS")
        ),
    )
    peak: float = field(
        default=-1.0,
        metadata=_meta(
            FieldSpec("float", "sample-peak target of all four channels", -60.0, 0.0, unit="dBFS")
        ),
    )
    ceiling: float = field(
        default=-1.0,
        metadata=_meta(FieldSpec("float", "true-peak ceiling", -20.0, 0.0, unit="dBTP")),
    )
    overwrite: bool = field(
        default=False, metadata=_meta(FieldSpec("bool", "replace existing output files"))
    )
    device: str = field(
        default="auto",
        metadata=_meta(
            FieldSpec("str", "where to run", choices=("auto", "cuda", "mps", "cpu"), wire=False)
        ),
    )

    def validate(self, labels: dict[str, str] | None = None) -> None:
        """InputError (one sentence) for a value out of its range or fields that clash;
        ``labels`` names the fields as the caller's user knows them (the CLI's flags)."""
        for f in dataclasses.fields(self):
            if f.name not in ("video", "output"):
                check_field(f.name, getattr(self, f.name), (labels or {}).get(f.name))
        if self.end is not None and self.end - self.start < MIN_SPAN_SECONDS:
            raise InputError(
                f"The time range must last at least {MIN_SPAN_SECONDS} s "
                f"(asked for {self.start:g} to {self.end:g} s)."
            )
        if self.output.suffix.lower() not in (".wav", ".flac"):
            raise InputError("Name the output *.wav or *.flac.")
        if self.aim and self.path is not None:
            raise InputError(
                "Aim the FoV one way: at the action or along a direction path, not both."
            )


def field_specs() -> dict[str, FieldSpec]:
    """Every request field's spec, by name, in declaration order."""
    return {f.name: f.metadata["spec"] for f in dataclasses.fields(GenerationRequest)}


def field_default(name: str) -> Any:
    """The default of a request field."""
    return next(f.default for f in dataclasses.fields(GenerationRequest) if f.name == name)


def _number_words(spec: FieldSpec) -> str:
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.minimum is not None and spec.maximum is not None:
        return f"between {spec.minimum:g} and {spec.maximum:g}{unit}"
    return "a number"


def check_field(name: str, value: Any, label: str | None = None) -> Any:
    """``value`` if field ``name`` accepts it, else InputError naming the field (as ``label``:
    the CLI passes its flag) and its range."""
    spec = field_specs()[name]
    label = label or name
    if value is None:
        if spec.nullable:
            return None
        raise InputError(f"{label} needs a value.")
    if spec.kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{label} must be a number, not {value!r}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{label} must be a finite number, not {value}.")
        if spec.kind == "int" and (isinstance(value, float) and not value.is_integer()):
            raise InputError(f"{label} must be a whole number, not {value}.")
        if spec.choices is not None and value not in spec.choices:
            allowed = " or ".join(f"{c}" for c in spec.choices)
            raise InputError(f"{label} must be {allowed}, not {value:g}.")
        low, high = spec.minimum, spec.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise InputError(f"{label} must be {_number_words(spec)}, not {value:g}.")
        return int(value) if spec.kind == "int" else float(value)
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise InputError(f"{label} must be true or false, not {value!r}.")
        return value
    if spec.kind == "str":
        if not isinstance(value, str):
            raise InputError(f"{label} must be text, not {value!r}.")
        if spec.choices is not None and value not in spec.choices:
            raise InputError(f"{label} must be one of {', '.join(spec.choices)}, not {value!r}.")
        if not 0 < len(value) <= 200:
            raise InputError(f"{label} must have 1 to 200 characters.")
        return value
    if spec.kind == "direction_path":
        if not isinstance(value, DirectionPath):
            raise InputError(f"{label} must be a direction path.")
        return value
    if not isinstance(value, Path):
        raise InputError(f"{label} must be a file path.")
    return value


def request_record(request: GenerationRequest) -> dict[str, Any]:
    """Every field of the request under its wire name, JSON-ready (sidecars, job records)."""
    record: dict[str, Any] = {}
    for f in dataclasses.fields(request):
        value = getattr(request, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, DirectionPath):
            value = value.to_json()
        record[f.name] = value
    return record


def request_from_record(record: Any, output: Path) -> GenerationRequest:
    """The request a sidecar's ``request`` record describes (the inverse of
    :func:`request_record`), writing to ``output``; InputError when it is not one."""
    if not isinstance(record, dict) or "video" not in record:
        raise InputError("The sidecar holds no request omnifoa can make the stem again from.")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(GenerationRequest):
        if f.name in ("video", "output") or f.name not in record:
            continue
        value = record[f.name]
        if f.name == "path" and value is not None:
            value = DirectionPath.from_json(value)
        values[f.name] = value
    request = GenerationRequest(video=Path(str(record["video"])), output=output, **values)
    request.validate()
    return request


def schema_document() -> dict[str, Any]:
    """The job fields the service accepts, with defaults and ranges (``GET /v1/schema``)."""
    fields = {}
    for f in dataclasses.fields(GenerationRequest):
        spec: FieldSpec = f.metadata["spec"]
        if not spec.wire:
            continue
        doc = spec.describe()
        if f.default is not dataclasses.MISSING:
            doc["default"] = f.default
        fields[f.name] = doc
    return {"schema_version": SCHEMA_VERSION, "fields": fields}
