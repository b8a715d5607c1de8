"""``omnifoa train``: the bundled model's whole recipe in one command.

SynthSphere clips → cached features and FOA → codec → latents → flow model (EMA) → one
safetensors file with omnifoa's names, plus a JSON training record for the model card.
Every stage resumes from what a previous run left in the work folder.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import torch
from safetensors.numpy import load_file

from models.checkpoint_files import save_safetensors
from models.omniaudio.codec import SpatialVAE
from models.omniaudio.dit import DualBranchFlowModel, count_parameters
from models.omniaudio.family import OmniAudioEncoders
from models.training.codec_training import normalise_latent_scale, train_codec
from models.training.decoder_training import train_spectral_decoder
from models.training.flow_inputs import save_flow_inputs
from models.training.flow_training import train_flow
from models.training.recipe import TrainingRecipe
from plugin_core.atomic_files import atomic_output, write_atomic
from plugin_core.media.stem_sidecar import sha256_of
from plugin_core.training.batches import (
    codec_batches,
    decoder_batches,
    encode_latents,
    flow_batches,
)
from plugin_core.training.cache import CachedClips, build_dataset, load_cache

TRAIN_SEEDS_START = 0  # held-out evaluation uses seeds from 1_000_000


def _logger(stage: str, record: list[dict]) -> Callable[[int, dict[str, float]], None]:
    def log(step: int, losses: dict[str, float]) -> None:
        record.append({"stage": stage, "step": step, **losses})
        values = "  ".join(f"{k} {v:.4f}" for k, v in losses.items())
        print(f"[{stage}] step {step}: {values}", flush=True)

    return log


def _data_and_codec(
    recipe: TrainingRecipe, work_dir: Path, record: list[dict], timings: dict[str, float]
) -> tuple[CachedClips, SpatialVAE, float]:
    """The cached clips and the trained, latent-normalised codec (both resumed if present)."""
    torch.manual_seed(0)
    if recipe.device == "cpu" and recipe.threads:
        torch.set_num_threads(recipe.threads)
    device = torch.device(recipe.device)
    config = recipe.config
    work_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    extractor = OmniAudioEncoders(config, device)
    seeds = range(TRAIN_SEEDS_START, TRAIN_SEEDS_START + recipe.training_windows)
    cache_dir = build_dataset(
        work_dir / "clips",
        seeds,
        config.window_seconds,
        recipe.rotations_per_clip,
        extractor=extractor,
    )
    clips = load_cache(cache_dir)
    timings["data_minutes"] = (time.perf_counter() - start) / 60

    start = time.perf_counter()
    # A spectral codec's encoder is trained with the waveform decoder, which is then replaced.
    codec = SpatialVAE(replace(config.codec, decoder="oobleck")).to(device)
    train_codec(
        codec,
        codec_batches(clips, recipe.codec_batch, recipe.codec_crop_samples(), seed=1),
        recipe.codec_steps,
        lr=recipe.codec_lr,
        kl_weight=recipe.kl_weight,
        direction_weight=recipe.direction_weight,
        input_gain=recipe.input_gain,
        log=_logger("codec", record),
        checkpoint_dir=work_dir / "codec",
        seed=1,
    )
    rms = normalise_latent_scale(
        codec,
        codec_batches(clips, recipe.codec_batch, recipe.codec_crop_samples(), seed=2),
        recipe.latent_norm_batches,
    )
    timings["codec_minutes"] = (time.perf_counter() - start) / 60
    if config.codec.decoder == "spectral":
        start = time.perf_counter()
        codec = _spectral_codec(recipe, codec, clips, work_dir, record)
        timings["decoder_minutes"] = (time.perf_counter() - start) / 60
    return clips, codec, rms


def _spectral_codec(
    recipe: TrainingRecipe,
    trained: SpatialVAE,
    clips: CachedClips,
    work_dir: Path,
    record: list[dict],
) -> SpatialVAE:
    """``trained``'s encoder with a spectral decoder trained on its frozen latents."""
    codec = SpatialVAE(recipe.config.codec).to(next(trained.parameters()).device)
    codec.encoder.load_state_dict(trained.encoder.state_dict())
    codec.encoder.requires_grad_(False)
    batches = decoder_batches(
        clips,
        codec,
        recipe.decoder_orientations,
        recipe.decoder_batch,
        recipe.decoder_crop_latents,
        seed=4,
    )
    train_spectral_decoder(
        codec.decoder,
        batches,
        recipe.decoder_steps,
        lr=recipe.decoder_lr,
        log=_logger("decoder", record),
        checkpoint_dir=work_dir / "decoder",
        seed=4,
    )
    return codec.eval()


def export_flow_inputs(recipe: TrainingRecipe, work_dir: Path, out: Path) -> Path:
    """Run (or resume) the data and codec stages, then pack what the flow stage needs into
    ``out`` (see :mod:`models.training.flow_inputs`) and save the codec beside it, so the flow
    can be trained elsewhere (a GPU) with ``python -m models.training.flow_inputs``."""
    clips, codec, _ = _data_and_codec(recipe, work_dir, [], {})
    latents = load_file(encode_latents(clips, codec))["latents"]
    save_flow_inputs(out, latents, clips.global_features, clips.fov_features)
    codec_state = {f"codec.{k}": v for k, v in codec.state_dict().items()}
    save_safetensors(codec_state, out.with_name(out.stem + "_codec.safetensors"))
    return out


def train_bundled(recipe: TrainingRecipe, work_dir: Path, weights_out: Path) -> dict:
    """Run the recipe in ``work_dir``, write the weights to ``weights_out``, return the record."""
    record: list[dict] = []
    timings: dict[str, float] = {}
    clips, codec, rms = _data_and_codec(recipe, work_dir, record, timings)
    device = torch.device(recipe.device)
    config = recipe.config
    seeds = range(TRAIN_SEEDS_START, TRAIN_SEEDS_START + recipe.training_windows)

    start = time.perf_counter()
    latents = encode_latents(clips, codec)
    flow = DualBranchFlowModel(config).to(device)
    result = train_flow(
        flow,
        flow_batches(clips, latents, recipe.flow_batch, seed=3),
        recipe.flow_steps,
        lr=recipe.flow_lr,
        ema_decay=recipe.ema_decay,
        fov_dropout=recipe.fov_dropout,
        log=_logger("flow", record),
        checkpoint_dir=work_dir / "flow",
        seed=3,
    )
    flow.load_state_dict(result.ema_state)
    timings["flow_minutes"] = (time.perf_counter() - start) / 60

    state = {f"flow.{k}": v for k, v in flow.state_dict().items()}
    state |= {f"codec.{k}": v for k, v in codec.state_dict().items()}
    with atomic_output(weights_out) as tmp:
        save_safetensors(state, tmp)
    summary = {
        "recipe": asdict(recipe),
        "preset": config.name,
        "clips": len(clips.seeds),
        "train_seeds": [seeds.start, seeds.stop],
        "latent_rms_before_normalising": rms,
        "parameters": {
            "flow": count_parameters(flow),
            "codec encoder": count_parameters(codec.encoder),
            "codec decoder": count_parameters(codec.decoder),
        },
        "timings": timings,
        "hardware": f"{platform.processor() or platform.machine()}, {device}, "
        f"{torch.get_num_threads()} threads",
        "weights": str(weights_out),
        "sha256": sha256_of(weights_out),
        "losses": record,
    }
    text = json.dumps(summary, indent=1)
    write_atomic(work_dir / "training_record.json", lambda tmp: tmp.write_text(text))
    return summary
