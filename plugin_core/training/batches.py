"""Endless, seeded training batches from a cache: FOA crops for the codec, latents for the flow.

Latents depend on the codec, so :func:`encode_latents` stores them beside the cache in
``latents_<fingerprint>.safetensors``, named after a hash of the codec's configuration and
weights: ``seeds`` int64 [S] and ``latents`` float32 [S, R, C, L], the posterior means
(:meth:`SpatialVAE.encode`'s default) of every clip turned by each of its yaws. A retrained
or rescaled codec gets a new file, never stale latents.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from tqdm import tqdm

from models.omniaudio.codec import SpatialVAE
from models.training.flow_training import FlowBatch
from plugin_core.atomic_files import write_atomic
from plugin_core.errors import InputError
from plugin_core.training.cache import CachedClips
from plugin_core.training.rotation import rotate_foa


def codec_batches(
    clips: CachedClips, batch_size: int, crop_samples: int, seed: int = 0
) -> Iterator[torch.Tensor]:
    """Endless FOA crops [B, 4, crop_samples] float32: random clips, offsets and scene yaws."""
    length = clips.foa.shape[-1]
    if not 0 < crop_samples <= length:
        raise InputError(f"A crop must hold 1 to {length} samples, not {crop_samples}.")
    rng = np.random.default_rng(seed)
    while True:
        picks = rng.integers(0, len(clips.seeds), size=batch_size)
        starts = rng.integers(0, length - crop_samples + 1, size=batch_size)
        yaws = rng.uniform(-180.0, 180.0, size=batch_size)
        crops = [
            rotate_foa(clips.foa[i, :, s : s + crop_samples].astype(np.float32), yaw)
            for i, s, yaw in zip(picks, starts, yaws, strict=True)
        ]
        yield torch.from_numpy(np.stack(crops))


def codec_fingerprint(codec: SpatialVAE) -> str:
    """16 hex digits of SHA-256 over the codec's configuration and weights."""
    digest = hashlib.sha256(repr(codec.config).encode())
    for name, tensor in sorted(codec.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def encode_latents(
    clips: CachedClips,
    codec: SpatialVAE,
    batch_size: int = 1,
    progress: bool = True,
) -> Path:
    """Encode every cached clip × yaw with ``codec`` once; returns the latents file (in the cache).

    An existing file for this codec is reused when it covers exactly the clips given. One clip
    per pass is the default: on 2 CPU cores larger batches were no faster (measured).
    """
    path = clips.folder / f"latents_{codec_fingerprint(codec)}.safetensors"
    if path.is_file() and np.array_equal(load_file(path)["seeds"], clips.seeds):
        return path
    device = next(codec.parameters()).device
    pairs = [(c, r) for c in range(len(clips.seeds)) for r in range(clips.azimuths.shape[1])]
    parts = []
    with torch.inference_mode():
        for start in tqdm(
            range(0, len(pairs), batch_size), desc="latents", unit="batch", disable=not progress
        ):
            audio = np.stack(
                [clips.rotated_foa(c, r) for c, r in pairs[start : start + batch_size]]
            )
            parts.append(codec.encode(torch.from_numpy(audio).to(device)).float().cpu().numpy())
    shape = (len(clips.seeds), clips.azimuths.shape[1], *parts[0].shape[1:])
    arrays = {"seeds": clips.seeds, "latents": np.concatenate(parts).reshape(shape)}
    write_atomic(path, lambda tmp: save_file(arrays, tmp))
    return path


def flow_batches(
    clips: CachedClips, latents_path: str | os.PathLike[str], batch_size: int, seed: int = 0
) -> Iterator[FlowBatch]:
    """Endless flow batches of random clip × yaw pairs: latents and the matching features."""
    stored = load_file(latents_path)
    if not np.array_equal(stored["seeds"], clips.seeds):
        raise InputError(f"{latents_path} was encoded from other clips; run encode_latents again.")
    latents = stored["latents"]
    rng = np.random.default_rng(seed)
    while True:
        picks = rng.integers(0, len(clips.seeds), size=batch_size)
        turns = rng.integers(0, clips.azimuths.shape[1], size=batch_size)
        yield FlowBatch(
            latents=torch.from_numpy(latents[picks, turns]),
            global_features=torch.from_numpy(
                clips.global_features[picks, turns].astype(np.float32)
            ),
            fov_features=torch.from_numpy(clips.fov_features[picks, turns].astype(np.float32)),
        )
