"""The ViSAGe encoder-decoder, with the released parameter names and shapes.

Post-LayerNorm BART layers from ``transformers`` (``BartEncoderLayer``, ``BartDecoderLayer``:
exact-erf GELU, LayerNorm eps 1e-5, SDPA or eager attention, never flash-only), around
ViSAGe's own inputs and outputs:

- encoder: CLIP image embeddings (512-d, 4 fps) projected to ``d_model``, plus an MLP of each
  frame's 7×7 energy map, a learned position (no offset), and an MLP of the camera's unit
  direction vector; wrapped by learned BOS and EOS vectors; ``layernorm_embedding``; layers.
- decoder: one step sums the embeddings of its (up to) 36 codes (a pad code's row is zero),
  adds a learned position (table offset 2, as BART's), ``layernorm_embedding``, layers with
  cross-attention over the encoder states; step 0 is the learned BOS vector.
- 36 linear heads give 1024-way logits per code stream.

``model.encoder.embed_spatial`` exists in the release but no forward pass uses it; it is
built so the weights load with nothing missing or unexpected.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from transformers import BartConfig
from transformers.cache_utils import Cache
from transformers.models.bart.modeling_bart import BartDecoderLayer, BartEncoderLayer

from models.visage.config import ENERGY_PATCHES, VisageConfig

ATTENTION_IMPLEMENTATIONS = ("sdpa", "eager")
_POSITION_OFFSET = 2  # BART's learned decoder positions start at row 2


def bart_config(config: VisageConfig, attention: str = "sdpa") -> BartConfig:
    """The BartConfig the layers are built from (dropout off: inference)."""
    if attention not in ATTENTION_IMPLEMENTATIONS:
        raise ValueError(f"attention must be one of {ATTENTION_IMPLEMENTATIONS}, not {attention}")
    bart = BartConfig(
        d_model=config.d_model,
        encoder_layers=config.encoder_layers,
        decoder_layers=config.decoder_layers,
        encoder_attention_heads=config.attention_heads,
        decoder_attention_heads=config.attention_heads,
        encoder_ffn_dim=config.ffn_dim,
        decoder_ffn_dim=config.ffn_dim,
        activation_function="gelu",
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
    )
    bart._attn_implementation = attention
    return bart


def _mlp(inputs: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, width), nn.GELU(), nn.Linear(width, width))


class VisageEncoder(nn.Module):
    """CLIP frames + energy maps + camera direction → encoder states [B, N + 2, D]."""

    def __init__(self, config: VisageConfig, bart: BartConfig) -> None:
        super().__init__()
        d = config.d_model
        self.bos = nn.Parameter(torch.zeros(1, d))
        self.eos = nn.Parameter(torch.zeros(1, d))
        self.clip_projection = nn.Linear(config.d_clip, d)
        self.embed_positions = nn.Embedding(config.max_source_length, d)
        self.embed_spatial = nn.Embedding(4, d)  # in the release's weights, used by nothing
        self.layers = nn.ModuleList(
            BartEncoderLayer(bart, layer_idx=i) for i in range(config.encoder_layers)
        )
        self.layernorm_embedding = nn.LayerNorm(d)
        self.direction_embedding = _mlp(3, d)
        self.energy_map_projection = _mlp(ENERGY_PATCHES, d)

    def forward(self, clip: Tensor, energy: Tensor, direction: Tensor) -> Tensor:
        """States [B, N + 2, D] of CLIP [B, N, C], energy maps [B, N, 49], directions [B, 3]."""
        frames = clip.shape[1]
        h = self.clip_projection(clip) + self.energy_map_projection(energy)
        h = h + self.embed_positions(torch.arange(frames, device=clip.device))
        h = h + self.direction_embedding(direction)[:, None]
        batch = h.shape[0]
        h = torch.cat([self.bos.expand(batch, 1, -1), h, self.eos.expand(batch, 1, -1)], dim=1)
        h = self.layernorm_embedding(h)
        for layer in self.layers:
            h = layer(h, attention_mask=None)
        return h


class VisageDecoder(nn.Module):
    """Summed code embeddings + positions → decoder states, with cross-attention."""

    def __init__(self, config: VisageConfig, bart: BartConfig) -> None:
        super().__init__()
        d = config.d_model
        self.pad = config.dac_pad_token_id
        self.bos = nn.Parameter(torch.zeros(1, d))
        self.embed_dac = nn.ModuleList(
            nn.Embedding(config.embedding_rows, d, padding_idx=config.dac_pad_token_id)
            for _ in range(config.streams)
        )
        self.embed_positions = nn.Embedding(config.max_target_length + _POSITION_OFFSET, d)
        self.layers = nn.ModuleList(
            BartDecoderLayer(bart, layer_idx=i) for i in range(config.decoder_layers)
        )
        self.layernorm_embedding = nn.LayerNorm(d)

    def embed_codes(self, codes: Tensor) -> Tensor:
        """The sum over streams of each step's code embeddings: codes [B, L, 36] → [B, L, D]."""
        return sum(table(codes[..., i]) for i, table in enumerate(self.embed_dac))

    def inputs(self, codes: Tensor, with_bos: bool) -> Tensor:
        """Step inputs [B, L(+1), D]: BOS first when ``with_bos``, then the codes' sums."""
        embedded = self.embed_codes(codes)
        if not with_bos:
            return embedded
        bos = self.bos.expand(codes.shape[0], 1, -1).to(embedded.dtype)
        return torch.cat([bos, embedded], dim=1)

    def forward(
        self,
        inputs: Tensor,
        first_position: int,
        encoder_states: Tensor,
        cache: Cache | None = None,
    ) -> Tensor:
        """States [B, L, D] of step inputs [B, L, D] at positions ``first_position`` onwards;
        causal within the steps given, attending to cached earlier steps."""
        length = inputs.shape[1]
        positions = torch.arange(first_position, first_position + length, device=inputs.device)
        h = inputs + self.embed_positions(positions + _POSITION_OFFSET)
        h = self.layernorm_embedding(h)
        mask = None
        if length > 1:  # an explicit causal mask: eager attention has no is_causal shortcut
            past = first_position
            allowed = torch.ones(length, past + length, dtype=torch.bool, device=h.device)
            allowed = allowed.tril(diagonal=past)
            mask = torch.zeros(allowed.shape, dtype=h.dtype, device=h.device)
            mask = mask.masked_fill(~allowed, torch.finfo(h.dtype).min)[None, None]
        for layer in self.layers:
            h = layer(h, attention_mask=mask, encoder_hidden_states=encoder_states, cache=cache)
        return h


class _EncoderDecoder(nn.Module):
    """The ``model.`` level of the release's names."""

    def __init__(self, config: VisageConfig, bart: BartConfig) -> None:
        super().__init__()
        self.encoder = VisageEncoder(config, bart)
        self.decoder = VisageDecoder(config, bart)


class VisageNetwork(nn.Module):
    """ViSAGe: learned null conditions, the encoder-decoder and the 36 code heads."""

    def __init__(self, config: VisageConfig, attention: str = "sdpa") -> None:
        super().__init__()
        self.config = config.check()
        bart = bart_config(config, attention)
        self.null_embedding = nn.Parameter(torch.zeros(config.d_clip))
        self.dir_null_embedding = nn.Parameter(torch.zeros(3))
        self.energy_null_embedding = nn.Parameter(torch.zeros(ENERGY_PATCHES))
        self.model = _EncoderDecoder(config, bart)
        self.dac_heads = nn.ModuleList(
            nn.Linear(config.d_model, config.dac_vocab_size) for _ in range(config.streams)
        )

    def encode(self, clip: Tensor, energy: Tensor, direction: Tensor) -> Tensor:
        """Encoder states [B, N + 2, D]."""
        return self.model.encoder(clip, energy, direction)

    def null_condition(self, batch: int, frames: int) -> tuple[Tensor, Tensor, Tensor]:
        """The learned null CLIP frames, energy maps and direction, shaped for a batch."""
        return (
            self.null_embedding.expand(batch, frames, -1),
            self.energy_null_embedding.expand(batch, frames, -1),
            self.dir_null_embedding.expand(batch, -1),
        )

    def logits(self, states: Tensor, heads: list[int] | None = None) -> Tensor:
        """Logits [B, L, len(heads), V] of decoder states [B, L, D] (every head by default)."""
        chosen = range(len(self.dac_heads)) if heads is None else heads
        return torch.stack([self.dac_heads[i](states) for i in chosen], dim=2)
