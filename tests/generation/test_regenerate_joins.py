"""Each family joins a regenerated range its own way and the sidecar says which: ViSAGe
continues from the DAC codes of the audio before the range, OmniAudio inpaints between the
latents of the audio around it (crossfades where its checkpoint has no codec encoder). What
the family is given is the audio it made, undone from the stem's delivery (rate, FuMa, gain).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from model_fixtures import tiny_family_model, tiny_generator
from safetensors.torch import save_file
from transformers import DacModel
from visage_fixtures import tiny_registry

from models.family import KnownAudio, LoadSpec
from models.omniaudio import family as omniaudio_family
from models.visage import family as visage_family
from plugin_core.generation import regenerate as regenerate_module
from plugin_core.generation.loaded_model import LoadedModel, load_model, unregistered
from plugin_core.generation.pipeline import generate
from plugin_core.generation.regenerate import RangeEdit, regenerate
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.stem_takes import how_made, read_sidecar, stem_takes
from plugin_core.media.video import write_video
from plugin_core.synthsphere import make_scene, render_frames

MODEL_RATE = 44100


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    write_video(path, render_frames(make_scene(3, 5.0), 256, 128, 8.0), 8.0)
    return path


def stem_and_what_the_model_made(
    video: Path, folder: Path, loaded: LoadedModel, end: float, level: str, **changes
) -> tuple[Path, np.ndarray]:
    """A stem delivered at 48 kHz in FuMa with a gain (``level``), and the same generation as
    the model made it (44.1 kHz AmbiX, its gain taken off again) [4, N]."""
    stem = folder / "shot.wav"
    request = GenerationRequest(
        video=video,
        output=stem,
        seed=3,
        end=end,
        convention="fuma",
        subtype="pcm24",
        level=level,
        **changes,
    )
    generate(request, loaded)
    assert read_sidecar(stem)["level"]["gain_db"] != 0.0
    made = folder / "made.wav"
    generate(
        GenerationRequest(
            video=video,
            output=made,
            seed=3,
            end=end,
            sample_rate=MODEL_RATE,
            level="off",
            **changes,
        ),
        loaded,
    )
    gain_db = read_sidecar(made)["level"]["gain_db"]  # "off" keeps under the ceiling
    return stem, sf.read(str(made), dtype="float64", always_2d=True)[0].T * 10 ** (-gain_db / 20)


def known_given(monkeypatch: pytest.MonkeyPatch) -> list[KnownAudio]:
    """The known audio regenerate hands the pipeline, from now on."""
    seen: list[KnownAudio] = []
    real = regenerate_module.generate

    def recording(*args, known=None, **kwargs):
        seen.append(known)
        return real(*args, known=known, **kwargs)

    monkeypatch.setattr(regenerate_module, "generate", recording)
    return seen


def below(audio: np.ndarray, hz: float = 18000.0) -> np.ndarray:
    """``audio`` [4, N] at the model's rate without what lies above ``hz`` (a 48 kHz delivery
    cannot keep what lies near 22.05 kHz, and the tiny models make plenty there)."""
    spectrum = np.fft.rfft(audio, axis=1)
    spectrum[:, np.fft.rfftfreq(audio.shape[1], 1 / MODEL_RATE) > hz] = 0
    return np.fft.irfft(spectrum, n=audio.shape[1], axis=1)


def assert_is_what_the_model_made(known: KnownAudio, made: np.ndarray, first: float) -> None:
    """Outside the range the known audio is the model's own (each channel in place, at its
    level; below 18 kHz); inside the range nothing is known."""
    flags = known.known.numpy()
    offset = round(first * MODEL_RATE)
    audio = below(known.audio.numpy().astype(np.float64))
    reference = below(made[:, offset : offset + audio.shape[1]])
    edge = round(0.05 * MODEL_RATE)  # leave out the spectral cut's edges
    keep = flags.copy()
    keep[:edge] = keep[-edge:] = False
    assert keep.sum() > MODEL_RATE // 2
    for channel in range(4):
        ours, theirs = audio[channel, keep], reference[channel, keep]
        error = np.sqrt(np.mean((ours - theirs) ** 2) / np.mean(theirs**2))
        assert error < 1e-3, (channel, error)


def test_omniaudio_inpaints_between_the_latents_of_the_audio_around_the_range(
    video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny_family_model()
    loaded = unregistered(model, "tiny-test")
    stem, made = stem_and_what_the_model_made(video, tmp_path, loaded, 3.0, "loudness", steps=2)
    before = sf.read(str(stem), dtype="int32")[0]
    known = known_given(monkeypatch)
    sampled: list[tuple[object, torch.Tensor]] = []
    real = model.generator.sample_latents

    def recording(*args, **kwargs):
        latents = real(*args, **kwargs)
        sampled.append(
            (inspect.signature(real).bind(*args, **kwargs).arguments.get("known"), latents)
        )
        return latents

    monkeypatch.setattr(model.generator, "sample_latents", recording)
    [take] = regenerate(RangeEdit(stem, 1.0, 1.6, seed=9), loaded)

    assert take.made["join"] == {"start": "inpainted", "end": "inpainted"}
    assert take.made["crossfade_s"] == {"start": 0.01, "end": 0.01}
    first, _ = take.made["context"]
    assert_is_what_the_model_made(known[0], made, first)
    inpainted = [(k, latents) for k, latents in sampled if k is not None]
    assert inpainted  # the windows holding the range's ends
    hop = model.codec_hop
    for k, latents in inpainted:
        frames = k.frames.numpy()
        assert 0 < frames.sum() < len(frames)  # some frames kept, some made
        # at the end of sampling the kept frames are the known latents, exactly
        assert torch.equal(latents[..., k.frames], k.latents.expand_as(latents)[..., k.frames])
        assert not torch.equal(
            latents[..., ~k.frames], k.latents.expand_as(latents)[..., ~k.frames]
        )
    # the frames kept are those of wholly known audio (in the section, at the model's rate)
    flags = known[0].known.numpy()
    whole_frames = flags[: len(flags) // hop * hop].reshape(-1, hop).all(axis=1)
    assert whole_frames[: round(0.5 * MODEL_RATE) // hop].all()  # the context before
    range_frames = slice(round(0.5 * MODEL_RATE) // hop + 1, round(1.1 * MODEL_RATE) // hop)
    assert not whole_frames[range_frames].any()
    after = sf.read(str(stem), dtype="int32")[0]
    rate = 48000
    np.testing.assert_array_equal(after[: round(1.0 * rate)], before[: round(1.0 * rate)])
    np.testing.assert_array_equal(after[round(1.6 * rate) :], before[round(1.6 * rate) :])


def test_an_omniaudio_checkpoint_without_the_codec_encoder_crossfades_and_says_so(
    video: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "no-encoder.safetensors"
    state = tiny_generator().state_dict()
    save_file({k: v for k, v in state.items() if not k.startswith("codec.encoder.")}, weights)
    model = omniaudio_family.load(LoadSpec("omniaudio", "tiny", str(weights), torch.device("cpu")))
    assert model.codec_encoder is False
    loaded = unregistered(model, "tiny-no-encoder")
    stem = tmp_path / "shot.wav"
    generate(GenerationRequest(video=video, output=stem, seed=3, end=3.0, steps=2), loaded)
    [take] = regenerate(RangeEdit(stem, 1.0, 1.6, seed=9), loaded)
    assert take.made["join"] == {"start": "crossfade", "end": "crossfade"}
    assert take.made["crossfade_s"] == {"start": 0.05, "end": 0.05}
    listed, _ = stem_takes(stem, read_sidecar(stem))
    assert how_made(listed[-1].made) == "regenerated 1-1.6 s of take 1 (crossfade, crossfade)"
    # a checkpoint with part of the encoder is still refused
    partial = tmp_path / "half-encoder.safetensors"
    encoder_keys = [k for k in state if k.startswith("codec.encoder.")]
    save_file({k: v for k, v in state.items() if k != encoder_keys[0]}, partial)
    with pytest.raises(Exception, match="lacks 1 weight"):
        omniaudio_family.load(LoadSpec("omniaudio", "tiny", str(partial), torch.device("cpu")))


@pytest.fixture(scope="module")
def visage_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_registry(tmp_path_factory.mktemp("visage"))


def test_visage_continues_from_the_dac_codes_of_the_audio_before_the_range(
    visage_registry: Path, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(visage_registry))
    loaded = load_model("visage-test", "cpu")
    stem, made = stem_and_what_the_model_made(video, tmp_path, loaded, 5.0, "peak")  # quiet DAC
    before = sf.read(str(stem), dtype="int32")[0]
    known = known_given(monkeypatch)
    prefixes: list[torch.Tensor | None] = []
    real = visage_family.generate_codes

    def recording(network, conditions, generator, variations, settings, prefix, *rest):
        prefixes.append(prefix)
        return real(network, conditions, generator, variations, settings, prefix, *rest)

    monkeypatch.setattr(visage_family, "generate_codes", recording)
    [take] = regenerate(RangeEdit(stem, 2.0, 3.0, seed=9), loaded)

    assert take.made["join"] == {"start": "forced codes", "end": "crossfade"}
    assert take.made["crossfade_s"] == {"start": 0.01, "end": 0.05}
    first, _ = take.made["context"]
    assert first == 0.0
    assert_is_what_the_model_made(known[0], made, first)
    # the sampler is given the DAC codes of the audio before the range: every whole codec
    # frame of it, each channel encoded by the same DAC on its own
    prefix = prefixes[0]
    frames = round(2.0 * MODEL_RATE) // 512
    assert prefix is not None
    assert tuple(prefix.shape) == (1, frames, 36)
    dac = DacModel.from_pretrained(visage_registry.parent / "dac").eval()
    audio = known[0].audio[:, : frames * 512]
    with torch.inference_mode():
        expected = torch.cat(
            [
                dac.encode(audio[None, c : c + 1], n_quantizers=9).audio_codes.transpose(1, 2)
                for c in range(4)
            ],
            dim=2,
        )
    assert torch.equal(prefix.cpu(), expected)
    after = sf.read(str(stem), dtype="int32")[0]
    rate = 48000
    np.testing.assert_array_equal(after[: 2 * rate], before[: 2 * rate])
    np.testing.assert_array_equal(after[3 * rate :], before[3 * rate :])
    inside = slice(round(2.02 * rate), round(2.94 * rate))
    assert np.mean(after[inside] != before[inside]) > 0.99
