"""ViSAGe's conditioning inputs: the energy map of patch tokens and the direction vector."""

import numpy as np
import pytest
import torch

from models.visage.direction import direction_vector, mean_direction
from models.visage.energy_map import dissimilarity_scores, energy_maps


def test_a_single_odd_patch_gets_the_energy() -> None:
    patches = torch.ones(5, 49, 64) + 0.01 * torch.randn(5, 49, 64)
    patches[:, 24] = -torch.ones(64)  # the centre patch (row 3, column 3) differs
    energy = energy_maps(patches)
    assert energy.shape == (5, 49)
    torch.testing.assert_close(energy.sum(dim=-1), torch.ones(5))
    assert bool((energy.argmax(dim=-1) == 24).all())
    assert float(energy[:, 24].min()) > 0.5


def test_a_patch_that_changes_over_time_stands_out_in_time() -> None:
    patches = torch.randn(1, 49, 32).expand(6, -1, -1).clone()
    patches[3, 10] = torch.randn(32)  # one patch changes in frame 3 only
    _, temporal = dissimilarity_scores(patches)
    assert int(temporal[3].argmax()) == 10
    assert temporal[0, 10] < temporal[3, 10]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x[np.isfinite(x)].max())
    return e / e.sum()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_the_scores_compare_a_patch_with_its_neighbours_and_its_own_past_and_future() -> None:
    torch.manual_seed(1)
    patches = torch.randn(3, 49, 16)
    spatial, temporal = dissimilarity_scores(patches)
    f = patches.numpy().astype(np.float64)
    corner = _unit(f[1, 0]) - _unit((f[1, 1] + f[1, 7]) / 2)  # right and below neighbours
    inner = _unit(f[1, 24]) - _unit((f[1, 17] + f[1, 31] + f[1, 23] + f[1, 25]) / 4)
    first = _unit(f[0, 5]) - _unit(f[1, 5])  # the first frame has only a next frame
    middle = _unit(f[1, 5]) - _unit((f[0, 5] + f[2, 5]) / 2)
    assert float(spatial[1, 0]) == pytest.approx(np.linalg.norm(corner), rel=1e-5)
    assert float(spatial[1, 24]) == pytest.approx(np.linalg.norm(inner), rel=1e-5)
    assert float(temporal[0, 5]) == pytest.approx(np.linalg.norm(first), rel=1e-5)
    assert float(temporal[1, 5]) == pytest.approx(np.linalg.norm(middle), rel=1e-5)


def _map_by_hand(spatial: np.ndarray, temporal: np.ndarray, t: float, p: float) -> np.ndarray:
    """One frame's energy map written out: softmaxes at temperature ``t``, the least
    energetic patches holding ``1 − p`` of the energy dropped, the softmaxes taken again."""
    energy = 0.5 * (_softmax(spatial / t) + _softmax(temporal / t))
    kept = np.ones(49, bool)
    held = 0.0
    for i in np.argsort(energy):
        if held + energy[i] > 1.0 - p:
            break
        held += energy[i]
        kept[i] = False
    s, m = np.where(kept, spatial / t, -np.inf), np.where(kept, temporal / t, -np.inf)
    return 0.5 * (_softmax(s) + _softmax(m))


def test_the_energy_map_is_the_softmax_at_0_1_over_the_70_percent_top_p_set() -> None:
    torch.manual_seed(0)
    patches = torch.randn(4, 49, 64)
    patches[:, 10] += 2.0 * torch.randn(4, 64)  # one patch that stands out a little
    energy = energy_maps(patches).numpy().astype(np.float64)
    spatial, temporal = (x.numpy().astype(np.float64) for x in dissimilarity_scores(patches))
    for frame in range(4):
        expected = _map_by_hand(spatial[frame], temporal[frame], 0.1, 0.7)
        np.testing.assert_allclose(energy[frame], expected, atol=1e-6)
        assert energy[frame].sum() == pytest.approx(1.0, abs=1e-6)  # renormalised
        assert (energy[frame] == 0).sum() == (expected == 0).sum() > 0
        for t, p in [(0.05, 0.7), (0.2, 0.7), (0.1, 0.6), (0.1, 0.8)]:  # other settings differ
            other = _map_by_hand(spatial[frame], temporal[frame], t, p)
            assert np.abs(energy[frame] - other).max() > 1e-3, (t, p)


@pytest.mark.parametrize(
    ("az", "el", "expected"),
    [
        (0.0, 0.0, (0.0, 0.0, 1.0)),  # front
        (90.0, 0.0, (-1.0, 0.0, 0.0)),  # left
        (-90.0, 0.0, (1.0, 0.0, 0.0)),  # right
        (180.0, 0.0, (0.0, 0.0, -1.0)),  # back
        (0.0, 90.0, (0.0, -1.0, 0.0)),  # up
        (0.0, 30.0, (0.0, -0.5, 0.8660254)),  # front, 30° up
    ],
)
def test_the_direction_vector_matches_the_references_formula(az, el, expected) -> None:
    vector = direction_vector(torch.tensor(az), torch.tensor(el))
    torch.testing.assert_close(vector, torch.tensor(expected), atol=1e-6, rtol=0)


def test_a_window_across_the_seam_averages_to_behind() -> None:
    directions = torch.tensor([[170.0, 0.0], [-170.0, 0.0], [175.0, 0.0], [-175.0, 0.0]])
    torch.testing.assert_close(mean_direction(directions), torch.tensor([0.0, 0.0, -1.0]))
