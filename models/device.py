"""Device and precision choice: CUDA, then Apple MPS, then CPU; half precision only on GPUs."""

from __future__ import annotations

from collections.abc import Callable

import torch

DEVICE_KINDS: tuple[str, ...] = ("auto", "cuda", "mps", "cpu")


def pick_device(preference: str = "auto") -> torch.device:
    """The device to run on: the preferred kind, or the best available for ``auto``."""
    if preference not in DEVICE_KINDS and not preference.startswith("cuda:"):
        raise ValueError(f"unknown device {preference!r}; use one of {', '.join(DEVICE_KINDS)}")
    if preference != "auto":
        kind = preference.split(":")[0]
        available = {
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
            "cpu": True,
        }[kind]
        if not available:
            raise ValueError(f"device {preference!r} is not available on this machine")
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA (fp16 where bf16 is missing), fp16 on MPS, None (fp32) on CPU."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return None


def synchronizer(device: torch.device) -> Callable[[], None] | None:
    """What waits for the work queued on ``device`` (CUDA, MPS); None on the CPU, where
    every operation has finished when it returns."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return None


def device_name(device: torch.device) -> str:
    """What ``device`` is, in words: the GPU's name, Apple's GPU or the CPU."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return "CPU"
