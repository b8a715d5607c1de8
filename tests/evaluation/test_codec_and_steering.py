"""The codec report and the steering test, on stand-in models whose behaviour is known: each
measure reads a perfect model as perfect and a broken one as broken."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from models.family import CodecRoundTrip, SamplingOptions, Take, ViewSpec, WindowSpec
from plugin_core.evaluation.clips import HELD_OUT_SEEDS, render_clip
from plugin_core.evaluation.codec_report import (
    ROUND_TRIP_DIRECTIONS,
    codec_carrier,
    codec_round_trip,
    direction_round_trip,
    format_codec_report,
)
from plugin_core.evaluation.fov_turn import (
    away_direction,
    format_fov_turn,
    fov_turn_rows,
    loudest_object,
    object_path,
)
from plugin_core.evaluation.steering import STEERING_CLIPS, format_steering, steering_rows
from plugin_core.spatial.directions import az_el_to_vector, great_circle_deg, vector_to_az_el
from plugin_core.spatial.foa import encode_gains

SR = 44100


class _Codec:
    """A stand-in codec: ``transform`` applied to the FOA (identity: a perfect codec)."""

    codec_hop = 1024

    def __init__(self, transform=lambda x: x) -> None:
        self.transform = transform

    def round_trip(self, audio: torch.Tensor, seed: int) -> torch.Tensor:
        return self.transform(audio.clone())


def _flip_height(audio: torch.Tensor) -> torch.Tensor:
    audio[:, 2] = -audio[:, 2]  # Z (ACN 2): every elevation changes sign
    return audio


def _buzz(audio: torch.Tensor) -> torch.Tensor:
    """Every hop replaced by the first: what a codec does to a still latent."""
    first = audio[..., :1024]
    return first.repeat(1, 1, audio.shape[-1] // 1024)


def test_stand_ins_are_codecs_to_the_protocol() -> None:
    assert isinstance(_Codec(), CodecRoundTrip)


def test_a_perfect_codec_reads_as_the_scene_itself() -> None:
    rows = {r.name: r for r in codec_round_trip(_Codec(), HELD_OUT_SEEDS[:2], 2.0)}
    assert set(rows) == {"scene itself", "codec", "mu-law 8-bit"}
    codec, scene = rows["codec"], rows["scene itself"]
    # (only the tail past the last whole codec frame, 3 ms, is left silent)
    assert codec.stft_distance < 0.01
    assert codec.direction_error_deg < 0.1
    assert codec.autocorr_hop == pytest.approx(scene.autocorr_hop, abs=0.005)
    assert rows["mu-law 8-bit"].stft_distance > codec.stft_distance
    trips = direction_round_trip(codec_carrier(_Codec()))
    assert len(trips) == len(ROUND_TRIP_DIRECTIONS) * len({t.sound_class for t in trips})
    assert max(t.error_deg for t in trips) < 0.5
    assert "elevation sign kept 40/40" in format_codec_report(list(rows.values()), trips)


def test_a_codec_that_loses_height_or_buzzes_is_reported_so() -> None:
    trips = direction_round_trip(codec_carrier(_Codec(_flip_height)))
    up_or_down = [t for t in trips if t.el != 0.0]
    assert all(np.sign(t.decoded_el) == -np.sign(t.el) for t in up_or_down)
    assert "elevation sign kept 0/40" in format_codec_report([], trips)
    buzz = {r.name: r for r in codec_round_trip(_Codec(_buzz), HELD_OUT_SEEDS[:1], 2.0)}["codec"]
    assert buzz.autocorr_hop > 0.95
    assert buzz.comb_db > 20.0


class _Listener:
    """A stand-in generator that hears the picture: it places a plane wave at the azimuth of
    the panorama's brightness (the first circular moment of its columns), or at the front when
    ``deaf``."""

    family, preset, device = "stand-in", "stand-in", torch.device("cpu")
    views = (ViewSpec("pano", "panorama", 64),)
    window = WindowSpec(sample_rate=SR, samples=2 * SR, seconds=2.0, frame_rate=2.0)

    def __init__(self, deaf: bool = False) -> None:
        self.deaf = deaf

    def encode(self, views: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        columns = views["pano"].double().mean(dim=(1, 2))  # [T, W]
        width = columns.shape[-1]
        phase = torch.exp(-2j * math.pi * (torch.arange(width) + 0.5) / width)
        moment = (columns * phase).sum(-1)
        return {"pano": torch.angle(moment)[:, None]}

    def sample(self, features, directions, seed, variations, options, *args) -> Take:
        # column u = 0.5 − az/360 (the ERP convention); the moment's angle is −2π·u
        az = 0.0 if self.deaf else math.degrees(float(features["pano"].mean())) + 180.0
        dry = np.random.default_rng(seed).standard_normal(self.window.samples) * 0.1
        foa = encode_gains(az, 0.0)[:, None] * dry[None]
        return Take(torch.from_numpy(foa)[None])


def test_a_model_that_follows_the_picture_turns_with_it_and_a_deaf_one_does_not() -> None:
    seeds = HELD_OUT_SEEDS[:2]
    follows = steering_rows(SimpleNamespace(model=_Listener()), seeds, options=SamplingOptions())
    assert [(r.camera, r.turn_deg) for r in follows] == [
        ("turned with it", 90.0), ("turned with it", -90.0),
        ("left at front", 90.0), ("left at front", -90.0),
    ]  # fmt: skip
    for row in follows:
        assert row.mean_error_deg < 5.0
        assert row.followed_pct == 100.0
        assert row.clips == 2
    deaf = steering_rows(SimpleNamespace(model=_Listener(deaf=True)), seeds)
    for row in deaf:
        assert row.mean_error_deg == pytest.approx(90.0, abs=1.0)
        assert row.followed_pct == 0.0
    assert "+90°" in format_steering(follows)
    assert STEERING_CLIPS == 10


class _Aimed(_Listener):
    """A stand-in generator that puts its sound where the camera looks (the mean of the
    camera directions it is given), or at the front when ``deaf``."""

    def sample(self, features, directions, seed, variations, options, *args) -> Take:
        yaw, pitch = directions.double().numpy().T
        az, el = vector_to_az_el(az_el_to_vector(yaw, pitch).mean(axis=0))
        if self.deaf:
            az, el = 0.0, 0.0
        dry = np.random.default_rng(seed).standard_normal(self.window.samples) * 0.1
        foa = encode_gains(az, el)[:, None] * dry[None]
        return Take(torch.from_numpy(foa)[None])


def test_the_camera_aim_report_reads_a_model_that_follows_the_view_and_one_that_does_not() -> None:
    seeds = HELD_OUT_SEEDS[:3]
    rows = {r.aim: r for r in fov_turn_rows(SimpleNamespace(model=_Aimed()), seeds)}
    assert set(rows) == {"toward", "away", "scene itself"}
    toward, away = rows["toward"], rows["away"]
    assert toward.direction_error_deg < 10.0
    assert away.direction_error_deg > 45.0
    # A plane wave on the followed object fills the beam (cardioid on axis: 0 dB re W)
    assert toward.beam_share_db > -1.0
    assert away.beam_share_db < toward.beam_share_db - 3.0
    assert toward.clips == away.clips == 3
    deaf = {r.aim: r for r in fov_turn_rows(SimpleNamespace(model=_Aimed(deaf=True)), seeds)}
    assert deaf["toward"].beam_db == pytest.approx(deaf["away"].beam_db, abs=1e-9)
    assert deaf["toward"].direction_error_deg == pytest.approx(deaf["away"].direction_error_deg)
    # the ground truth is the same scene whatever the camera does
    assert deaf["scene itself"] == rows["scene itself"]
    assert "toward − away: beam level +0.0 dB" in format_fov_turn(list(deaf.values()))


def test_the_away_aim_is_far_from_every_object() -> None:
    for seed in HELD_OUT_SEEDS[:5]:
        scene = render_clip(seed, 2.0).scene
        az, el = away_direction(scene, 4, 2.0)
        for i in range(len(scene.objects)):
            path_az, path_el = vector_to_az_el(object_path(scene, i, 4, 2.0))
            assert great_circle_deg(az, el, path_az, path_el).min() > 45.0
        louder = [np.mean(o.level_db) for o in scene.objects]
        assert louder[loudest_object(scene)] == max(louder)
