"""The frames evaluation and training hand a model are the frames decoding takes from the
scene's video: the same source frame for every 8 fps slot, and the time it shows."""

from pathlib import Path

import numpy as np

from plugin_core.media.video import fps_filter_picks, iter_frames
from plugin_core.synthsphere import make_scene, render_scene
from plugin_core.synthsphere.panorama import render_frames, sampled_frames


def test_sampled_frames_are_the_frames_decoding_takes_from_the_video(tmp_path: Path) -> None:
    scene = make_scene(4, 2.0)
    paths = render_scene(scene, tmp_path)
    frames, shown = sampled_frames(scene, 8.0)
    decoded = [f.image for f in iter_frames(paths.video, 0.0, None, 8.0)]
    source = np.stack(list(render_frames(scene)))  # every 24 fps frame
    assert len(decoded) == len(frames) == 16
    for k, image in enumerate(decoded):
        distance = [np.abs(image.astype(float) - s).mean() for s in source]
        # the decoded frame is the rendered one sampled_frames chose (H.264 aside)
        assert int(np.argmin(distance)) == round(shown[k] * 24.0)
        assert np.array_equal(frames[k], source[round(shown[k] * 24.0)])


def test_each_slot_takes_the_last_frame_before_its_time_plus_half_a_period() -> None:
    times = np.arange(48) / 24.0
    assert fps_filter_picks(times, 8.0, 4).tolist() == [1, 4, 7, 10]
    # a 30 fps source: slot k/8 + 1/16 → the last frame strictly before it
    assert fps_filter_picks(np.arange(60) / 30.0, 8.0, 3).tolist() == [1, 5, 9]
    # a source starting late: the first slots take its first frame
    assert fps_filter_picks(np.array([0.3, 0.4]), 8.0, 3).tolist() == [0, 0, 0]
