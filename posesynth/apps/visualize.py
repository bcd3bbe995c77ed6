"""``posesynth visualize RUN VIDEO_OR_FOLDER --out DIR``: what a model learned, as PNGs and one HTML page.

For each usable video, ``--frames N`` (target, source) pairs are read the way training reads
them (:class:`~posesynth.data.pairs.FramePairDataset`: the same person boxes, crops and median
background or background plate, with the run's crop settings), and the page shows

- the target's part maps, coloured and laid over the crop, and its projected skeleton;
- the appearance × pose **swap grid**: cell (r, c) is ``model(source_r, target_c, background_c)``
  — appearance of row r, pose and background of column c — so the diagonal is the model's own
  synthesis of each pair (Kundu et al., CVPR 2020, fig. 1 "appearance transfer");
- **novel views**: the predicted 3D pose turned about its root in azimuth and elevation,
  re-rendered as part maps and decoded with the source's appearance (the paper's "novel
  camera views"); the first column (0°, 0°) is the synthesis itself;
- the 3D skeleton from the front, the side and the top;
- SSIM and PSNR of each synthesis against its target (``skimage.metrics``), next to those of
  the bare background, the trivial synthesis the decoder must beat;
- the training curves of ``RUN/log.jsonl`` as inline SVG.

Unusable videos are skipped with a warning and listed on the page with the reason.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from html import escape
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from posesynth.data.pairs import FramePairDataset
from posesynth.geometry import euler_to_matrix, project
from posesynth.models.loading import load_model, run_config
from posesynth.models.model import PoseSynthModel
from posesynth.render.puppet import colorize_part_maps, foreground_mask
from posesynth.video.index import NoUsableVideosError
from posesynth.video.readers import VideoError
from posesynth.viz import html as report
from posesynth.viz.draw import overlay_part_maps, skeleton_views, upscale, upscale_points, with_skeletons
from posesynth.viz.grid import make_grid, save_png, to_uint8

log = logging.getLogger(__name__)

# (azimuth, elevation) in degrees of the novel views; (0, 0) first: it is the synthesis itself
VIEW_ANGLES: tuple[tuple[float, float], ...] = ((0, 0), (45, 0), (90, 0), (135, 0), (180, 0), (270, 0),
                                                (0, 30), (0, -30))
MAX_CROSS_VIDEOS = 6


def choose_pairs(frames: int, count: int, min_gap: int, max_gap: int) -> list[tuple[int, int]]:
    """``count`` (target, source) frame pairs: targets evenly spread, sources a training-like gap away.

    The gap is a quarter of the clip clamped to [min_gap, max_gap] (and to what fits), so the two
    poses differ as they do in training.

    Returns:
        list of (target, source) frame indices, distinct targets, target ≠ source (frames ≥ 2).
    """
    count = max(1, min(count, frames))
    targets = np.unique(((np.arange(count) + 0.5) * frames / count).astype(np.int64))
    pairs = []
    for t in targets.tolist():
        gap = min(max(min_gap, frames // 4), max_gap, max(t, frames - 1 - t))
        gap = max(gap, 1)
        pairs.append((t, t + gap if t + gap < frames else t - gap))
    return pairs


@torch.no_grad()
def swap_grid(model: PoseSynthModel, sources: torch.Tensor, targets: torch.Tensor,
              backgrounds: torch.Tensor) -> torch.Tensor:
    """Every appearance with every pose: ``model(source_r, target_c, background_c)["synthesis"]``.

    One forward pass per row through the model's own ``forward``, so cell (r, r) is exactly the
    synthesis training computes for pair r.

    Args:
        sources, targets, backgrounds: (N, 3, S, S) RGB in [0, 1].
    Returns:
        (N, N, 3, S, S): row r appearance source, column c pose source.
    """
    n = sources.shape[0]
    rows = [model(sources[r:r + 1].expand(n, -1, -1, -1), targets, backgrounds)["synthesis"] for r in range(n)]
    return torch.stack(rows)


def rotate_about_root(joints: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Turn poses about their root joint.

    Args:
        joints: (B, 17, 3) camera frame, metres.
        rotations: (V, 3, 3).
    Returns:
        (B, V, 17, 3) camera frame, metres: root + R · (joint − root).
    """
    root = joints[:, None, :1]
    return root + (joints[:, None] - root) @ rotations.transpose(-1, -2)


@torch.no_grad()
def novel_views(model: PoseSynthModel, outputs: dict[str, torch.Tensor], background: torch.Tensor,
                angles_deg: tuple[tuple[float, float], ...] = VIEW_ANGLES) -> torch.Tensor:
    """Synthesise each pair's person from new viewpoints around the predicted 3D pose.

    The pose ``joints_camera`` is turned about its root by azimuth (the camera's vertical y axis)
    and then elevation (its x axis), projected with the fixed crop camera, rendered as part maps
    and decoded with the source's appearance over the target's background, as ``forward`` does.

    Args:
        outputs: ``model(source, target, background)`` of B pairs.
        background: (B, 3, S, S) the targets' background crops.
        angles_deg: V (azimuth, elevation) pairs, degrees.
    Returns:
        (B, V, 3, S, S) RGB in [0, 1].
    """
    angles = torch.tensor([(math.radians(a), math.radians(e), 0.0) for a, e in angles_deg])
    rotations = euler_to_matrix(angles, "yxz").to(outputs["joints_camera"])
    joints = rotate_about_root(outputs["joints_camera"], rotations)                  # (B, V, 17, 3)
    b, v = joints.shape[:2]
    flat = joints.flatten(0, 1)
    maps = model.render(project(flat, model.K), flat[..., 2])
    appearance = outputs["appearance"].repeat_interleave(v, dim=0)
    images = model.decoder(maps, appearance, background.repeat_interleave(v, dim=0),
                           coverage=foreground_mask(maps))["image"]
    return images.unflatten(0, (b, v))


def synthesis_quality(targets: torch.Tensor, images: torch.Tensor) -> list[tuple[float, float]]:
    """(SSIM, PSNR in dB) of each image against its target, on 8-bit RGB (data range 255).

    Args:
        targets, images: (B, 3, S, S) RGB in [0, 1].
    """
    scores = []
    for truth, image in zip(to_uint8(targets), to_uint8(images)):
        ssim = structural_similarity(truth, image, channel_axis=-1, data_range=255)
        psnr = peak_signal_noise_ratio(truth, image, data_range=255) if not np.array_equal(truth, image) else math.inf
        scores.append((float(ssim), float(psnr)))
    return scores


def _labelled_swap(sources: torch.Tensor, targets: torch.Tensor, swaps: torch.Tensor) -> list[torch.Tensor]:
    """Grid columns with a header row of pose sources and a header column of appearance sources."""
    blank = torch.ones_like(sources[:1])
    columns = [torch.cat([blank, sources])]
    columns += [torch.cat([targets[c:c + 1], swaps[:, c]]) for c in range(targets.shape[0])]
    return columns


def visualize_pairs(model: PoseSynthModel, items: list[dict], out: Path, prefix: str, factor: int) -> dict:
    """Write one set of figures for B pairs; returns their file names, angles and quality rows."""
    source, target, background = (torch.stack([it[k] for it in items]) for k in ("source", "target", "background"))
    outputs = model(source, target, background)
    big = lambda x: upscale(x.float(), factor)  # noqa: E731
    skel = with_skeletons(big(target), upscale_points(outputs["joints2d"], factor))
    files = {"parts": f"{prefix}_parts.png", "swap": f"{prefix}_swap.png", "views": f"{prefix}_views.png",
             "skeleton": f"{prefix}_skeleton.png"}
    save_png(make_grid([big(source), big(target), big(overlay_part_maps(target, outputs["target_maps"])),
                        big(colorize_part_maps(outputs["target_maps"])), skel, big(outputs["synthesis"])]),
             out / files["parts"])
    swaps = swap_grid(model, source, target, background)
    save_png(make_grid([big(c) for c in _labelled_swap(source, target, swaps)]), out / files["swap"])
    views = novel_views(model, outputs, background)
    save_png(make_grid([big(source)] + [big(views[:, k]) for k in range(views.shape[1])]), out / files["views"])
    side = max(160, target.shape[-1] * factor)
    rows = [skeleton_views(p, size=side) for p in outputs["pose_camera"].float().cpu().numpy()]
    save_png(np.concatenate([np.pad(r, ((2, 0), (0, 0), (0, 0)), constant_values=255) for r in rows]),
             out / files["skeleton"])
    quality = [(*ours, *base) for ours, base in zip(synthesis_quality(target, outputs["synthesis"]),
                                                    synthesis_quality(target, background))]
    return {"files": files, "quality": quality, "swaps": swaps, "synthesis": outputs["synthesis"]}


def _video_section(name: str, pairs: list[tuple[int, int]], result: dict) -> str:
    f, angles = result["files"], ", ".join(f"({a:g}°, {e:g}°)" for a, e in VIEW_ANGLES)
    rows = [(f"{t} ← {s}", *q) for (t, s), q in zip(pairs, result["quality"])]
    return "".join([
        f"<h3>{escape(name)}</h3>",
        report.figure(f["parts"], "Rows: pairs (target ← source frame). Columns: source | target | part maps over the "
                                "target | part maps | projected 3D skeleton | synthesis of the target from the "
                                "source's appearance."),
        report.figure(f["swap"], "Swap grid. Row: appearance source (left column); column: pose source (top row), "
                               "with its background. The diagonal is the model's synthesis of each pair."),
        report.figure(f["views"], f"Novel views. First column: the source (appearance); then the predicted 3D pose "
                                f"turned about its root by (azimuth, elevation) = {angles}, re-rendered and "
                                f"decoded."),
        report.figure(f["skeleton"], "Predicted 3D skeleton (root-relative, camera frame) from the front, the side "
                                   "(depth to the right) and the top (far side up); 2.2 m across."),
        report.table(["pair (target ← source)", "SSIM", "PSNR (dB)", "background SSIM", "background PSNR (dB)"], rows),
    ])


def visualize(run: str | os.PathLike, videos: str | os.PathLike, out: str | os.PathLike, *, frames: int = 4,
              device: str = "cpu") -> Path:
    """Write the figures and ``out/index.html`` for a model and a video or folder; returns the page's path.

    Raises:
        NoUsableVideosError when no video can be used (the message lists why).
    """
    out, run = Path(out), Path(run)
    model = load_model(run, map_location=device)
    config = run_config(run)
    d = config.data
    dataset = FramePairDataset(videos=videos, size=model.image_size, min_gap=1, max_gap=1, margin=d.margin,
                               box_source=d.box_source, background_window=d.background_window)
    bad = [(str(s.path), s.reason) for s in dataset.skipped]
    factor = max(1, math.ceil(128 / model.image_size))
    sections, quality_rows, firsts = [], [], []
    for v, info in enumerate(dataset.videos):
        pairs = choose_pairs(info["frames"], frames, d.min_gap, d.max_gap)
        try:
            items = [dataset.load_pair(v, t, s) for t, s in pairs]
        except (VideoError, OSError, ValueError) as error:  # a file that probed fine but fails later
            log.warning("skipped %s: %s", info["path"], error)
            bad.append((str(info["path"]), str(error)))
            continue
        items = [{k: (x.to(device) if torch.is_tensor(x) else x) for k, x in it.items()} for it in items]
        with torch.no_grad():
            result = visualize_pairs(model, items, out, f"video{v:02d}", factor)
        name = str(Path(info["path"]).relative_to(videos) if Path(videos).is_dir() else Path(info["path"]).name)
        sections.append(_video_section(name, pairs, result))
        quality_rows += [(f"{name} {t} ← {s}", *q) for (t, s), q in zip(pairs, result["quality"])]
        firsts.append(items[0])
    if not sections:
        raise NoUsableVideosError(f"{videos}: no video could be visualised:\n"
                                  + "\n".join(f"  {p}: {r}" for p, r in bad))
    body = [("Training curves", report.curves_html(report.read_log(run / "log.jsonl" if run.is_dir() else
                                                               run.parent / "log.jsonl")))]
    if len(firsts) > 1:
        chosen = firsts[:MAX_CROSS_VIDEOS]
        source, target, background = (torch.stack([it[k] for it in chosen]) for k in ("source", "target", "background"))
        with torch.no_grad():
            swaps = swap_grid(model, source, target, background)
        save_png(make_grid([upscale(c.float(), factor) for c in _labelled_swap(source, target, swaps)]),
                 out / "across_videos_swap.png")
        body.append(("Appearance transfer across videos", report.figure(
            "across_videos_swap.png", "The first pair of each video: row = appearance source, column = pose "
                                      "and background source.")))
    body.append(("Per video", "".join(sections)))
    mean = np.nanmean([[q if math.isfinite(q) else np.nan for q in row[1:]] for row in quality_rows], axis=0)
    body.append(("Synthesis quality on the shown pairs", report.table(
        ["pair", "SSIM", "PSNR (dB)", "background SSIM", "background PSNR (dB)"],
        quality_rows + [("mean", *map(float, mean))])))
    if bad:
        items_html = "".join(f"<li><code>{escape(p)}</code>: {escape(r)}</li>" for p, r in bad)
        body.append(("Skipped videos", f'<ul class="warning">{items_html}</ul>'))
        for path, reason in bad:
            log.warning("not visualised: %s (%s)", path, reason)
    intro = (f"<p>Model <code>{escape(str(run))}</code> ({model.image_size}px crops) on "
             f"<code>{escape(str(videos))}</code>: {len(sections)} video(s), {len(bad)} skipped. "
             f"Crops use the run's settings: margin {d.margin:g}, boxes from {d.box_source}, background "
             f"window {d.background_window} frames.</p>")
    return report.write_page(out / "index.html", report.page("posesynth visualize", body, intro))


def add_visualize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="run directory (or its model.pt)")
    parser.add_argument("videos", type=Path, metavar="VIDEO_OR_FOLDER", help="a video, or a folder of videos")
    parser.add_argument("--out", type=Path, required=True, help="output folder (PNGs and index.html)")
    parser.add_argument("--frames", type=int, default=4, help="frame pairs shown per video (default 4)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")


def run_visualize(args: argparse.Namespace) -> int:
    """Run ``posesynth visualize``; errors go to the command's error boundary (``posesynth.cli.main``)."""
    started = time.perf_counter()
    page = visualize(args.run, args.videos, args.out, frames=args.frames, device=args.device)
    print(f"wrote {page} in {time.perf_counter() - started:.1f} s")
    return 0


__all__ = ["VIEW_ANGLES", "choose_pairs", "swap_grid", "rotate_about_root", "novel_views", "synthesis_quality",
           "visualize_pairs", "visualize", "add_visualize_arguments", "run_visualize"]
