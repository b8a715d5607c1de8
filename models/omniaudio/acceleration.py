"""Faster inference on CUDA: cuDNN autotuning and the flow model compiled, with a fallback.

``OMNIFOA_COMPILE`` chooses: ``auto`` (the default: compile on CUDA only, where it pays back
in the first window; on a CPU the compile costs more than one job saves), ``on`` or ``off``.
Compilation is lazy, so a compiler that fails does so on the first call: :class:`FallbackCall`
then warns once and runs the eager model from there on, and the job goes on.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import torch

from models.omniaudio.generator import FoaGenerator

COMPILE_MODES = ("auto", "on", "off")


class FallbackCall:
    """Calls ``fast``; after its first exception, warns once and calls ``eager`` instead."""

    def __init__(self, fast: Callable[..., Any], eager: Callable[..., Any]) -> None:
        self._fast: Callable[..., Any] | None = fast
        self._eager = eager

    @property
    def compiled(self) -> bool:
        """Whether calls still go to the compiled function."""
        return self._fast is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fast is not None:
            try:
                return self._fast(*args, **kwargs)
            except Exception as exc:  # any compiler failure: run eager, say so once
                warnings.warn(
                    f"the compiled flow model failed ({type(exc).__name__}: {exc}); "
                    "running it uncompiled",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self._fast = None
        return self._eager(*args, **kwargs)


def compile_mode() -> str:
    """The compile choice from ``OMNIFOA_COMPILE`` (``auto`` when unset)."""
    mode = os.environ.get("OMNIFOA_COMPILE", "auto").strip().lower() or "auto"
    if mode not in COMPILE_MODES:
        raise ValueError(f"OMNIFOA_COMPILE must be one of {', '.join(COMPILE_MODES)}, not {mode!r}")
    return mode


def accelerate(
    model: FoaGenerator, device: torch.device, mode: str = "auto", backend: str = "inductor"
) -> bool:
    """Turn on cuDNN autotuning (CUDA) and compile the flow model when ``mode`` says so (CUDA
    graphs on CUDA); True when the flow model is compiled."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return False
    options: dict[str, Any] = {"backend": backend, "dynamic": False}
    if device.type == "cuda" and backend == "inductor":
        options["mode"] = "reduce-overhead"  # the denoising step replayed as a CUDA graph
    model.fast_flow = FallbackCall(torch.compile(model.flow, **options), model.flow)
    return True
