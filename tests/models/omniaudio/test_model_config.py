"""Model configurations: presets, the stable-audio-tools JSON reader, device choice."""

import copy
import json

import pytest
import torch
from test_data import DATA_DIR

from models.device import autocast_dtype, pick_device
from models.omniaudio.config import ConfigError, preset, with_sampler
from models.omniaudio.release_config import from_stable_audio_json

V2A_FOA = DATA_DIR / "v2a_foa.json"


def official_json() -> dict:
    return json.loads(V2A_FOA.read_text())


def test_official_json_parses_into_the_omniaudio_preset() -> None:
    config = from_stable_audio_json(official_json(), name="omniaudio")
    assert config == preset("omniaudio")
    assert config.codec.hop == 2048
    assert config.frames_per_window == 80
    assert config.dit.head_dim == 64
    assert config.dit.rotary_dims == 32
    assert config.sampler.steps == 24
    assert config.sampler.cfg_scale == 3.0


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("model", "diffusion", "diffusion_objective"), "v", "rectified_flow"),
        (("model", "diffusion", "type"), "adp_cfg_1d", "dit"),
        (("model", "pretransform", "config", "bottleneck", "type"), "rvq", "vae"),
        (("model_type",), "autoencoder", "diffusion_cond"),
        (("model", "diffusion", "config", "io_channels"), 32, "io_channels"),
        (("model", "pretransform", "config", "latent_dim"), 32, "twice the latent size"),
    ],
)
def test_unsupported_configs_name_the_field(path: tuple, value: object, message: str) -> None:
    d = copy.deepcopy(official_json())
    node = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=message):
        from_stable_audio_json(d)


def test_missing_conditioner_is_reported() -> None:
    d = official_json()
    d["model"]["conditioning"]["configs"] = d["model"]["conditioning"]["configs"][:1]
    with pytest.raises(ConfigError, match="video_360"):
        from_stable_audio_json(d)


def test_presets_and_sampler_overrides() -> None:
    mini = preset("omniaudio-mini")
    assert mini.dit.io_channels == mini.codec.latent_dim
    assert preset("tiny").dit.io_channels == preset("tiny").codec.latent_dim
    heun = with_sampler(mini, method="heun", steps=8)
    assert (heun.sampler.method, heun.sampler.steps) == ("heun", 8)
    with pytest.raises(ConfigError, match="unknown model preset 'big'"):
        preset("big")
    with pytest.raises(ConfigError, match="at least one step"):
        with_sampler(mini, steps=0)


def test_device_choice_falls_back_to_cpu_here() -> None:
    device = pick_device("auto")
    assert device.type in {"cuda", "mps", "cpu"}
    assert autocast_dtype(torch.device("cpu")) is None
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")
