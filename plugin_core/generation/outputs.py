"""The files one generation request writes: their names, and whether they may be written.

One variation writes the stem. Several write one stem with a take each
(:mod:`plugin_core.media.stem_takes`): the takes in the stem's takes folder, the stem a copy
of the first (the chosen one), and one sidecar listing them.
"""

from __future__ import annotations

from pathlib import Path

from plugin_core.errors import InputError
from plugin_core.file_checks import output_file
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.stem_sidecar import sidecar_path
from plugin_core.media.stem_takes import take_path, takes_folder


def take_files(output: Path, variations: int) -> list[Path]:
    """The audio file of each variation: the stem itself for one, else its takes."""
    if variations == 1:
        return [output]
    return [take_path(output, i + 1) for i in range(variations)]


def planned_files(output: Path, variations: int) -> list[Path]:
    """Every audio file the request writes, the stem first (its sidecar beside it)."""
    takes = take_files(output, variations)
    return takes if takes == [output] else [output, *takes]


def check_outputs(request: GenerationRequest) -> None:
    """InputError unless every file the request writes can be written without clobbering."""
    inputs = [request.video]
    output_file(request.output, request.overwrite, inputs)
    output_file(sidecar_path(request.output), request.overwrite, inputs)
    folder = takes_folder(request.output)
    for take in take_files(request.output, request.variations):
        if take != request.output and folder.is_dir():
            output_file(take, request.overwrite, inputs)
        elif take != request.output and folder.exists():
            raise InputError(f"{folder} is in the way of the takes; it is not a folder.")
