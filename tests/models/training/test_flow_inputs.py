"""Portable flow inputs: packed and unpacked within a quantisation step, and a flow model
trained from them alone, on whatever device is there."""

from pathlib import Path

import numpy as np
import torch

from models.omniaudio.config import preset
from models.omniaudio.dit import DualBranchFlowModel
from models.training.flow_inputs import load_flow_inputs, main, save_flow_inputs


def packed(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    cfg = preset("tiny")
    rng = np.random.default_rng(0)
    shape = (3, 2, cfg.frames_per_window, cfg.conditioner.feature_dim)
    latents = rng.standard_normal((3, 2, cfg.dit.io_channels, 22)).astype(np.float32)
    glob = rng.standard_normal(shape).astype(np.float16)
    fov = np.maximum(rng.standard_normal(shape), 0).astype(np.float16)
    path = tmp_path / "inputs.npz"
    save_flow_inputs(path, latents, glob, fov)
    return path, latents, glob, fov


def test_packing_keeps_every_value_within_half_a_step(tmp_path: Path) -> None:
    path, latents, glob, fov = packed(tmp_path)
    got_latents, got_glob, got_fov = load_flow_inputs(path)
    np.testing.assert_allclose(got_latents.numpy(), latents, atol=2e-3, rtol=1e-3)
    for got, want in ((got_glob, glob), (got_fov, fov)):
        want = want.astype(np.float32)
        step = (want.max(axis=(0, 1, 2)) - want.min(axis=(0, 1, 2))) / 255
        assert np.all(np.abs(got.numpy() - want) <= step / 2 + 1e-5)
    assert path.stat().st_size < latents.nbytes / 2 + glob.nbytes  # features at a byte each


def test_a_flow_model_trains_from_the_packed_inputs_alone(tmp_path: Path) -> None:
    path, *_ = packed(tmp_path)
    out = tmp_path / "flow.safetensors"
    assert main([str(path), "--preset", "tiny", "--minutes", "0.001", "--out", str(out)]) == 0
    from safetensors.torch import load_file

    state = load_file(out)
    assert all(k.startswith("flow.") for k in state)
    model = DualBranchFlowModel(preset("tiny"))
    model.load_state_dict({k[len("flow.") :]: v for k, v in state.items()})  # strict
    assert all(torch.isfinite(p).all() for p in model.parameters())
    log = out.with_suffix(".json").read_text()
    assert '"steps": 100' in log
