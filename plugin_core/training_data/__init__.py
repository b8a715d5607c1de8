"""Training data for the bundled model: SynthSphere clips, their features, rotations, batches.

``build_dataset`` renders clips once into a cache folder (resumable, deterministic);
``load_cache`` reads it back; ``codec_batches`` and, after ``encode_latents``,
``flow_batches`` yield endless seeded batches. ``clip_features`` is the one place the global
and FoV views are made and encoded, for training and generation alike.
"""

from plugin_core.training_data.batches import (
    FlowBatch,
    codec_batches,
    codec_fingerprint,
    encode_latents,
    flow_batches,
)
from plugin_core.training_data.cache import CachedClips, build_dataset, load_cache, read_index
from plugin_core.training_data.features import (
    FeatureExtractor,
    clip_features,
    load_feature_extractor,
)
from plugin_core.training_data.rotation import random_azimuths, rotate_foa, rotate_frames

__all__ = [
    "CachedClips",
    "FeatureExtractor",
    "FlowBatch",
    "build_dataset",
    "clip_features",
    "codec_batches",
    "codec_fingerprint",
    "encode_latents",
    "flow_batches",
    "load_cache",
    "load_feature_extractor",
    "random_azimuths",
    "read_index",
    "rotate_foa",
    "rotate_frames",
]
