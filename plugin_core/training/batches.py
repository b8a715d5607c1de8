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
from plugin_core.spatial.foa import rotate
from plugin_core.spatial.scene_turn import rotate_foa
from plugin_core.training.cache import CachedClips


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


def decoder_batches(
    clips: CachedClips,
    codec: SpatialVAE,
    orientations: int,
    batch_size: int,
    crop_latents: int,
    seed: int = 0,
    progress: bool = True,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless (latents [B, C, crop_latents], FOA [B, 4, crop_latents·hop]) crops for a
    decoder trained on ``codec``'s frozen encoder.

    Every clip is encoded once at ``orientations`` seeded scene rotations: the first a yaw, the
    others a yaw, a pitch within ±50° and a roll within ±30°, so the decoder sees sources at
    every elevation, not only the ones SynthSphere places.
    """
    hop = codec.config.hop
    rng = np.random.default_rng(seed)
    turns = []
    for _ in range(len(clips.seeds)):
        for k in range(orientations):
            tilt = (rng.uniform(-50.0, 50.0), rng.uniform(-30.0, 30.0)) if k else (0.0, 0.0)
            turns.append((float(rng.uniform(-180.0, 180.0)), *tilt))
    device = next(codec.parameters()).device
    latents = []
    with torch.inference_mode():
        for index in tqdm(range(len(turns)), desc="latents", unit="clip", disable=not progress):
            audio = rotate(
                clips.foa[index // orientations].astype(np.float32), *turns[index], frame="scene"
            )
            latents.append(
                codec.encode(torch.from_numpy(audio)[None].to(device))[0].float().cpu().numpy()
            )
    length = latents[0].shape[-1]
    if not 0 < crop_latents <= length:
        raise InputError(
            f"A decoder crop must hold 1 to {length} latent frames, not {crop_latents}."
        )
    while True:
        picks = rng.integers(0, len(turns), size=batch_size)
        starts = rng.integers(0, length - crop_latents + 1, size=batch_size)
        audio = [
            rotate(
                clips.foa[i // orientations, :, s * hop : (s + crop_latents) * hop].astype(
                    np.float32
                ),
                *turns[i],
                frame="scene",
            )
            for i, s in zip(picks, starts, strict=True)
        ]
        z = [latents[i][:, s : s + crop_latents] for i, s in zip(picks, starts, strict=True)]
        yield torch.from_numpy(np.stack(z)), torch.from_numpy(np.stack(audio))
