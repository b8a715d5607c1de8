"""Training data for the bundled model: SynthSphere clips, their features, rotations, batches.

``build_dataset`` renders clips once into a cache folder (resumable, deterministic);
``load_cache`` reads it back; ``codec_batches``, ``decoder_batches`` and, after
``encode_latents``, ``flow_batches`` yield endless seeded batches.
"""

from plugin_core.spatial.scene_turn import random_azimuths, rotate_foa, rotate_frames
from plugin_core.training.batches import (
    FlowBatch,
    codec_batches,
    codec_fingerprint,
    decoder_batches,
    encode_latents,
    flow_batches,
)
from plugin_core.training.cache import CachedClips, build_dataset, load_cache, read_index

__all__ = [
    "CachedClips",
    "FlowBatch",
    "build_dataset",
    "codec_batches",
    "codec_fingerprint",
    "decoder_batches",
    "encode_latents",
    "flow_batches",
    "load_cache",
    "random_azimuths",
    "read_index",
    "rotate_foa",
    "rotate_frames",
]
