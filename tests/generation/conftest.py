"""What the generation tests share: the tiny OmniAudio model, loaded once per module."""

from __future__ import annotations

import pytest
from model_fixtures import tiny_family_model

from plugin_core.generation.loaded_model import LoadedModel, unregistered


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return unregistered(tiny_family_model(), "tiny-test")
