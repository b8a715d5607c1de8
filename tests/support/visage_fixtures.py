"""A tiny ViSAGe, its DAC and its CLIP, saved the way their releases are, for the tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import (
    BartConfig,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    DacConfig,
    DacModel,
)

from models.visage.config import VisageConfig, visage_preset
from models.visage.network import VisageNetwork


def tiny_network(seed: int = 0, config: VisageConfig | None = None) -> VisageNetwork:
    """The tiny preset with every weight random (the zero-initialised vectors too)."""
    torch.manual_seed(seed)
    network = VisageNetwork(config or visage_preset("visage-tiny")).eval()
    with torch.no_grad():
        for name, p in network.named_parameters():
            p.normal_(0.0, 1.0 / math.sqrt(p.shape[-1]) if p.dim() > 1 else 0.5)
            if name.endswith("layer_norm.weight") or name.endswith("layernorm_embedding.weight"):
                p.add_(1.0)
    return network


def release_config_json(config: VisageConfig) -> dict:
    """config.json as the release's ``config.save_pretrained`` writes it (model_type bart)."""
    bart = BartConfig(
        d_model=config.d_model,
        encoder_layers=config.encoder_layers,
        decoder_layers=config.decoder_layers,
        encoder_attention_heads=config.attention_heads,
        decoder_attention_heads=config.attention_heads,
        encoder_ffn_dim=config.ffn_dim,
        decoder_ffn_dim=config.ffn_dim,
    ).to_dict()
    return bart | {
        "model_type": "bart",
        "d_clip": config.d_clip,
        "num_rvq": config.num_rvq,
        "dac_vocab_size": config.dac_vocab_size,
        "dac_pad_token_id": config.dac_pad_token_id,
        "max_source_length": config.max_source_length,
        "max_target_length": config.max_target_length,
        "dac_sample_rate": config.dac_sample_rate,
        "dac_downsample_rate": config.dac_hop,
        "clip_frame_rate": config.clip_frame_rate,
        "classifier_free_guidance": True,
        "cfg_dropout_prob": 0.1,
        "cfg_guidance_scale": config.guidance_scale,
        "cfg_spatial_guidance_scale": config.spatial_guidance_scale,
    }


def save_release(
    network: VisageNetwork, folder: Path, fmt: str = "safetensors", prefix: str = ""
) -> Path:
    """The network saved as the release saves it: config.json and model.safetensors or
    pytorch_model.bin (keys optionally ``module.``-prefixed, as accelerate writes under DDP)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(release_config_json(network.config)))
    state = {prefix + k: v.detach().clone().contiguous() for k, v in network.state_dict().items()}
    if fmt == "safetensors":
        path = folder / "model.safetensors"
        save_file(state, str(path))
    else:
        path = folder / "pytorch_model.bin"
        torch.save(state, path)
    return path


def tiny_dac(seed: int = 0) -> DacModel:
    """A random DAC with the 44.1 kHz model's codebooks and hop (512), tiny widths."""
    torch.manual_seed(seed)
    config = DacConfig(encoder_hidden_size=4, decoder_hidden_size=32, hidden_size=64)
    config.sampling_rate = 44100
    model = DacModel(config).eval()
    with torch.no_grad():  # so the sound depends on the codes, not on the biases
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif "codebook" in name:
                p.mul_(10.0)
    return model


def tiny_clip(seed: int = 0) -> CLIPVisionModelWithProjection:
    """A random CLIP vision tower with ViT-B/32's patching (224 px, 7×7 patches)."""
    torch.manual_seed(seed)
    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=224,
        patch_size=32,
        projection_dim=visage_preset("visage-tiny").d_clip,
    )
    return CLIPVisionModelWithProjection(config).eval()


def tiny_registry(folder: Path, model_id: str = "visage-test") -> Path:
    """A registry TOML (for OMNIFOA_EXTRA_MODELS) with a tiny ViSAGe and its two parts."""
    weights = save_release(tiny_network(0), folder / "visage")
    tiny_dac().save_pretrained(folder / "dac")
    tiny_clip().save_pretrained(folder / "clip")
    toml = folder / "extra.toml"
    toml.write_text(
        f'[[models]]\nid = "{model_id}"\nname = "tiny ViSAGe"\nkind = "generator"\n'
        f'family = "visage"\npreset = "visage-tiny"\nfile = "model.safetensors"\n'
        f'path = "{weights.relative_to(folder)}"\ncompanions = ["config.json"]\n'
        f'licence = "test"\nrequires = {{ codec = "dac-test", frame_encoder = "clip-test" }}\n\n'
        '[[models]]\nid = "dac-test"\nname = "tiny DAC"\nkind = "codec"\n'
        'file = "model.safetensors"\npath = "dac/model.safetensors"\ncompanions = ["config.json"]\n'
        'licence = "test"\n\n'
        '[[models]]\nid = "clip-test"\nname = "tiny CLIP"\nkind = "frame_encoder"\n'
        'file = "model.safetensors"\npath = "clip/model.safetensors"\n'
        'companions = ["config.json"]\nlicence = "test"\n'
    )
    return toml
