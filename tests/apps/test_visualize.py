"""posesynth visualize and the drawing helpers: figures, swap grid, novel views, the HTML page."""

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_test_video

from posesynth import skeleton
from posesynth.apps.visualize import (VIEW_ANGLES, choose_pairs, novel_views, rotate_about_root, swap_grid,
    synthesis_quality, visualize)
from posesynth.config import load_config, write_resolved_config
from posesynth.models.model import PoseSynthModel
from posesynth.training.checkpoints import model_kwargs
from posesynth.viz import html
from posesynth.viz.draw import (BONE_COLORS, draw_skeleton, overlay_part_maps, sample_grid, skeleton_views,
                                upscale, upscale_points, view_coordinates)

TINY = ["model.image_size=32", "model.encoder_width=8", "model.encoder_stages=3", "model.appearance_channels=8",
        "model.appearance_width=8", "model.decoder_width=8", "data.min_gap=2", "data.max_gap=8"]


def make_tiny_run(folder: Path) -> Path:
    """An untrained 32 px model saved the way train.py saves it (model.pt, config.yaml, log.jsonl)."""
    config = load_config(None, TINY)
    torch.manual_seed(0)
    model = PoseSynthModel(**model_kwargs(config))
    model.start_from_pose(skeleton.canonical_tpose())
    folder.mkdir(parents=True, exist_ok=True)
    write_resolved_config(config, folder)
    torch.save({"model_kwargs": model_kwargs(config), "state_dict": model.state_dict(), "step": 0}, folder / "model.pt")
    rows = [{"step": s, "loss/total": 1.0 / s, "lr": 1e-3} for s in range(1, 6)]
    (folder / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def model(tiny_run) -> PoseSynthModel:
    from posesynth.models.loading import load_model
    return load_model(tiny_run)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    write_test_video(root / "a.mp4", frames=16, width=64, height=48, seed=1)
    (root / "sub").mkdir()
    write_test_video(root / "sub" / "b clip.mp4", frames=12, width=48, height=64, seed=2)
    (root / "broken.mp4").write_bytes(b"not a video at all")
    return root


def _batch(n: int = 3, size: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n, 3, size, size, generator=g) for _ in range(3)]


# --- drawing ------------------------------------------------------------------------------------

def test_draw_skeleton_paints_bones_in_part_colours():
    joints = np.full((17, 2), np.nan)
    joints[0], joints[1] = (10.0, 20.0), (50.0, 20.0)     # only bone 0 (pelvis → rhip) is drawn
    image = np.zeros((40, 64, 3), np.uint8)
    out = draw_skeleton(image, joints, thickness=3)
    assert out.shape == image.shape and image.sum() == 0  # a copy
    assert tuple(out[20, 30]) == tuple(BONE_COLORS[0])
    assert tuple(out[20, 10]) == (255, 255, 255)          # joint dot
    assert out[5, 30].sum() == 0 and out[30, 30].sum() == 0


def test_draw_skeleton_clips_points_off_the_image():
    joints = np.tile([[-100.0, -100.0]], (17, 1))
    joints[1] = (1000.0, 1000.0)
    out = draw_skeleton(np.zeros((16, 16, 3), np.uint8), joints)
    assert out.shape == (16, 16, 3) and out[8, 8].any()   # the bone crosses the image diagonally


def test_upscale_points_maps_pixel_centres():
    # pixel 0 of a 2x upscale covers new pixels 0 and 1: its centre is at 0.5
    assert upscale_points(np.array([0.0, 3.0]), 2).tolist() == [0.5, 6.5]
    image = torch.arange(4.0).reshape(1, 1, 2, 2)
    assert upscale(image, 2)[0, 0].tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]


def test_overlay_part_maps_leaves_the_background_untouched():
    images = torch.rand(2, 3, 8, 8)
    maps = torch.zeros(2, 17, 8, 8)
    maps[:, -1] = 1.0
    maps[:, -1, 2, 3], maps[:, 4, 2, 3] = 0.0, 1.0
    out = overlay_part_maps(images, maps, alpha=1.0)
    assert torch.equal(out[:, :, 0, 0], images[:, :, 0, 0])
    assert torch.allclose(out[0, :, 2, 3], torch.tensor((1.00, 0.60, 0.10)))  # part 4's colour at α = 1


def test_view_coordinates_and_views():
    pose = skeleton.canonical_tpose().numpy()
    assert np.allclose(view_coordinates(pose, "front"), pose[:, :2])
    assert np.allclose(view_coordinates(pose, "side")[:, 0], pose[:, 2])
    assert np.allclose(view_coordinates(pose, "top")[:, 1], -pose[:, 2])
    assert skeleton_views(pose, size=50).shape == (50, 3 * 50 + 2 * 2, 3)
    with pytest.raises(ValueError, match="view must be one of"):
        view_coordinates(pose, "back")


def test_sample_grid_shape(model):
    source, target, background = _batch(3)
    with torch.no_grad():
        outputs = model(source, target, background)
    grid = sample_grid({"source": source, "target": target}, outputs, rows=2)
    assert grid.dtype == np.uint8 and grid.shape == (2 * (128 + 2) + 2, 4 * (128 + 2) + 2, 3)


# --- the model-facing pieces ----------------------------------------------------------------------

def test_swap_grid_diagonal_is_the_models_synthesis(model):
    source, target, background = _batch(3)
    with torch.no_grad():
        expected = model(source, target, background)["synthesis"]
    grid = swap_grid(model, source, target, background)
    assert grid.shape == (3, 3, 3, 32, 32)
    for i in range(3):
        torch.testing.assert_close(grid[i, i], expected[i], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(grid[0, 1], grid[1, 1])  # appearance matters off the diagonal


def test_rotate_about_root_keeps_root_and_bone_lengths():
    joints = skeleton.canonical_tpose(torch.float64)[None] + torch.tensor([0.1, -0.2, 4.0], dtype=torch.float64)
    angle = torch.tensor(0.7, dtype=torch.float64)
    c, s = torch.cos(angle), torch.sin(angle)
    rotation = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=torch.float64)[None]
    out = rotate_about_root(joints, rotation)
    assert out.shape == (1, 1, 17, 3)
    torch.testing.assert_close(out[0, 0, 0], joints[0, 0])
    bones = lambda p: torch.stack([(p[b] - p[a]).norm() for a, b in skeleton.BONES])  # noqa: E731
    torch.testing.assert_close(bones(out[0, 0]), bones(joints[0]))
    torch.testing.assert_close(out[0, 0, 4, 0] - out[0, 0, 0, 0], c * 0.1337)  # lhip's x turned by cos


def test_novel_view_at_zero_angles_is_the_synthesis(model):
    source, target, background = _batch(2)
    with torch.no_grad():
        outputs = model(source, target, background)
        views = novel_views(model, outputs, background)
    assert views.shape == (2, len(VIEW_ANGLES), 3, 32, 32) and VIEW_ANGLES[0] == (0, 0)
    torch.testing.assert_close(views[:, 0], outputs["synthesis"], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(views[:, 0], views[:, 2])


def test_synthesis_quality_closed_form():
    target = torch.full((1, 3, 16, 16), 0.5)
    (ssim, psnr), = synthesis_quality(target, target)
    assert ssim == pytest.approx(1.0) and psnr == float("inf")
    (_, psnr), = synthesis_quality(target, target + 10 / 255)  # MSE = 100 → 10·log10(255²/100)
    assert psnr == pytest.approx(10 * np.log10(255 ** 2 / 100), abs=0.01)


def test_choose_pairs_respects_gaps_and_range():
    for frames in (2, 5, 16, 400):
        pairs = choose_pairs(frames, 4, min_gap=3, max_gap=50)
        assert 1 <= len(pairs) <= 4
        for t, s in pairs:
            assert 0 <= t < frames and 0 <= s < frames and t != s
    assert all(abs(t - s) == 50 for t, s in choose_pairs(400, 4, 3, 50))


# --- the page ---------------------------------------------------------------------------------------

def test_read_log_and_svg_plot(tmp_path):
    rows = '{"step": 1, "loss/total": 2.0, "note": "x"}\n\n{"step": 2, "loss/total": 1.0}\n'
    (tmp_path / "log.jsonl").write_text(rows)
    series = html.read_log(tmp_path / "log.jsonl")
    assert list(series) == ["loss/total"] and series["loss/total"][0].tolist() == [1, 2]
    svg = html.svg_line_plot(*series["loss/total"], "loss/total")
    assert svg.startswith("<svg") and "<polyline" in svg and "loss/total" in svg
    assert "no finite values" in html.svg_line_plot(np.array([1]), np.array([np.nan]), "nan")
    assert html.read_log(tmp_path / "missing.jsonl") == {}


def test_visualize_folder_with_a_bad_video(tiny_run, folder, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        page = visualize(tiny_run, folder, tmp_path / "out", frames=2)
    text = page.read_text(encoding="utf-8")
    assert page == tmp_path / "out" / "index.html"
    # every referenced file exists, relative to the page; nothing from the network
    links = re.findall(r'(?:src|href)="([^"]+)"', text)
    assert len(links) >= 9 and "across_videos_swap.png" in links
    for link in links:
        assert not re.match(r"[a-z]+://", link) and not link.startswith("/"), link
        assert (page.parent / link).is_file(), link
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # the good videos are shown, the bad one is named with its reason
    assert "a.mp4" in text and "b clip.mp4" in text
    assert "broken.mp4" in text and "Skipped videos" in text
    assert any("broken.mp4" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "<svg" in text and "SSIM" in text and "PSNR" in text


def test_visualize_single_video_of_a_checkpoint_file(tiny_run, folder, tmp_path):
    page = visualize(tiny_run / "model.pt", folder / "a.mp4", tmp_path / "one", frames=2)
    links = re.findall(r'src="([^"]+)"', page.read_text(encoding="utf-8"))
    assert links and all((page.parent / link).is_file() for link in links)
    assert not (page.parent / "across_videos_swap.png").exists()


def test_visualize_folder_without_usable_videos(tiny_run, tmp_path):
    from posesynth.video.index import NoUsableVideosError

    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "empty.mp4").write_bytes(b"")
    with pytest.raises(NoUsableVideosError, match="empty.mp4"):
        visualize(tiny_run, tmp_path / "v", tmp_path / "out")
