"""Small models and reference-style checkpoints built in memory for the model tests."""

import pytest
import torch
from test_data import DATA_DIR

from models.omniaudio.checkpoint import REFERENCE_PREFIXES
from models.omniaudio.config import preset
from models.omniaudio.family import OmniAudioEncoders, OmniAudioModel
from models.omniaudio.generator import FoaGenerator

# A copy of ../shared/reference/omniaudio_v2a_foa_state_dict.tsv, so the test always runs.
REFERENCE_TSV = DATA_DIR / "omniaudio_v2a_foa_state_dict.tsv"


def tiny_generator(seed: int = 0) -> FoaGenerator:
    """The tiny preset with every weight random (none of the zero initialisations)."""
    torch.manual_seed(seed)
    model = FoaGenerator(preset("tiny")).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith((".alpha", ".beta")):
                p.uniform_(-0.5, 0.5)
            elif p.ndim >= 2:
                p.normal_(0.0, p[0].numel() ** -0.5)
            elif name.endswith(".bias"):
                p.normal_(0.0, 0.1)
    return model


def reference_state(model: FoaGenerator) -> dict[str, torch.Tensor]:
    """``model``'s weights under the reference names, with weight-norm pairs and unused keys."""
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        name = next(ref + key[len(own) :] for ref, own in REFERENCE_PREFIXES if key.startswith(own))
        if key.startswith("codec.") and key.endswith(".weight") and value.ndim == 3:
            g = value.flatten(1).norm(dim=1).reshape(-1, 1, 1)
            out[name[: -len("weight")] + "weight_g"] = g
            out[name[: -len("weight")] + "weight_v"] = value * 3.0  # any positive scale
        else:
            out[name] = value
    e = model.config.dit.embed_dim
    out["model.model.transformer.layers.0.cross_attn.to_q.weight"] = torch.randn(e, e)
    out["model.model.transformer.layers.0.pre_norm.beta"] = torch.zeros(e)
    out["model.model.transformer.rotary_pos_emb.inv_freq"] = torch.ones(4)
    out["conditioner.conditioners.video_fov.proj_out.weight"] = torch.randn(e, 4)
    return out


def features(frames: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(frames, dim, generator=torch.Generator().manual_seed(seed))


def reference_shapes() -> dict[str, tuple[int, ...]]:
    """Names and shapes of the official checkpoint, from the shared reference list."""
    if not REFERENCE_TSV.is_file():
        pytest.skip(f"reference state-dict listing not found at {REFERENCE_TSV}")
    shapes = {}
    for line in REFERENCE_TSV.read_text().splitlines():
        name, shape = line.split("\t")
        shapes[name] = tuple(int(s) for s in shape.strip("()").split(",") if s.strip())
    return shapes


def tiny_family_model(seed: int = 0) -> OmniAudioModel:
    """The tiny generator (random weights) with its frame encoders, behind the family protocol."""
    generator = tiny_generator(seed)
    return OmniAudioModel(generator, OmniAudioEncoders(generator.config), torch.device("cpu"))


def fov_views_seen(model: OmniAudioModel, monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """Collects every batch of views the model's FoV encoder is given from now on."""
    seen: list[torch.Tensor] = []
    encoder = model.encoders.fov
    real = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda views: seen.append(views) or real(views))
    return seen
