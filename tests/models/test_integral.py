"""Integral read-out of heatmaps: soft-argmax closed forms, read-out with the same weights, gradients."""

import torch

from posesynth.models.integral import gaussian_logits, heatmap_grid, integrate, soft_argmax


def test_grid_cell_centres_cover_the_crop_symmetrically():
    grid = heatmap_grid(4, 4, 16)                      # 4 px cells: centres at 1.5, 5.5, 9.5, 13.5
    torch.testing.assert_close(grid[0, :, 0], torch.tensor([1.5, 5.5, 9.5, 13.5]))
    torch.testing.assert_close(grid[:, 0, 1], torch.tensor([1.5, 5.5, 9.5, 13.5]))
    assert grid.mean(dim=(0, 1)).tolist() == [7.5, 7.5]  # the crop centre (pixel centres are integers)


def test_soft_argmax_of_a_sharp_peak_is_the_cell_centre():
    logits = torch.full((1, 2, 4, 4), -1e4)
    logits[0, 0, 1, 3] = 0.0                          # row 1, column 3 → (x, y) = (13.5, 5.5)
    logits[0, 1, 2, 0] = 0.0
    coords, weights = soft_argmax(logits, 16)
    torch.testing.assert_close(coords[0], torch.tensor([[13.5, 5.5], [1.5, 9.5]]))
    torch.testing.assert_close(weights.sum(dim=(-2, -1)), torch.ones(1, 2))


def test_soft_argmax_of_a_flat_map_is_the_centre_and_two_equal_peaks_average():
    coords, _ = soft_argmax(torch.zeros(2, 3, 8, 8), 32)
    torch.testing.assert_close(coords, torch.full((2, 3, 2), 15.5))
    logits = torch.full((1, 1, 4, 4), -1e4)
    logits[0, 0, 0, 0] = logits[0, 0, 0, 2] = 0.0     # x = 1.5 and 9.5, y = 1.5
    coords, _ = soft_argmax(logits, 16)
    torch.testing.assert_close(coords[0, 0], torch.tensor([5.5, 1.5]))


def test_integrate_reads_the_map_where_the_heatmap_is():
    logits = torch.full((1, 1, 4, 4), -1e4)
    logits[0, 0, 3, 1] = 0.0
    _, weights = soft_argmax(logits, 16)
    depth = torch.arange(16.0).reshape(1, 1, 4, 4)
    torch.testing.assert_close(integrate(depth, weights), torch.tensor([[13.0]]))  # cell (3, 1) holds 13


def test_gaussian_prior_peaks_at_its_centre():
    logits = gaussian_logits(torch.tensor([[5.5, 9.5]]), 4, 4, 16, sigma_cells=0.3)
    coords, _ = soft_argmax(logits[None], 16)
    torch.testing.assert_close(coords[0, 0], torch.tensor([5.5, 9.5]), atol=1e-3, rtol=0)
    assert logits[0, 2, 1] == 0 and logits.max() == 0


def test_soft_argmax_and_integrate_gradcheck():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    maps = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: soft_argmax(x, 12)[0], (logits,))
    assert torch.autograd.gradcheck(lambda x, m: integrate(m, soft_argmax(x, 12)[1]), (logits, maps))
