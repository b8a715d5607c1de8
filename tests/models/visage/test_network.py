"""The ViSAGe network: the released key set and shapes, exact loading of files saved the way
the release saves them, refusals that name what is wrong, and the attention back ends."""

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from test_data import DATA_DIR
from visage_fixtures import save_release, tiny_network

from models.checkpoint_files import CheckpointError
from models.visage.checkpoint import convert_visage, load_visage_weights, release_config
from models.visage.config import (
    VisageConfig,
    VisageConfigError,
    from_release_config,
    visage_preset,
)
from models.visage.network import VisageNetwork


def reference_shapes() -> dict[str, tuple[int, ...]]:
    rows = (DATA_DIR / "visage_state_dict.tsv").read_text().splitlines()[1:]
    shapes = {}
    for row in rows:
        key, shape = row.split("\t")[:2]
        shapes[key] = tuple(int(n) for n in shape.strip("()").split(",") if n.strip())
    return shapes


def test_the_full_size_network_has_the_released_keys_and_shapes() -> None:
    with torch.device("meta"):
        network = VisageNetwork(VisageConfig())
    ours = {k: tuple(v.shape) for k, v in network.state_dict().items()}
    reference = reference_shapes()
    assert len(reference) == 539
    assert ours == reference
    assert sum(math.prod(s) for s in ours.values()) == 358_626_868


def test_the_parameter_count_a_config_is_capped_by_is_the_networks() -> None:
    tiny = visage_preset("visage-tiny")
    odd = replace(tiny, d_clip=24, num_rvq=3, dac_vocab_size=100, dac_pad_token_id=100, top_k=50)
    for config in (VisageConfig(), tiny, odd):
        with torch.device("meta"):
            network = VisageNetwork(config)
        assert config.parameters == sum(v.numel() for v in network.state_dict().values())
    # every field within its range, together far more than a machine holds: refused unbuilt
    huge = replace(VisageConfig(), d_model=8192, ffn_dim=32768, decoder_layers=64)
    with pytest.raises(VisageConfigError, match=r"these sizes make [\d,]+ parameters"):
        huge.check()


@pytest.mark.parametrize(("fmt", "prefix"), [("safetensors", ""), ("bin", ""), ("bin", "module.")])
def test_a_tiny_model_saved_as_the_release_saves_it_loads_exactly(
    tmp_path: Path, fmt: str, prefix: str
) -> None:
    source = tiny_network(0)
    path = save_release(source, tmp_path / "release", fmt, prefix)
    config = release_config(path, VisageConfig())
    assert replace(config, name="visage-tiny") == visage_preset("visage-tiny")
    target = VisageNetwork(config)
    load_visage_weights(target, path)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_a_perturbed_shape_and_foreign_keys_are_refused_by_name(tmp_path: Path) -> None:
    network = tiny_network(0)
    state = network.state_dict()
    state["dac_heads.3.weight"] = torch.zeros(7, 7)
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"dac_heads\.3\.weight is \(7, 7\)"):
        load_visage_weights(tiny_network(1), tmp_path / "pytorch_model.bin")
    torch.save({"flow.dit.x": torch.zeros(1)}, tmp_path / "other.bin")  # another family's file
    with pytest.raises(CheckpointError, match=r"lacks .* ViSAGe has .* holds 1 ViSAGe does not"):
        load_visage_weights(tiny_network(1), tmp_path / "other.bin")


def test_a_plain_bart_config_is_not_taken_for_visage() -> None:
    with pytest.raises(VisageConfigError, match="plain bart model, not ViSAGe"):
        from_release_config({"model_type": "bart", "d_model": 1024, "vocab_size": 50265})


def test_the_release_config_reads_into_the_released_preset() -> None:
    from visage_fixtures import release_config_json

    document = release_config_json(VisageConfig())
    assert from_release_config(json.loads(json.dumps(document))) == VisageConfig()


def test_convert_writes_safetensors_with_the_prefix_stripped(tmp_path: Path) -> None:
    network = tiny_network(0)
    source = save_release(network, tmp_path / "release", "bin", "module.")
    target = tmp_path / "converted.safetensors"
    assert convert_visage(source, target) == len(network.state_dict())
    reloaded = VisageNetwork(network.config)
    load_visage_weights(reloaded, target)
    assert torch.equal(reloaded.dac_heads[0].weight, network.dac_heads[0].weight)


def test_sdpa_and_eager_attention_agree_and_bf16_runs() -> None:
    eager = tiny_network(0)
    sdpa = VisageNetwork(eager.config, attention="sdpa")
    sdpa.load_state_dict(eager.state_dict())
    eager_net = VisageNetwork(eager.config, attention="eager")
    eager_net.load_state_dict(eager.state_dict())
    clip, energy = torch.randn(1, 20, 16), torch.softmax(torch.randn(1, 20, 49), -1)
    direction = torch.tensor([[0.0, 0.0, 1.0]])
    codes = torch.randint(0, 1024, (1, 7, 36))
    with torch.inference_mode():
        outputs = []
        for net in (sdpa, eager_net):
            states = net.encode(clip, energy, direction)
            decoder = net.model.decoder
            hidden = decoder(decoder.inputs(codes, with_bos=True), 0, states)
            outputs.append(net.logits(hidden))
        torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            states = sdpa.encode(clip, energy, direction)
            hidden = sdpa.model.decoder(sdpa.model.decoder.inputs(codes, True), 0, states)
        assert torch.isfinite(sdpa.logits(hidden).float()).all()
