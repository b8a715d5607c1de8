"""Recommended training settings for the bundled ``omniaudio-mini`` model, on CPU and on a GPU.

Step times measured on 2 CPU cores (torch.set_num_threads(2), the real trainers, random data):

=============================================  ==========  ==========
``omniaudio-mini`` candidate                      codec step  flow step
=============================================  ==========  ==========
codec 32·(1,2,4,8), hop 512; crop 0.5 s × 4     701 ms
codec 16·(2,4,8,16), hop 1024; crop 0.5 s × 4   394 ms       (chosen)
same, crop 0.5 s × 8 / crop 1.0 s × 4           882 / 850 ms
DiT 256/6 layers/4 heads at L 861 (hop 512), ×4              1134 ms
DiT 256/6/4 at L 430 (hop 1024), batch 8                    993 ms
DiT 256/4/4 at L 430, batch 8                               664 ms
DiT 192/6/3 at L 430, batch 8                               603 ms
DiT 192/4/3 at L 430, batch 8                               424 ms (chosen)
=============================================  ==========  ==========

The spectral decoder (trained after the codec, on its frozen encoder's latents) takes 0.2 s a
step at batch 8 × 32 latent frames on 2 cores, plus about 1.3 s per clip × orientation to
encode the latents once: its 2000 CPU steps and 256 encodings come to about 12 min.

With the chosen sizes one 10 s window takes 16 guided steps × 41 ms + a 0.29 s decode ≈ 1 s on
2 cores. The CPU recipe fills about 24 min of codec and 21 min of flow training; the data
(128 scenes × 2 yaws, rendered and featurised) takes another 8 to 16 min on the same cores.
Without the codec's direction loss a codec this short learned the spectrum and the level of W
but barely X, Y and Z; with it (``direction_weight`` 1) the CPU codec reconstructs held-out
scenes within about 26° of their intensity direction (front-fixed baseline: 87°).

GPU step times (``benchmarks/bench_training.py --recipe gpu`` on one H200, random data):
codec 55 ms at batch 16 × 1 s, flow 21 ms at batch 64 in bf16 autocast (25 ms in fp32), so
the GPU recipe's training is about 92 + 35 min there. Its 4096 × 4 training windows are
rendered on the CPU first, which on 2 cores would take hours: give it a many-core host.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.omniaudio.codec import latent_length
from models.omniaudio.config import ModelConfig, preset


@dataclass(frozen=True)
class TrainingRecipe:
    """How to train one preset: the codec first (then :func:`normalise_latent_scale` on a few
    batches), then the flow model on whole windows of the codec's latents."""

    name: str
    preset: str
    device: str  # "cpu" or "cuda"
    threads: int  # torch CPU threads the timings assume (0: not CPU-bound)
    codec_steps: int
    codec_batch: int
    codec_crop_seconds: float
    codec_lr: float
    kl_weight: float
    direction_weight: float  # the codec's intensity-direction loss (losses.direction_loss)
    input_gain: float  # train_codec's input gain, for material near −20 dBFS RMS
    latent_norm_batches: int
    decoder_steps: int  # the spectral decoder on the frozen encoder (spectral codecs only)
    decoder_batch: int
    decoder_crop_latents: int
    decoder_lr: float
    decoder_orientations: int  # scene rotations (yaw, pitch, roll) each clip is encoded at
    flow_steps: int
    flow_batch: int
    flow_lr: float
    ema_decay: float
    fov_dropout: float
    training_windows: int  # distinct 10 s scenes to prepare (the data side's budget decides)
    rotations_per_clip: int  # scene yaws per clip, each with its own features
    codec_minutes: float  # expected wall time of each stage on the target device
    decoder_minutes: float
    flow_minutes: float

    @property
    def config(self) -> ModelConfig:
        return preset(self.preset)

    @property
    def training_minutes(self) -> float:
        """Expected minutes of all training stages on the target device (data not included)."""
        return self.codec_minutes + self.decoder_minutes + self.flow_minutes

    def codec_crop_samples(self) -> int:
        """The codec's training crop in samples: a whole number of hops, so it decodes to
        itself."""
        hop = self.config.codec.hop
        return max(1, round(self.codec_crop_seconds * self.config.sample_rate / hop)) * hop

    def flow_latent_frames(self) -> int:
        """Latent frames of one flow training window (the model's whole window)."""
        return latent_length(self.config.sample_size, self.config.codec)


CPU_RECIPE = TrainingRecipe(
    name="cpu",
    preset="omniaudio-mini",
    device="cpu",
    threads=2,
    codec_steps=3500,  # × 410 ms ≈ 24 min
    codec_batch=4,
    codec_crop_seconds=0.5,
    codec_lr=5e-4,
    kl_weight=1e-4,
    direction_weight=1.0,
    input_gain=10.0,
    latent_norm_batches=8,
    decoder_steps=2000,
    decoder_batch=8,
    decoder_crop_latents=32,
    decoder_lr=1e-3,
    decoder_orientations=2,
    flow_steps=3000,  # × 424 ms ≈ 21 min
    flow_batch=8,
    flow_lr=5e-4,
    ema_decay=0.999,
    fov_dropout=0.15,
    training_windows=128,
    rotations_per_clip=2,
    codec_minutes=24.0,
    decoder_minutes=12.0,
    flow_minutes=21.5,
)

# Minutes measured from step times on one H200 (see the module docstring).
GPU_RECIPE = TrainingRecipe(
    name="gpu",
    preset="omniaudio-mini",
    device="cuda",
    threads=0,
    codec_steps=100_000,
    codec_batch=16,
    codec_crop_seconds=1.0,
    codec_lr=3e-4,
    kl_weight=1e-4,
    direction_weight=1.0,
    input_gain=10.0,
    latent_norm_batches=32,
    decoder_steps=20_000,
    decoder_batch=32,
    decoder_crop_latents=64,
    decoder_lr=1e-3,
    decoder_orientations=4,
    flow_steps=100_000,
    flow_batch=64,
    flow_lr=3e-4,
    ema_decay=0.9999,
    fov_dropout=0.15,
    training_windows=4096,
    rotations_per_clip=4,
    codec_minutes=92.0,
    decoder_minutes=10.0,  # an estimate: not yet timed on a GPU
    flow_minutes=35.0,
)

RECIPES: dict[str, TrainingRecipe] = {r.name: r for r in (CPU_RECIPE, GPU_RECIPE)}
