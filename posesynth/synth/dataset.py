"""The synthetic puppet-world dataset: videos of a textured capsule body with exact 3D labels.

Output layout of ``generate_dataset(out_dir, ...)`` / ``posesynth synth --out DIR``::

    DIR/videos/<name>.mp4     H.264 (libx264, yuv420p), S×S, ``fps``
    DIR/labels/<name>.npz     labels of that video (below)
    DIR/scenes.json           every scene and its views with K, R, t and relative file paths

``<name>`` is ``s<subject:02d>_<motion>_<scene:04d>`` for one view per scene and
``s<subject:02d>_<motion>_<scene:04d>_cam<k>`` with ``views=V > 1``, so files split by
subject or motion with a glob or ``name.split("_")``. All views of a scene show the same
instants of the same motion from different static, calibrated cameras.

Label arrays (F frames, S pixels; camera frame x right, y down, z forward; world frame y down
with the floor at y = 0; pixel (0, 0) is the centre of the top-left pixel):

    joints3d        (F, 17, 3) float32  camera frame, metres (Human3.6M-17 order)
    joints2d        (F, 17, 2) float32  pixels; exactly the projection of joints3d with K
    K               (3, 3)     float32  intrinsics
    R, t            (3, 3), (3,) float32  world→camera: X_cam = R·X_world + t
    fps             ()         float64
    joints3d_world  (F, 17, 3) float32  world frame, metres
    bone_lengths    (16,)      float32  metres, ``skeleton.BONES`` order (constant in time)
    subject         ()         int64    subject id
    motion          ()         str      the action label (a key of ``synth.motion.ACTIONS``)
    segments        ()         str      the motion primitives in order, joined by "+"
    scene, view, views  ()     str, int64, int64
    mask            (F, S, S)  bool     pixels at least half covered by the body
    boxes           (F, 4)     float32  x0, y0, x1, y1 pixel edges of the mask (NaN if empty)
    visible         (F, 17)    bool     joint not hidden by another body part (approximate)
    background      (S, S, 3)  uint8    the empty scene, RGB (before video compression)
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from skimage.io import imsave

from posesynth import skeleton
from posesynth.parallel import map_in_processes
from posesynth.synth.motion_programs import ACTIONS
from posesynth.synth.scene import Scene, View, make_scene
from posesynth.video.writer import write_video

DEFAULT_SUBJECTS: tuple[int, ...] = (1, 2, 3, 4, 5)
REQUIRED_KEYS = ("joints3d", "joints2d", "K", "R", "t", "fps")
# decord 0.6 mis-reads RGB frames of these widths (it infers 4 or 6 channels from the padded
# row stride); the files are valid H.264, other readers decode them fine
DECORD_BAD_WIDTHS = (16, 24, 48, 72)


def video_name(subject: int, motion: str, scene: int, view: int | None = None) -> str:
    """``s<subject>_<motion>_<scene>[_cam<view>]``, e.g. ``s03_walking_0007_cam1``."""
    name = f"s{subject:02d}_{motion}_{scene:04d}"
    return name if view is None else f"{name}_cam{view}"


def _labels(scene: Scene, view: View, name: str, index: int, fps: float) -> dict[str, np.ndarray]:
    cam = view.camera
    return {
        "joints3d": view.joints3d, "joints2d": view.joints2d,
        "K": cam.K.float().numpy(), "R": cam.R.float().numpy(), "t": cam.t.float().numpy(),
        "fps": np.float64(fps),
        "joints3d_world": scene.joints_world,
        "bone_lengths": scene.subject.bone_lengths.astype(np.float32),
        "subject": np.int64(scene.subject.subject_id),
        "motion": np.str_(scene.motion.action), "segments": np.str_("+".join(scene.motion.segments)),
        "scene": np.str_(name), "view": np.int64(index), "views": np.int64(len(scene.views)),
        "mask": view.mask, "boxes": view.boxes, "visible": view.visible, "background": view.background,
    }


def _check(videos: int, frames: int, size: int, views: int, fps: float, subjects: Sequence[int],
           motions: Sequence[str]) -> None:
    if videos < 1 or frames < 1 or views < 1:
        raise ValueError(f"videos, frames and views must be >= 1, got {videos}, {frames}, {views}")
    if size < 16 or size % 2:
        raise ValueError(f"size must be even and >= 16 (H.264 yuv420p needs even sizes), got {size}")
    if size in DECORD_BAD_WIDTHS:
        warnings.warn(f"decord 0.6 cannot decode {size}-pixel-wide videos; posesynth reads them with the slower "
                      f"PyAV fallback — prefer another size", stacklevel=3)
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not subjects or any(int(s) < 0 for s in subjects):
        raise ValueError(f"subjects must be a non-empty list of non-negative ids, got {list(subjects)}")
    unknown = [m for m in motions if m not in ACTIONS]
    if not motions or unknown:
        raise ValueError(f"unknown motions {unknown}; choose from {sorted(ACTIONS)}")


def _progress(results: Iterable, total: int, show: bool) -> Iterable:
    if not show:
        return results
    from tqdm import tqdm
    return tqdm(results, total=total, desc="synth", unit="scene")


def _scene_job(job: dict) -> tuple[dict, list[Path]]:
    return _write_scene(**job)


def _write_scene(out: Path, index: int, subject: int, motion: str, frames: int, fps: float, size: int, seed: int,
                 views: int, supersample: int, crf: int, box_sidecars: bool,
                 background_plates: bool) -> tuple[dict, list[Path]]:
    """Render scene ``index`` (seeded by (seed, index)) and write its files; (scenes.json entry, label paths)."""
    scene = make_scene(subject, motion, frames, fps, size, np.random.default_rng([seed, index]), views=views,
                       supersample=supersample)
    base = video_name(subject, motion, index)
    entry = {"name": base, "subject": subject, "motion": motion, "segments": list(scene.motion.segments),
             "views": []}
    written = []
    for k, view in enumerate(scene.views):
        name = base if views == 1 else video_name(subject, motion, index, k)
        write_video(out / "videos" / f"{name}.mp4", view.frames, fps, crf=crf)
        if box_sidecars:
            np.save(out / "videos" / f"{name}.boxes.npy", view.boxes.astype(np.float32))
        if background_plates:
            imsave(out / "videos" / f"{name}.background.png", view.background, check_contrast=False)
        np.savez_compressed(out / "labels" / f"{name}.npz", **_labels(scene, view, base, k, fps))
        written.append(out / "labels" / f"{name}.npz")
        entry["views"].append({"view": k, "video": f"videos/{name}.mp4", "labels": f"labels/{name}.npz",
                               "K": view.camera.K.tolist(), "R": view.camera.R.tolist(),
                               "t": view.camera.t.tolist()})
    return entry, written


def generate_dataset(out_dir: str | Path, *, videos: int = 8, frames: int = 64, size: int = 128,
                     seed: int = 0, views: int = 1, fps: float = 25.0,
                     subjects: Sequence[int] | None = None, progress: bool = True,
                     motions: Sequence[str] | None = None, supersample: int = 2, crf: int = 18,
                     box_sidecars: bool = True, background_plates: bool = True, workers: int = 1) -> list[Path]:
    """Render a synthetic dataset (layout in the module docstring).

    Scene i uses subject ``subjects[i % len(subjects)]`` and a motion from a seeded shuffle of
    ``motions`` (cycled, so every motion appears before any repeats); everything else (motion
    details, cameras, background) comes from a generator seeded with (seed, i), so the same
    seed gives identical labels and each scene can be regenerated on its own.

    Args:
        out_dir: output folder (created; existing files with the same names are replaced).
        videos: number of scenes. frames: F per video. size: S, even, square frames.
        seed: dataset seed. views: V cameras per scene. fps: frames per second.
        subjects: subject ids (default ``DEFAULT_SUBJECTS``); use disjoint lists for train and
            held-out sets. motions: action names (default: all of ``synth.motion.ACTIONS``).
        progress: show a progress bar. supersample: anti-aliasing rays per pixel per axis.
        crf: H.264 quality (lower is better).
        box_sidecars: also write ``videos/<name>.boxes.npy``, the rendered person's box per frame
            (what a person detector would give); the frame-pair dataset picks it up as a box
            sidecar. Without it, boxes come from the median-background foreground, which misses
            a person who stands still for most of a clip.
        background_plates: also write ``videos/<name>.background.png``, the empty scene (what a
            static camera records before the person walks in); training uses it instead of the
            median background, which keeps a ghost of a person who stays in place.
        workers: processes that render scenes in parallel (one torch thread each); the files are
            identical to those of ``workers=1``.
    Returns:
        the written label paths, scene-major then view.
    """
    subjects = list(DEFAULT_SUBJECTS if subjects is None else subjects)
    motions = list(ACTIONS if motions is None else motions)
    _check(videos, frames, size, views, fps, subjects, motions)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    order = [str(m) for m in np.random.default_rng([seed]).permutation(motions)]
    jobs = [dict(out=out, index=i, subject=int(subjects[i % len(subjects)]), motion=order[i % len(order)],
                 frames=frames, fps=fps, size=size, seed=seed, views=views, supersample=supersample, crf=crf,
                 box_sidecars=box_sidecars, background_plates=background_plates) for i in range(videos)]
    done = list(_progress(map_in_processes(_scene_job, jobs, workers), len(jobs), progress))
    scenes_index = [entry for entry, _ in done]
    written = [path for _, paths in done for path in paths]
    meta = {"format": "posesynth-synthetic/1", "fps": fps, "size": size, "frames": frames, "seed": seed,
            "views": views, "joint_names": list(skeleton.JOINT_NAMES), "scenes": scenes_index}
    (out / "scenes.json").write_text(json.dumps(meta, indent=1))
    return written


def load_labels(path: str | Path) -> dict[str, np.ndarray]:
    """Read one label file written by :func:`generate_dataset` (keys in the module docstring).

    Raises:
        ValueError: if the file lacks the core keys (joints3d, joints2d, K, R, t, fps).
    """
    with np.load(path, allow_pickle=False) as data:
        labels = {key: data[key] for key in data.files}
    missing = [k for k in REQUIRED_KEYS if k not in labels]
    if missing:
        raise ValueError(f"{path} is not a posesynth label file: missing {missing}")
    return labels


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``posesynth synth``."""
    parser.add_argument("--out", required=True, help="output folder (videos/, labels/, scenes.json)")
    parser.add_argument("--videos", type=int, default=8, help="number of scenes (default 8)")
    parser.add_argument("--frames", type=int, default=64, help="frames per video (default 64)")
    parser.add_argument("--size", type=int, default=128, help="square frame size in pixels, even (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--views", type=int, default=1, help="calibrated cameras per scene (default 1)")
    parser.add_argument("--fps", type=float, default=25.0, help="frames per second (default 25)")
    parser.add_argument("--subjects", type=int, nargs="+", default=None,
                        help=f"subject ids, cycled over scenes (default {' '.join(map(str, DEFAULT_SUBJECTS))})")
    parser.add_argument("--motions", nargs="+", default=None, choices=sorted(ACTIONS),
                        help="motions to draw from (default: all)")
    parser.add_argument("--no-background-plates", action="store_true",
                        help="do not write videos/<name>.background.png (backgrounds then come from the median)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes that render scenes in parallel (default 1; the same files)")
    parser.add_argument("--no-box-sidecars", action="store_true",
                        help="do not write videos/<name>.boxes.npy (person boxes then come from the foreground)")


def run_synth(args: argparse.Namespace) -> int:
    """Run ``posesynth synth``; errors go to the command's error boundary (``posesynth.cli.main``)."""
    written = generate_dataset(args.out, videos=args.videos, frames=args.frames, size=args.size,
                               seed=args.seed, views=args.views, fps=args.fps, subjects=args.subjects,
                               motions=getattr(args, "motions", None), progress=True,
                               box_sidecars=not getattr(args, "no_box_sidecars", False),
                               background_plates=not getattr(args, "no_background_plates", False),
                               workers=getattr(args, "workers", 1))
    out = Path(args.out)
    print(f"wrote {len(written)} videos ({args.videos} scenes x {args.views} views, {args.frames} frames, "
          f"{args.size}x{args.size}) to {out / 'videos'}; labels in {out / 'labels'}; index {out / 'scenes.json'}")
    return 0
