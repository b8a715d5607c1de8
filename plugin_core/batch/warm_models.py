"""The models of a batch: each loaded once, on first use, and kept for every later shot."""

from __future__ import annotations

from collections.abc import Callable

from models.family import WeightsCopy
from plugin_core.generation.loaded_model import LoadedModel, load_model
from plugin_core.generation.request import GenerationRequest

Loader = Callable[[str, str, WeightsCopy], LoadedModel]


class WarmModels:
    """One loaded model per (model id, weights copy) on the batch's device; a model that failed
    to load fails every shot that needs it, without loading it again."""

    def __init__(self, device: str = "auto", load: Loader | None = None) -> None:
        self.device = device
        self._load = load or load_model
        self._models: dict[tuple[str, WeightsCopy], LoadedModel | Exception] = {}

    def get(self, request: GenerationRequest) -> LoadedModel:
        """The request's model, loaded the first time it is asked for."""
        key: tuple[str, WeightsCopy] = (request.model, "ema" if request.ema else "model")
        if key not in self._models:
            try:
                self._models[key] = self._load(key[0], self.device, key[1])
            except Exception as exc:
                self._models[key] = exc
        found = self._models[key]
        if isinstance(found, Exception):
            raise found
        return found
