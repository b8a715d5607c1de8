"""Sound embeddings from the pretrained aisfx net, and the Fréchet distance between sets.

aisfx (ISMIR 2022, sound-effects libraries) ships its weights inside its wheel. It is installed
with ``pip install --no-deps aisfx==0.1.2``: its metadata pins numpy 1.23 and librosa 0.9.2, but
at run time it needs only torch, numpy and tqdm, and omnifoa computes its Essentia log-mel
front end itself (``log_mel``). A signal is peak-normalised, cut into 100-frame blocks
(about 2.3 s) with 50-frame hops, and each block gives one 512-d embedding.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import metadata

import numpy as np
import torch
from numpy.typing import NDArray

from plugin_core.errors import OmnifoaError
from plugin_core.evaluation.log_mel import log_mel

Float = NDArray[np.float64]
BLOCK_FRAMES = 100
BLOCK_HOP = 50
_INSTALL_HINT = 'install it with: pip install --no-deps "aisfx==0.1.2"'


def aisfx_version() -> str:
    """The installed aisfx version; OmnifoaError if it is missing."""
    try:
        return metadata.version("aisfx")
    except metadata.PackageNotFoundError:
        raise OmnifoaError(f"The evaluation needs the aisfx package; {_INSTALL_HINT}.") from None


@cache
def embedding_net() -> torch.nn.Module:
    """aisfx's pretrained embedding net (X-Sequential-CE), on the CPU in eval mode."""
    aisfx_version()
    from aisfx.inference import get_path_modelWeights
    from aisfx.models.cnn2d import EmbeddingNet

    # The checkpoint pickles a few numpy scalars beside the tensors; allow exactly those so
    # torch's safe (weights-only) loader can read it.
    core = np._core if hasattr(np, "_core") else np.core
    allowed = [
        (core.multiarray.scalar, "numpy.core.multiarray.scalar"),
        np.dtype,
        np.dtypes.Int64DType,
        np.dtypes.Float64DType,
    ]
    with torch.serialization.safe_globals(allowed):
        weights, _ = torch.load(get_path_modelWeights(), map_location="cpu", weights_only=True)
    net = EmbeddingNet("max", 3, 1, 64)
    prefix = "embedding_net."
    net.load_state_dict({k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)})
    return net.eval()


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, then restore the thread count.

    The net's small convolutions gain little from a second thread, and two threads slow
    down more than tenfold when another process holds one of the cores.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _blocks(spec: Float) -> Float:
    """Blocks [count, BLOCK_FRAMES, mels], as aisfx blocks them (short input zero-padded)."""
    from aisfx.preprocessing import blocking

    return blocking(spec, BLOCK_FRAMES, BLOCK_HOP, drop_partial_block=True)


def embed(signal: NDArray[np.floating]) -> Float:
    """Embeddings [blocks, 512] of a mono 44.1 kHz signal (silence embeds as silence)."""
    x = np.asarray(signal, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    spec = log_mel(x / peak if peak > 0 else x)
    with one_torch_thread(), torch.inference_mode():
        out = embedding_net()(torch.from_numpy(_blocks(spec)).float())
    return out.double().numpy()


def frechet_distance(samples: np.ndarray, reference: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings [count, dim].

    ‖μa − μb‖² + tr Σa + tr Σb − 2·tr√(Σa·Σb). With the centred sets Xa, Xb (Σ = XᵀX/(n−1))
    and their QR factors Ra, Rb, tr√(Σa·Σb) is the sum of the singular values of Ra·Rbᵀ
    over √((na−1)(nb−1)): exact for the rank-deficient covariances of sets smaller than the
    512 dimensions (no ridge needed), and fast where ``scipy.linalg.sqrtm`` of a 512×512
    product takes 15–25 s here.
    """
    a = np.asarray(samples, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError("the Fréchet distance needs two sets of at least two embeddings")
    centred_a = a - a.mean(axis=0)
    centred_b = b - b.mean(axis=0)
    r_a = np.linalg.qr(centred_a, mode="r")
    r_b = np.linalg.qr(centred_b, mode="r")
    scale_a, scale_b = len(a) - 1, len(b) - 1
    cross = np.linalg.svd(r_a @ r_b.T, compute_uv=False).sum() / np.sqrt(scale_a * scale_b)
    trace_a = np.sum(centred_a**2) / scale_a
    trace_b = np.sum(centred_b**2) / scale_b
    diff = a.mean(axis=0) - b.mean(axis=0)
    return max(float(diff @ diff + trace_a + trace_b - 2.0 * cross), 0.0)
