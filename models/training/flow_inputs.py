"""The flow model's training inputs as one portable file, and a trainer that needs only them.

Flow training needs the codec's latents and the frame features of every clip × yaw, nothing
else: no video, no audio, no frame encoder. :func:`save_flow_inputs` packs them into a
compressed ``.npz`` (latents as float16; features as uint8 with a per-dimension offset and
scale, about 0.4 % of each dimension's range per step), so the flow stage can run on a
machine that holds only torch — a rented GPU, say:

    python -m models.training.flow_inputs INPUTS.npz --preset omniaudio-mini --minutes 4 \\
        --out flow.safetensors

It trains :class:`~models.omniaudio.dit.DualBranchFlowModel` with :func:`train_flow`
(rectified flow, FoV dropout, EMA) for as many steps as fit in ``--minutes`` (timed on the
machine itself), and writes the EMA weights with ``flow.`` names plus a JSON log beside them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from models.checkpoint_files import save_safetensors
from models.omniaudio.config import preset
from models.omniaudio.dit import DualBranchFlowModel
from models.training.flow_training import FlowBatch, train_flow


def _quantise(features: np.ndarray) -> dict[str, np.ndarray]:
    x = features.astype(np.float32)
    low = x.min(axis=tuple(range(x.ndim - 1)))
    scale = np.maximum(x.max(axis=tuple(range(x.ndim - 1))) - low, 1e-6) / 255.0
    return {"q": np.round((x - low) / scale).astype(np.uint8), "low": low, "scale": scale}


def save_flow_inputs(
    path: Path, latents: np.ndarray, global_features: np.ndarray, fov_features: np.ndarray
) -> None:
    """Pack latents [S, R, C, L] and features [S, R, T, D] (both branches) into ``path``."""
    arrays = {"latents": latents.astype(np.float16)}
    for name, feats in (("global", global_features), ("fov", fov_features)):
        arrays |= {f"{name}_{k}": v for k, v in _quantise(feats).items()}
    np.savez_compressed(path, **arrays)


def load_flow_inputs(path: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(latents, global features, FoV features) as float32 tensors."""
    with np.load(path, allow_pickle=False) as data:

        def features(name: str) -> torch.Tensor:
            q = data[f"{name}_q"].astype(np.float32)
            return torch.from_numpy(q * data[f"{name}_scale"] + data[f"{name}_low"])

        latents = torch.from_numpy(data["latents"].astype(np.float32))
        return latents, features("global"), features("fov")


def random_batches(
    latents: torch.Tensor,
    global_features: torch.Tensor,
    fov_features: torch.Tensor,
    batch: int,
    seed: int = 3,
) -> Iterator[FlowBatch]:
    """Endless batches of random clip × yaw pairs (the tensors stay on their device)."""
    clips, yaws = latents.shape[:2]
    generator = torch.Generator().manual_seed(seed)
    while True:
        c = torch.randint(0, clips, (batch,), generator=generator)
        r = torch.randint(0, yaws, (batch,), generator=generator)
        yield FlowBatch(latents[c, r], global_features[c, r], fov_features[c, r])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the flow model from packed inputs.")
    parser.add_argument("inputs", type=Path)
    parser.add_argument("--preset", default="omniaudio-mini")
    parser.add_argument("--minutes", type=float, default=4.0, help="training time to fill")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--ema", type=float, default=0.9995)
    parser.add_argument("--fov-dropout", type=float, default=0.15)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    latents, glob, fov = (t.to(device) for t in load_flow_inputs(args.inputs))
    config = preset(args.preset)

    def batches() -> Iterator[FlowBatch]:
        return random_batches(latents, glob, fov, args.batch)

    probe = DualBranchFlowModel(config).to(device)
    train_flow(probe, batches(), 10, lr=args.lr, log_every=10)  # warm-up (kernels, allocator)
    start = time.perf_counter()
    train_flow(probe, batches(), 40, lr=args.lr, log_every=40)
    per_step = (time.perf_counter() - start) / 40
    steps = max(100, int(args.minutes * 60 / per_step))
    print(f"{per_step * 1e3:.1f} ms per step on {device}: training {steps} steps", flush=True)
    record: list[dict[str, float]] = []

    def log(step: int, terms: dict[str, float]) -> None:
        record.append({"step": step, **terms})
        print(f"[flow] step {step}: loss {terms['loss']:.4f}", flush=True)

    flow = DualBranchFlowModel(config).to(device)
    result = train_flow(
        flow,
        batches(),
        steps,
        lr=args.lr,
        ema_decay=args.ema,
        fov_dropout=args.fov_dropout,
        log=log,
        log_every=max(1, steps // 40),
    )
    flow.load_state_dict(result.ema_state)
    save_safetensors({f"flow.{k}": v for k, v in flow.state_dict().items()}, args.out)
    summary = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "steps": steps,
        "batch": args.batch,
        "lr": args.lr,
        "ema_decay": args.ema,
        "fov_dropout": args.fov_dropout,
        "ms_per_step": per_step * 1e3,
        "losses": record,
    }
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
