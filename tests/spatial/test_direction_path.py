"""Direction paths: interpolation the short way round, holding at the ends, and files that
are read exactly or refused with one sentence."""

import json
from pathlib import Path

import numpy as np
import pytest

from plugin_core.errors import InputError
from plugin_core.spatial.direction_path import DirectionPath, load_path


def test_yaw_crosses_the_back_not_the_front() -> None:
    path = DirectionPath((0.0, 2.0), (170.0, -170.0), (0.0, 20.0))
    yaw, pitch = path.at(np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(yaw, [170.0, 180.0, -170.0])
    np.testing.assert_allclose(pitch, [0.0, 10.0, 20.0])


def test_the_path_holds_before_its_first_key_and_after_its_last() -> None:
    path = DirectionPath((1.0, 3.0), (10.0, 50.0), (0.0, -30.0))
    yaw, pitch = path.at(np.array([0.0, 2.0, 9.0]))
    np.testing.assert_allclose(yaw, [10.0, 30.0, 50.0])
    np.testing.assert_allclose(pitch, [0.0, -15.0, -30.0])
    assert np.all(DirectionPath.constant(-45.0, 5.0).at(np.arange(4.0))[0] == -45.0)


def test_json_and_csv_files_read_back_the_same_path(tmp_path: Path) -> None:
    path = DirectionPath((0.0, 1.5, 4.0), (0.0, 90.0, -120.0), (0.0, 10.0, 0.0), (0.0, 5.0, 0.0))
    as_json = tmp_path / "path.json"
    as_json.write_text(json.dumps(path.to_json()))
    as_csv = tmp_path / "path.csv"
    as_csv.write_text("t,yaw,pitch,roll\n0,0,0,0\n1.5,90,10,5\n4,-120,0,0\n")
    assert load_path(as_json) == path
    assert load_path(as_csv) == path
    np.testing.assert_allclose(path.roll_at(np.array([0.75])), [2.5])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.json", "{not json", "not valid JSON"),
        ("p.json", '{"format": "x", "version": 1, "keys": []}', "format"),
        ("p.json", '{"format": "omnifoa-direction-path", "version": 9, "keys": []}', "version"),
        ("p.json", '{"format": "omnifoa-direction-path", "version": 1, "keys": []}', "1 to"),
        ("p.csv", "t,yaw\n0,0\n", "header t,yaw,pitch"),
        ("p.csv", "t,yaw,pitch\n1,0,0\n0,5,0\n", "strictly rising"),
        ("p.csv", "t,yaw,pitch\n0,0,95\n", "between -90 and 90"),
        ("p.csv", "t,yaw,pitch\n0,abc,0\n", "yaw of key 1 of a direction path must be a number"),
        ("p.csv", "t,yaw,pitch\n0,nan,0\n", "finite"),
        ("p.csv", "t,yaw,pitch,roll\n0,0,0,1\n1,0,0,\n", "roll for every key"),
        ("p.txt", "t,yaw,pitch\n", ".json or .csv"),
    ],
)
def test_bad_path_files_get_one_clear_sentence(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    file = tmp_path / name
    file.write_text(text)
    with pytest.raises(InputError, match=message):
        load_path(file)
