"""Checkpoint loading: the official layout, EMA, safetensors, refusals with clear errors."""

import argparse
import math
import pickle
import sys
import types
from pathlib import Path
from unittest.mock import patch

import pytest
import torch
from cli_runner import run_cli
from model_fixtures import (
    features,
    reference_shapes,
    reference_state,
    tiny_generator,
)

from models.checkpoint_files import CheckpointError, read_tensors
from models.omniaudio.checkpoint import load_state, load_weights
from models.omniaudio.config import preset
from models.omniaudio.dit import count_parameters
from models.omniaudio.generator import FoaGenerator


def output(model: FoaGenerator) -> torch.Tensor:
    """One velocity evaluation and one decode: enough to tell any two weight sets apart."""
    cfg = model.config
    rng = torch.Generator().manual_seed(3)
    x = torch.randn(1, cfg.dit.io_channels, 64, generator=rng)
    g = features(8, cfg.conditioner.feature_dim, 1)[None]
    f = features(8, cfg.conditioner.feature_dim, 2)[None]
    with torch.inference_mode():
        velocity = model.flow(x, torch.tensor([0.4]), g, f).flatten()
        audio = model.codec.decode(x).flatten()
    return torch.cat([velocity / velocity.abs().max(), audio / audio.abs().max()])


def assert_same_sound(a: torch.Tensor, b: torch.Tensor) -> None:
    """Equal up to float rounding, relative to the signal's peak."""
    assert a.shape == b.shape
    assert (a - b).abs().max() <= 1e-5 * b.abs().max()


def lightning_file(path: Path, model: FoaGenerator, ema: FoaGenerator | None = None) -> Path:
    state = {"diffusion." + k: v for k, v in reference_state(model).items()}
    if ema is not None:
        state |= {"diffusion_ema.ema_model." + k: v for k, v in reference_state(ema).items()}
    torch.save({"state_dict": state, "epoch": 3, "global_step": 1000}, path)
    return path


def test_lightning_checkpoint_reproduces_the_model(tmp_path: Path) -> None:
    source = tiny_generator(0)
    path = lightning_file(tmp_path / "model.ckpt", source)
    target = tiny_generator(1)
    report = load_weights(target, path, ema=False)
    assert report.source == "lightning"
    assert "model.model.transformer.layers.0.cross_attn.to_q.weight" in report.unused
    assert "model.model.transformer.layers.0.pre_norm.beta" in report.unused
    assert_same_sound(output(target), output(source))


def test_the_reference_weights_load_by_default_and_ema_on_request(tmp_path: Path) -> None:
    plain, ema = tiny_generator(0), tiny_generator(5)
    path = lightning_file(tmp_path / "model.ckpt", plain, ema)
    target = tiny_generator(1)
    assert load_weights(target, path).source == "lightning"  # what the reference's inference loads
    assert_same_sound(output(target), output(plain))
    assert load_weights(target, path, ema=True).source == "lightning (EMA weights)"
    assert_same_sound(output(target), output(ema))


def test_asking_for_an_ema_copy_a_file_lacks_is_refused(tmp_path: Path) -> None:
    path = lightning_file(tmp_path / "model.ckpt", tiny_generator(0))
    with pytest.raises(CheckpointError, match="no EMA copy"):
        load_weights(tiny_generator(1), path, ema=True)


def test_convert_to_safetensors_then_load(tmp_path: Path) -> None:
    source = tiny_generator(0)
    ckpt = lightning_file(tmp_path / "model.ckpt", source)
    converted = tmp_path / "model.safetensors"
    done = run_cli("models", "convert", str(ckpt), str(converted))
    assert done.returncode == 0, done.stderr
    assert "from a lightning checkpoint" in done.stdout
    target = tiny_generator(2)
    assert load_weights(target, converted).source == "omnifoa"
    assert_same_sound(output(target), output(source))


def test_a_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    with path.open("wb") as f:
        pickle.dump({"state_dict": {"x": torch.zeros(1)}, "hook": Path("x")}, f)
    with pytest.raises(CheckpointError, match="refuses it"):
        read_tensors(path)
    out = tmp_path / "evil.safetensors"
    done = run_cli("models", "convert", str(path), str(out))
    assert done.returncode == 2
    assert "refuses it" in done.stderr
    assert not out.exists()


def test_wrong_shape_and_missing_keys_name_the_key() -> None:
    state = reference_state(tiny_generator(0))
    key = "model.model.transformer.project_in.weight"
    state[key] = torch.zeros(3, 3)
    with pytest.raises(
        CheckpointError, match=r"flow\.dit\.transformer\.project_in\.weight has shape"
    ):
        load_state(tiny_generator(1), state)
    del state[key]
    with pytest.raises(CheckpointError, match=r"lacks 1 weight"):
        load_state(tiny_generator(1), state)


def test_unreadable_files_give_a_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 16)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        read_tensors(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_tensors(tmp_path / "none.ckpt")
    other = tmp_path / "model.onnx"
    other.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"use a \.safetensors"):
        read_tensors(other)


def test_official_checkpoint_layout_loads_into_the_omniaudio_preset() -> None:
    shapes = reference_shapes()
    with torch.device("meta"):
        model = FoaGenerator(preset("omniaudio"))
        state = {"diffusion." + k: torch.empty(s) for k, s in shapes.items()}
    report = load_state(model, {k[len("diffusion.") :]: v for k, v in state.items()}, "lightning")
    total = sum(math.prod(s) for s in shapes.values())
    used = count_parameters(model)
    assert len(shapes) == 749
    assert total == pytest.approx(1.22e9, rel=0.01)  # the paper's 1.22 B
    assert count_parameters(model.flow) == pytest.approx(0.91e9, rel=0.02)  # used at inference
    assert count_parameters(model.codec) == pytest.approx(2 * 78e6, rel=0.01)
    assert used < total
    assert all(k.startswith(("model.", "conditioner.")) for k in report.unused)
    assert not any(k.startswith("pretransform.") for k in report.unused)
    # a wrong shape is named
    shapes_bad = dict(state)
    shapes_bad["diffusion.model.model.preprocess_conv.weight"] = torch.empty(
        64, 64, 3, device="meta"
    )
    with pytest.raises(CheckpointError, match=r"preprocess_conv\.weight has shape"):
        load_state(model, {k[len("diffusion.") :]: v for k, v in shapes_bad.items()})


def _lightning_globals() -> dict[str, types.ModuleType]:
    """Modules standing in for Lightning's, so a pickle can name its AttributeDict class."""
    names = ["lightning", "lightning.fabric", "lightning.fabric.utilities"]
    modules = {name: types.ModuleType(name) for name in names}
    data = types.ModuleType("lightning.fabric.utilities.data")

    class AttributeDict(dict):
        pass

    AttributeDict.__module__, AttributeDict.__qualname__ = data.__name__, "AttributeDict"
    data.AttributeDict = AttributeDict  # type: ignore[attr-defined]
    return modules | {data.__name__: data}


def trainer_checkpoint(
    path: Path, plain: FoaGenerator, ema: FoaGenerator, hparams: object = None
) -> Path:
    """A checkpoint laid out as Lightning's Trainer.save_checkpoint writes one."""
    params = [p for p in plain.parameters() if p.requires_grad][:3]
    optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999))
    sum(p.sum() for p in params).backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    state = {"diffusion." + k: v for k, v in reference_state(plain).items()}
    state |= {"diffusion_ema.ema_model." + k: v for k, v in reference_state(ema).items()}
    state |= {"diffusion_ema.initted": torch.tensor(True), "diffusion_ema.step": torch.tensor(9)}
    modules = _lightning_globals()
    with patch.dict(sys.modules, modules):
        attribute_dict = modules["lightning.fabric.utilities.data"].AttributeDict
        checkpoint = {
            "epoch": 12,
            "global_step": 100_000,
            "pytorch-lightning_version": "2.4.0",
            "state_dict": state,
            "loops": {
                "fit_loop": {
                    "state_dict": {},
                    "epoch_loop.state_dict": {"_batches_that_stepped": 100_000},
                    "epoch_progress": {"total": {"ready": 13, "completed": 12}},
                }
            },
            "callbacks": {
                "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 10000}": {
                    "monitor": None,
                    "best_model_score": None,
                    "best_model_path": "",
                    "dirpath": "/checkpoints",
                    "best_k_models": {},
                    "kth_value": torch.tensor(float("inf")),
                    "last_model_path": "",
                }
            },
            "optimizer_states": [optimizer.state_dict()],
            "lr_schedulers": [scheduler.state_dict()],
            "hparams_name": "kwargs",
            "hyper_parameters": hparams
            if hparams is not None
            else attribute_dict(lr=1e-4, sample_rate=44100, demo_every=2000),
        }
        torch.save(checkpoint, path)
    return path


def test_a_lightning_trainer_checkpoint_loads_safely(tmp_path: Path) -> None:
    plain, ema = tiny_generator(0), tiny_generator(5)
    path = trainer_checkpoint(tmp_path / "model.ckpt", plain, ema)
    target = tiny_generator(1)
    assert load_weights(target, path).source == "lightning"
    assert_same_sound(output(target), output(plain))
    assert load_weights(target, path, ema=True).source == "lightning (EMA weights)"
    assert_same_sound(output(target), output(ema))


def test_a_trainer_checkpoint_with_another_class_is_refused_by_name(tmp_path: Path) -> None:
    hparams = argparse.Namespace(lr=1e-4)  # not on the allow-list: refused, named
    path = trainer_checkpoint(
        tmp_path / "model.ckpt", tiny_generator(0), tiny_generator(5), hparams
    )
    with pytest.raises(CheckpointError, match=r"argparse\.Namespace"):
        load_weights(tiny_generator(1), path)
