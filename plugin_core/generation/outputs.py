"""The files one generation request writes: their names, and whether they may be written."""

from __future__ import annotations

from pathlib import Path

from plugin_core.file_checks import output_file
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.stem_sidecar import sidecar_path


def output_paths(output: Path, seed: int, variations: int) -> list[Path]:
    """One file per variation: the name itself for one, ``name_seedN_vK`` for several."""
    if variations == 1:
        return [output]
    return [
        output.with_name(f"{output.stem}_seed{seed}_v{i}{output.suffix}") for i in range(variations)
    ]


def check_outputs(request: GenerationRequest) -> None:
    """InputError unless every file the request writes can be written without clobbering."""
    paths = output_paths(request.output, request.seed, request.variations)
    inputs = [request.video]
    for path in [*paths, *map(sidecar_path, paths)]:
        output_file(path, request.overwrite, inputs)
