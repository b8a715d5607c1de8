"""Exponential moving average of a module's weights, with a warm-up and a resumable state."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class ExponentialMovingAverage:
    """Shadow copies (float32) of a module's floating-point state, updated after each step.

    The decay of update ``n`` (counting from 1) is ``min(decay, (1 + n) / (10 + n))``, so the
    average follows the weights closely at first; decay 0 keeps an exact copy. Integer
    buffers are copied as they are.
    """

    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"the EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.shadow: dict[str, Tensor] = {
            k: v.detach().float().clone() if v.is_floating_point() else v.detach().clone()
            for k, v in module.state_dict().items()
        }

    def current_decay(self) -> float:
        """The decay the next update uses."""
        n = self.updates + 1
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Move the average towards ``module``'s current weights."""
        decay = self.current_decay()
        for key, value in module.state_dict().items():
            shadow = self.shadow[key]
            if shadow.is_floating_point():
                shadow.lerp_(value.detach().float(), 1.0 - decay)
            else:
                shadow.copy_(value)
        self.updates += 1

    def copy_to(self, module: nn.Module) -> None:
        """Load the averaged weights into ``module`` (cast to its dtypes)."""
        module.load_state_dict(self.state_for(module))

    def state_for(self, module: nn.Module) -> dict[str, Tensor]:
        """The averaged weights as a state dict in ``module``'s dtypes and devices."""
        current = module.state_dict()
        return {
            k: v.to(device=current[k].device, dtype=current[k].dtype)
            for k, v in self.shadow.items()
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: decay, update count and the shadow tensors."""
        return {"decay": self.decay, "updates": self.updates, "shadow": dict(self.shadow)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the shadow keys must match the module's."""
        shadow = state["shadow"]
        if not isinstance(shadow, dict) or set(shadow) != set(self.shadow):
            raise ValueError("the EMA state does not match this module's weights")
        self.decay = float(state["decay"])
        self.updates = int(state["updates"])
        for key, value in shadow.items():
            self.shadow[key].copy_(value)
