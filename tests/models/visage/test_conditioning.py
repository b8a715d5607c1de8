"""ViSAGe's conditioning inputs: the energy map of patch tokens and the direction vector."""

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


def test_the_top_p_filter_drops_the_least_energetic_patches() -> None:
    torch.manual_seed(0)
    energy = energy_maps(torch.randn(20, 49, 768))
    survivors = (energy > 0).sum(dim=-1).float()
    assert 25 <= float(survivors.mean()) <= 38  # about 31-32 of 49 on random features


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
