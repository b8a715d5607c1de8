"""``omnifoa train`` and ``omnifoa eval``: the refusals a user meets before any work starts."""

from pathlib import Path

import pytest
import torch
from cli_runner import run_cli


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_gpu_recipe_without_a_gpu_says_to_use_the_cpu_recipe(tmp_path: Path) -> None:
    result = run_cli("train", "--recipe", "gpu", "--work", str(tmp_path / "work"))
    assert result.returncode == 2
    assert "--recipe cpu" in result.stderr
    assert not (tmp_path / "work").exists()


def test_train_never_replaces_existing_weights_unasked(tmp_path: Path) -> None:
    weights = tmp_path / "mine.safetensors"
    weights.write_bytes(b"a user's file")
    result = run_cli("train", "--recipe", "cpu", "--work", str(tmp_path), "--weights", str(weights))
    assert result.returncode == 2
    assert "--overwrite" in result.stderr
    assert weights.read_bytes() == b"a user's file"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clips", "0"], "--clips must be 1 to 100, not 0"),
        (["--clips", "101"], "--clips must be 1 to 100, not 101"),
        (["--seconds", "0"], "--seconds must be between 0.5 and 600 s, not 0"),
        (["--seconds", "nan"], "--seconds must be a finite number, not nan"),
        (["--model", "no-such-model"], "no-such-model"),
    ],
)
def test_eval_refuses_bad_settings_in_one_sentence(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli("eval", "--out", str(tmp_path / "eval"), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "eval").exists()
