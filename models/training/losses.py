"""Training losses: multi-resolution STFT over FOA, the codec's total loss, rectified flow.

The STFT loss compares the four AmbiX channels and six virtual first-order cardioids
0.5·(W ± X), 0.5·(W ± Y), 0.5·(W ± Z). Magnitudes alone cannot tell Y from −Y (left from
right); the cardioids can, so a mirrored, swapped or front-back flipped field costs more than
a 3 dB level error (tests/test_training.py). The direction loss compares the active
intensity vector Re(W*·[X, Y, Z]) of every time-frequency bin, weighted by the bin's energy,
and ignores level: it is the error the spatial metrics measure, seen bin by bin.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional

STFT_SIZES: tuple[int, ...] = (2048, 512, 128)
_POWER_FLOOR = 1e-10  # keeps the magnitude's gradient finite at silent bins
_LEVEL_FLOOR = 1e-5  # guards divisions by the level of a silent target
# The log term adds a floor 60 dB below the loudest bin of the same example (over all its
# channels), so noise far under the signal does not dominate the loss.
LOG_RANGE = 1e-3
_DIRECTION_FLOOR = 1e-6  # relative to the loudest bin's energy


def virtual_cardioids(foa: Tensor) -> Tensor:
    """AmbiX [B, 4, N] → six cardioids [B, 6, N] facing +Y, +Z, +X, −Y, −Z, −X."""
    w, axes = foa[:, :1], foa[:, 1:4]
    return 0.5 * torch.cat([w + axes, w - axes], dim=1)


def stft_magnitude(x: Tensor, n_fft: int) -> Tensor:
    """|STFT| [B·C, n_fft/2 + 1, frames] of x [B, C, N]: Hann window, hop n_fft/4, float32."""
    flat = x.reshape(-1, x.shape[-1]).float()
    window = torch.hann_window(n_fft, device=x.device)
    spec = torch.stft(flat, n_fft, n_fft // 4, window=window, return_complex=True)
    return (spec.real.square() + spec.imag.square()).clamp_min(_POWER_FLOOR).sqrt()


def spectral_terms(prediction: Tensor, target: Tensor, n_fft: int) -> tuple[Tensor, Tensor]:
    """Spectral convergence ‖S_t − S_p‖ / ‖S_t‖ and the mean L1 distance of log(S + floor),
    floor = :data:`LOG_RANGE` times each example's loudest target bin; [B, C, N] each.

    The floor is added rather than clamped, so a prediction quieter than the floor still gets
    a gradient towards the target's level (a clamp traps the training in silence).
    """
    batch = prediction.shape[0]
    mag_p = stft_magnitude(prediction, n_fft).reshape(batch, -1)
    mag_t = stft_magnitude(target, n_fft).reshape(batch, -1)
    convergence = (mag_t - mag_p).norm() / mag_t.norm().clamp_min(_LEVEL_FLOOR)
    floor = (LOG_RANGE * mag_t.amax(dim=1, keepdim=True)).clamp_min(_LEVEL_FLOOR)
    log_p, log_t = (mag_p + floor).log(), (mag_t + floor).log()
    return convergence, (log_t - log_p).abs().mean()


def intensity_and_energy(foa: Tensor, n_fft: int) -> tuple[Tensor, Tensor]:
    """Active intensity [B, 3, F·T] and energy (|W|² + |X|² + |Y|² + |Z|²)/2 [B, F·T] per
    STFT bin of AmbiX [B, 4, N] (SN3D: a plane wave has |intensity| = energy)."""
    batch = foa.shape[0]
    flat = foa.reshape(-1, foa.shape[-1]).float()
    window = torch.hann_window(n_fft, device=foa.device)
    spec = torch.stft(flat, n_fft, n_fft // 4, window=window, return_complex=True)
    spec = spec.reshape(batch, 4, -1)
    w, axes = spec[:, :1], spec[:, 1:]
    intensity = (w.conj() * axes).real
    energy = 0.5 * (spec.real.square() + spec.imag.square()).sum(dim=1)
    return intensity, energy


def direction_loss(prediction: Tensor, target: Tensor, n_fft: int = 1024) -> Tensor:
    """Energy-weighted mean of 1 − cos(angle between predicted and target intensity) over the
    STFT bins; FOA [B, 4, N] each. 0 for the same field at any level, 2 for a reversed one."""
    i_p, _ = intensity_and_energy(prediction, n_fft)
    i_t, e_t = intensity_and_energy(target, n_fft)
    # Keeps the cosine's gradient finite at silent bins; such bins weigh next to nothing.
    floor = (_DIRECTION_FLOOR * e_t.amax(dim=1, keepdim=True)).clamp_min(_POWER_FLOOR)
    norms = ((i_p.square().sum(1) + floor.square()) * (i_t.square().sum(1) + floor.square())).sqrt()
    cosine = (i_p * i_t).sum(dim=1) / norms
    weight = e_t / e_t.sum(dim=1, keepdim=True).clamp_min(_POWER_FLOOR)
    return ((1.0 - cosine) * weight).sum(dim=1).mean()


def multi_resolution_stft_loss(
    prediction: Tensor, target: Tensor, fft_sizes: tuple[int, ...] = STFT_SIZES
) -> Tensor:
    """Mean over FFT sizes of spectral convergence + log-magnitude L1, over the FOA channels
    and their virtual cardioids; FOA [B, 4, N] each. 0 for identical signals."""
    pred = torch.cat([prediction, virtual_cardioids(prediction)], dim=1)
    targ = torch.cat([target, virtual_cardioids(target)], dim=1)
    total = prediction.new_zeros((), dtype=torch.float32)
    for n_fft in fft_sizes:
        convergence, log_distance = spectral_terms(pred, targ, n_fft)
        total = total + convergence + log_distance
    return total / len(fft_sizes)


def codec_loss(
    reconstruction: Tensor,
    target: Tensor,
    kl: Tensor,
    latent_frames: int,
    kl_weight: float,
    waveform_weight: float = 1.0,
    direction_weight: float = 0.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Total codec loss and its detached terms ``stft``, ``waveform``, ``direction``, ``kl``.

    ``kl`` is :func:`models.omniaudio.codec.gaussian_kl` (summed over channels and time); it is
    divided by ``latent_frames`` so that ``kl_weight`` weighs the KL of one latent frame whatever
    the crop length. The waveform term is the L1 distance of the samples relative to the target's
    mean magnitude (1 for a silent output), so its weight does not depend on the level. Both
    signals are cut to the shorter length (the decoder may return up to one hop less).
    """
    n = min(reconstruction.shape[-1], target.shape[-1])
    reconstruction, target = reconstruction[..., :n], target[..., :n]
    stft = multi_resolution_stft_loss(reconstruction, target)
    target_level = target.float().abs().mean().clamp_min(_LEVEL_FLOOR)
    waveform = functional.l1_loss(reconstruction.float(), target.float()) / target_level
    direction = direction_loss(reconstruction, target)
    kl_per_frame = kl / latent_frames
    total = stft + waveform_weight * waveform + direction_weight * direction
    total = total + kl_weight * kl_per_frame
    terms = {
        "stft": stft.detach(),
        "waveform": waveform.detach(),
        "direction": direction.detach(),
        "kl": kl_per_frame.detach(),
    }
    return total, terms


def rectified_flow_loss(
    velocity: Callable[[Tensor, Tensor], Tensor], x0: Tensor, noise: Tensor, t: Tensor
) -> Tensor:
    """MSE between ``velocity(x_t, t)`` and v = ε − x0 at x_t = (1 − t)·x0 + t·ε; t [B]."""
    t_ = t.to(x0.dtype).reshape(-1, *([1] * (x0.ndim - 1)))
    x_t = (1 - t_) * x0 + t_ * noise
    return functional.mse_loss(velocity(x_t, t).float(), (noise - x0).float())
