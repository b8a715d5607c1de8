"""Which camera (FoV) view a job uses: the strip's FoV when it sets one, else the model's own,
which the add-on learns from the service's model list (``GET /v1/models``).

Plain Python (no bpy): the panel, the preview outline and the workers' outcomes use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_MODEL_FOV = 120.0  # the bundled model's own, until the service says otherwise


def listed_fov(models_document: Mapping[str, Any], model_id: str) -> float | None:
    """The camera FoV in degrees that ``GET /v1/models`` gives for ``model_id``; None when
    the document does not list that model or gives it no usable FoV."""
    for entry in models_document.get("models") or ():
        if isinstance(entry, Mapping) and entry.get("id") == model_id:
            fov = entry.get("fov")
            if isinstance(fov, int | float) and not isinstance(fov, bool) and 0.0 < fov < 180.0:
                return float(fov)
            return None
    return None


def fov_in_use(strip_fov: float, model_fov: float) -> float:
    """The FoV a job uses: the strip's when it is above 0, else the model's own."""
    return float(strip_fov) if strip_fov > 0.0 else float(model_fov)


def fov_note(strip_fov: float, model_fov: float, confirmed: bool) -> str:
    """Beside the strip's FoV in the panel: the model's own FoV, and whether the job uses it
    (``confirmed`` False: not yet heard from the service for the chosen model)."""
    model = f"{model_fov:.0f}°" + ("" if confirmed else "?")
    return f"model's {model}" if strip_fov <= 0.0 else f"(model: {model})"
