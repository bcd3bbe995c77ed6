"""``posesynth prepare``: decode each video once into the frame cache (:mod:`posesynth.data.cache`).

Each entry is written under a temporary name and renamed into place only when complete, so an
interrupted run never leaves a half-written entry that looks done; a re-run reuses entries whose
source file and settings are unchanged and deletes leftovers of killed runs. The layout is in
:mod:`posesynth.data.cache` and docs/data.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from collections import deque
from pathlib import Path
from typing import Callable

import numpy as np

from posesynth.data.cache import KEYPOINTS_FOLDER, crop_settings, entry_name, entry_problem
from posesynth.data.crops import (BOX_SOURCES, crop_and_resize, find_sidecar, foreground_box, foreground_frames,
    initial_boxes)
from posesynth.data.keypoints2d import find_keypoints
from posesynth.parallel import map_in_processes
from posesynth.video.backgrounds import SegmentBackgrounds, find_plate, read_plate
from posesynth.video.boxes import person_boxes
from posesynth.video.index import (SkippedVideo, VideoIndex, VideoInfo, add_clip_length_arguments, clip_min_frames,
    index_videos)
from posesynth.video.readers import VideoError, iter_frames, open_video

log = logging.getLogger(__name__)

_TEMP_PREFIXES = (".tmp-", ".old-")


def _source_stamp(path: Path, keypoints: Path | None = None) -> dict:
    """What identifies a source's content cheaply: size and mtime of the video and its box source file."""
    stamp = {"bytes": path.stat().st_size, "mtime_ns": path.stat().st_mtime_ns}
    sidecar = find_sidecar(path, keypoints)
    if sidecar is not None:
        stamp["sidecar"] = {"name": sidecar.name, "mtime_ns": sidecar.stat().st_mtime_ns}
    plate = find_plate(path)
    if plate is not None:
        stamp["plate"] = {"name": plate.name, "mtime_ns": plate.stat().st_mtime_ns}
    return stamp


# --- writing --------------------------------------------------------------------------------

def cache_video(info: VideoInfo, entry: Path, settings: dict, on_frame: Callable[[], None] | None = None,
                keypoints: Path | None = None) -> dict:
    """Decode one video once and write its cache entry atomically.

    Frames are decoded sequentially; a frame is cropped once the tight boxes of the
    ``smooth_radius`` frames after it are known, so at most ``smooth_radius + 1`` full frames
    and two segment backgrounds are held, however long the video.

    Args:
        info: the video, as indexed.
        entry: the final entry folder (``CACHE/videos/<name>``); written as a temporary sibling
            and renamed to it when complete (replacing an outdated entry).
        settings: from :func:`crop_settings`.
        on_frame: called after each decoded frame (progress bars).
        keypoints: a folder of keypoint files whose boxes come before the foreground (or None).
    Returns:
        The entry's meta dict (also written as ``meta.json``).
    Raises:
        VideoError (undecodable stream), SidecarError (malformed sidecar), OSError.
    """
    start = time.perf_counter()
    size, radius = settings["size"], settings["smooth_radius"]
    mode, tight = initial_boxes(info.path, info.frames, settings["box_source"], keypoints)
    from_foreground = foreground_frames(mode, tight)
    temp = entry.parent / f".tmp-{entry.name}-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    try:
        reader = open_video(info.path)
        try:
            plate_path = find_plate(info.path)
            plate = read_plate(plate_path, info.width, info.height) if plate_path else None
            backgrounds = SegmentBackgrounds(reader, info.frames, window=settings["background_window"],
                                             samples=settings["background_samples"], plate=plate)
            shape = (info.frames, size, size, 3)
            frames_out = np.lib.format.open_memmap(temp / "frames.npy", "w+", np.uint8, shape)
            backgrounds_out = np.lib.format.open_memmap(temp / "backgrounds.npy", "w+", np.uint8, shape)
            boxes = np.zeros((info.frames, 4), np.int64)

            def finish(j: int, frame: np.ndarray, known: int) -> None:
                # the box of frame j is a median over tight boxes j ± radius: all known by now
                lo, hi = max(0, j - radius), min(known, j + radius + 1)
                box = person_boxes(tight[lo:hi], frame.shape[1], frame.shape[0], margin=settings["margin"],
                                   radius=radius)[j - lo]
                frames_out[j] = crop_and_resize(frame, box, size)
                backgrounds_out[j] = crop_and_resize(backgrounds(j), box, size)
                boxes[j] = box

            pending: deque[tuple[int, np.ndarray]] = deque()
            decoded = people = 0
            for i, frame in iter_frames(info.path):
                if i >= info.frames:  # the container announced fewer frames than it holds
                    break
                if from_foreground[i]:
                    found = foreground_box(frame, backgrounds(i), threshold=settings["threshold"])
                    tight[i] = np.nan if found is None else found
                    people += found is not None
                pending.append((i, frame))
                while pending[0][0] + radius <= i:
                    finish(*pending.popleft(), known=info.frames)
                decoded = i + 1
                if on_frame is not None:
                    on_frame()
            if decoded == 0:
                raise VideoError(f"{info.path}: no frame could be decoded")
            while pending:
                finish(*pending.popleft(), known=decoded)
            frames_out.flush()
            backgrounds_out.flush()
            del frames_out, backgrounds_out
        finally:
            reader.close()
        np.save(temp / "boxes.npy", boxes[:decoded])
        meta = {"source": str(info.path), "frames": decoded, "fps": info.fps, "width": info.width,
                "height": info.height, "box_source": mode, "settings": settings,
                "stamp": _source_stamp(info.path, keypoints), "seconds": round(time.perf_counter() - start, 3)}
        if decoded < info.frames:
            log.warning("%s: decoded %d of the %d frames the index found; caching %d", info.path, decoded,
                        info.frames, decoded)
        if mode == "foreground" and people == 0:
            warn_no_person(info.path)
        # meta.json last: an entry folder with meta.json is complete by construction
        (temp / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
        _replace_dir(temp, entry)
        return meta
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _replace_dir(new: Path, target: Path) -> None:
    """Move folder ``new`` to ``target``, replacing an existing one with two renames."""
    old = target.parent / f".old-{target.name}-{os.getpid()}"
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, data: dict) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    temp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    temp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    temp.replace(path)


def warn_no_person(video: Path) -> None:
    """Say that no frame of ``video`` showed a person against its background (crops are the full frame)."""
    log.warning("%s: no person found in any frame (nothing differs from the median background): the crops are "
                "the whole frame; give a box or keypoint sidecar (docs/data.md) or drop the clip", video)


def _reusable(entry: Path, info: VideoInfo, settings: dict, keypoints: Path | None = None) -> dict | None:
    """The meta of a complete, intact entry made from the same file with the same settings, else None."""
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("settings") != settings or meta.get("stamp") != _source_stamp(info.path, keypoints):
        return None
    problem = entry_problem(entry, int(meta.get("frames", 0)), settings["size"])
    if problem is not None:
        log.warning("rebuilding the cache entry of %s: %s", info.path, problem)
        return None
    return meta


def _relative(info: VideoInfo, index: VideoIndex) -> str:
    return info.path.relative_to(index.root).as_posix() if index.root.is_dir() else info.path.name


def _cache_job(job: tuple, on_frame: Callable[[], None] | None = None) -> tuple[dict | None, bool, str]:
    """Reuse or make one entry: (meta or None, reused, why it failed)."""
    info, entry, settings, keypoints, force = job
    meta = None if force else _reusable(entry, info, settings, keypoints)
    if meta is not None:
        return meta, True, ""
    try:
        return cache_video(info, entry, settings, on_frame=on_frame, keypoints=keypoints), False, ""
    except Exception as error:  # decoder errors come in many types; one bad file must not stop the run
        return None, False, str(error).replace(f"{info.path}: ", "")


def _updating(results, jobs: list[tuple], bar):
    """Pass ``results`` through, advancing ``bar`` by each finished video's frames."""
    for (info, *_), result in zip(jobs, results):
        bar.update(info.frames)
        yield result


def prepare_cache(index: VideoIndex, out: str | os.PathLike, settings: dict, *, progress: bool = True,
                  force: bool = False, keypoints: Path | None = None,
                  workers: int = 1) -> tuple[list[dict], VideoIndex, int]:
    """Cache every indexed video under ``out`` and write ``index.json`` and ``report.json``.

    Args:
        index: the videos to cache (from :func:`index_videos`).
        out: the cache folder (created).
        settings: from :func:`crop_settings`.
        progress: show a frame progress bar (only on a terminal, for long folders).
        force: recompute entries even when they could be reused.
        keypoints: a folder of keypoint files (``<stem>.keypoints.npz``) to take person boxes from.
        workers: processes that cache videos in parallel (one torch thread each); the entries are
            the same as with ``workers=1``.
    Returns:
        (entries of index.json, the final report's VideoIndex with videos that failed while
        caching moved to ``skipped``, number of entries reused from an earlier run).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    for leftover in (out / "videos").iterdir():  # from a killed run: never complete, never reused
        if leftover.name.startswith(_TEMP_PREFIXES):
            shutil.rmtree(leftover, ignore_errors=True)
    from tqdm.auto import tqdm

    total = sum(v.frames for v in index.videos)
    long_folder = len(index.videos) >= 8 or total >= 2000
    bar = tqdm(total=total, unit="frame", desc="caching", disable=None if (progress and long_folder) else True)
    entries, done, failed, reused = [], [], [], 0
    jobs = [(info, out / "videos" / entry_name(_relative(info, index)), settings, keypoints, force)
            for info in index.videos]
    if workers > 1:  # per-frame progress cannot cross processes: advance by whole videos
        results = list(_updating(map_in_processes(_cache_job, jobs, workers), jobs, bar))
    else:
        results = []
        for job in jobs:
            bar.set_postfix_str(_relative(job[0], index)[-40:])  # the file in hand, on long folders
            results.append(_cache_job(job, on_frame=lambda: bar.update(1)))
            if results[-1][1]:  # reused: nothing was decoded frame by frame
                bar.update(job[0].frames)
    for (info, entry, *_), (meta, was_reused, reason) in zip(jobs, results):
        if meta is None:
            failed.append(SkippedVideo(info.path, f"failed while caching: {reason}"))
            continue
        reused += was_reused
        done.append(info)
        entries.append({"name": entry.name, "source": str(info.path), "relative": _relative(info, index),
                        "frames": meta["frames"], "fps": meta["fps"], "width": meta["width"],
                        "height": meta["height"], "box_source": meta["box_source"]})
    bar.close()
    report = VideoIndex(index.root, done, index.skipped + failed)
    _write_json(out / "report.json", report.report())
    if entries:
        _write_json(out / "index.json", {"format": "posesynth-frame-cache", "settings": settings,
                                         "root": str(index.root), "videos": entries})
    return entries, report, reused


# --- command line ---------------------------------------------------------------------------

def add_prepare_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``posesynth prepare``."""
    parser.add_argument("video_dir", type=Path, help="folder of videos (searched recursively) or one video")
    parser.add_argument("--out", type=Path, required=True, help="cache folder to write (created)")
    parser.add_argument("--size", type=int, default=64, help="crop side in pixels (default 64)")
    parser.add_argument("--margin", type=float, default=1.25, help="crop side / person box's longer side (1.25)")
    parser.add_argument("--box-source", choices=BOX_SOURCES, default="auto",
                        help="person boxes: sidecar file if present else foreground (auto), or force one")
    parser.add_argument("--background-window", type=int, default=200,
                        help="frames per median-background segment (default 200)")
    parser.add_argument("--background-samples", type=int, default=20,
                        help="frames sampled per background median (default 20)")
    add_clip_length_arguments(parser)
    parser.add_argument("--force", action="store_true", help="recompute entries that could be reused")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes that decode and crop videos in parallel (default 1; the same cache)")
    parser.add_argument("--keypoints", action="store_true",
                        help=f"first detect 2D keypoints with the bundled detector (posesynth[detect]) into "
                             f"CACHE/{KEYPOINTS_FOLDER}/ for videos without a keypoint sidecar; person boxes then come "
                             f"from them, and training from this cache uses them")


def run_prepare(args: argparse.Namespace) -> int:
    """Run ``posesynth prepare``; 0 when at least one video was cached, 2 when none could be."""
    settings = crop_settings(size=args.size, margin=args.margin, box_source=args.box_source,
                             background_window=args.background_window, background_samples=args.background_samples)
    start = time.perf_counter()
    index = index_videos(args.video_dir, min_frames=clip_min_frames(args), progress=True)
    keypoints = detect_keypoints(index, args.out / KEYPOINTS_FOLDER) if args.keypoints else None
    entries, report, reused = prepare_cache(index, args.out, settings, force=args.force, keypoints=keypoints,
                                            workers=args.workers)
    print(_summary(entries, report, reused, args.out, settings, time.perf_counter() - start))
    if not entries:
        print(f"error: none of the {len(index.videos)} usable video(s) could be cached", file=sys.stderr)
        return 2
    return 0


def detect_keypoints(index: VideoIndex, folder: Path) -> Path:
    """``prepare --keypoints``: sidecars in ``folder`` for the videos without a keypoint file beside them."""
    from posesynth.detect.keypoints import detect_videos  # the optional extra: imported only when asked for

    detect_videos([v for v in index.videos if find_keypoints(v.path) is None], folder, progress=True)
    return folder


def _summary(entries: list[dict], report: VideoIndex, reused: int, out: Path, settings: dict, seconds: float,
             max_lines: int = 15) -> str:
    """A one-screen summary: totals, then (at most ``max_lines``) skipped files with reasons."""
    frames = sum(e["frames"] for e in entries)
    megabytes = 2 * frames * settings["size"] ** 2 * 3 / 1e6
    sources: dict[str, int] = {}
    for e in entries:
        kind = e["box_source"].split(":")[0]
        sources[kind] = sources.get(kind, 0) + 1
    lines = [f"cached {len(entries)} video(s), {frames} frames at {settings['size']}x{settings['size']} "
             f"({megabytes:.1f} MB) in {out} [{seconds:.1f} s, {reused} reused]",
             "  boxes: " + (", ".join(f"{n} {k}" for k, n in sorted(sources.items())) or "none"),
             f"  skipped {len(report.skipped)} file(s)" + (":" if report.skipped else "")]
    lines += [f"    {s.path}: {s.reason}" for s in report.skipped[:max_lines]]
    if len(report.skipped) > max_lines:
        lines.append(f"    ... and {len(report.skipped) - max_lines} more")
    lines.append(f"  report: {out / 'report.json'}")
    return "\n".join(lines)


__all__ = ["cache_video", "prepare_cache", "warn_no_person", "add_prepare_arguments", "run_prepare"]
