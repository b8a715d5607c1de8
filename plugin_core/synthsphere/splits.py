"""Which scene seeds are for what: the demo, the held-out evaluation split, training."""

from __future__ import annotations

DEMO_SEED = 0  # examples/demo is SynthSphere scene 0
# The held-out split: scene seeds that the generator's training must never draw.
HELD_OUT_SEEDS = range(1_000_000, 1_000_100)
