"""Per-object direction errors against a SynthSphere ground truth."""

import numpy as np
import pytest

from plugin_core.spatial import foa
from plugin_core.synthsphere import make_scene, render_foa
from plugin_core.synthsphere.evaluation import error_table, object_direction_errors


@pytest.fixture(scope="module")
def scene_and_foa():
    scene = make_scene(
        5,
        3.0,
        classes=["siren", "drum"],
        motions=["seam", "static"],
        directions=[(160.0, 10.0), (-40.0, 0.0)],
    )
    return scene, render_foa(scene)


def test_the_scene_own_foa_points_at_each_object(scene_and_foa) -> None:
    scene, field = scene_and_foa
    errors = object_direction_errors(field, scene.sample_rate, scene)
    assert [e.sound_class for e in errors] == ["siren", "drum"]
    for e in errors:
        assert e.windows >= 5
        assert e.median_deg < 2.0


def test_a_turned_field_is_caught(scene_and_foa) -> None:
    scene, field = scene_and_foa
    turned = foa.rotate(field, 90, 0, 0, frame="scene")
    errors = object_direction_errors(turned, scene.sample_rate, scene)
    for e in errors:
        assert e.median_deg == pytest.approx(90, abs=5)
        assert e.delta_azimuth_deg == pytest.approx(90, abs=5)


def test_an_object_that_is_never_heard_alone_has_no_windows() -> None:
    scene = make_scene(1, 2.0, classes=["engine"], ambience_db=30.0)  # ambience drowns it
    field = render_foa(scene)
    (only,) = object_direction_errors(field, scene.sample_rate, scene)
    assert only.windows == 0
    assert np.isnan(only.median_deg)
    assert "nan" in error_table([only])
