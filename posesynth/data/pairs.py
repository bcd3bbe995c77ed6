"""Training tuples (source, target, background) from unlabeled videos.

Each item is two frames of one video between ``min_gap`` and ``max_gap`` frames apart, each
cropped around the person and resized to ``size``, plus the static background cropped like the
target (Kundu et al. 2020's I_s, I_t, B_t). Frames come from a ``posesynth prepare`` cache
(fast: memory-mapped uint8 crops) or straight from the videos (no preparation; each read is a
keyframe seek, never a decode from the start). Both paths share the crop pipeline, so the same
seed gives the same pairs and nearly the same pixels (the two decoders' colour conversions
differ by a level or two).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from torch.utils.data import Dataset

from posesynth.data.cache import FrameCache, crop_settings
from posesynth.data.crops import (crop_and_resize, crop_matrix, crop_rotations, foreground_box, foreground_frames,
    initial_boxes)
from posesynth.data.depth_labels import depth_labels
from posesynth.data.keypoints2d import find_keypoints, read_keypoints
from posesynth.data.labels3d import find_labels, label_index, labelled_subset, read_labels3d
from posesynth.video.backgrounds import SegmentBackgrounds, find_plate, read_plate
from posesynth.video.boxes import person_boxes
from posesynth.video.index import NoUsableVideosError, index_videos
from posesynth.video.readers import FrameReader, open_video

log = logging.getLogger(__name__)

_INHERITED_FROM_PARENT: list = []  # see FramePairDataset._open


def pair_counts(frames: np.ndarray, min_gap: int, max_gap: int) -> np.ndarray:
    """Ordered (target, source) pairs per video with ``min_gap ≤ |target − source| ≤ max_gap``.

    Args:
        frames: (V,) frame counts.
    Returns:
        (V,) int64 counts: Σ_g 2·(F − g) over the gaps that fit in the clip.
    """
    counts = []
    for f in np.asarray(frames, np.int64):
        gaps = np.arange(min_gap, min(max_gap, f - 1) + 1)
        counts.append(int(2 * (f - gaps).sum()))
    return np.asarray(counts, np.int64)


def sample_pair(rng: np.random.Generator, frames: np.ndarray, weights: np.ndarray, min_gap: int,
                max_gap: int) -> tuple[int, int, int]:
    """Draw a pair uniformly over all valid ordered pairs of all videos.

    Args:
        frames: (V,) frame counts; weights: (V,) probabilities ∝ :func:`pair_counts`.
    Returns:
        (video, target frame, source frame).
    """
    video = int(rng.choice(len(frames), p=weights))
    f = int(frames[video])
    gaps = np.arange(min_gap, min(max_gap, f - 1) + 1)
    gap = int(rng.choice(gaps, p=(f - gaps) / (f - gaps).sum()))  # a gap g fits F − g times
    first = int(rng.integers(0, f - gap))
    if rng.random() < 0.5:
        return video, first, first + gap
    return video, first + gap, first


class _OpenVideo:
    """A worker's open reader of one raw video and its lazily computed segment backgrounds."""

    def __init__(self, path: Path, frames: int, window: int, samples: int):
        self.reader: FrameReader = open_video(path)
        plate_path = find_plate(path)
        plate = read_plate(plate_path, self.reader.width, self.reader.height) if plate_path else None
        self.backgrounds = SegmentBackgrounds(self.reader, frames, window=window, samples=samples, plate=plate)


class FramePairDataset(Dataset):
    """(source, target, background) person crops from a folder of videos or a prepared cache.

    Args:
        videos: a folder of videos (searched recursively) or one video; bad files are skipped
            and logged as a warning. Exactly one of ``videos`` and ``cache``.
        cache: a folder written by ``posesynth prepare`` (its crop settings are used; ``size``
            must match).
        size: crop side S in pixels.
        min_gap, max_gap: frame distance bounds of a pair (1 ≤ min_gap ≤ max_gap); clips with
            at most ``min_gap`` frames are skipped.
        background_window, background_samples: frames per background segment, and frames
            sampled per median (see :mod:`posesynth.video.backgrounds`).
        pairs_per_epoch: ``len(dataset)``; default the total number of frames.
        seed: item i is a pure function of (seed, i).
        margin: crop side over the person box's longer side.
        box_source: "auto" (sidecar if present, else foreground), "foreground", "sidecar", "center".
        smooth_radius: boxes are a temporal median over frames i ± smooth_radius.
        threshold: foreground threshold on the 0–255 colour difference.
        max_open_videos: raw videos kept open per worker (each holds a decoder and backgrounds).
        labels3d: optional folder of per-video 3D label files (:mod:`posesynth.data.labels3d`);
            items then carry ``target_pose3d``/``source_pose3d`` and their ``*_valid`` flags.
        labels_fraction: share of all training frames whose label may be used (semi-supervised
            settings such as 1 % or 5 %); a fixed draw from ``seed``.
        keypoints2d: load 2D keypoint sidecars (:mod:`posesynth.data.keypoints2d`): True looks
            beside each video, a folder looks there first; items then carry ``*_keypoints``.
        relative_depth: with keypoints, also make WSP depth-order labels of each frame
            (:func:`posesynth.data.depth_labels.depth_labels`).
    Raises:
        NoUsableVideosError when no video is usable; CacheError for a folder that is not a cache;
        SidecarError for a malformed sidecar.
    """

    def __init__(self, videos: str | os.PathLike | None = None, cache: str | os.PathLike | None = None, *,
                 size: int = 64, min_gap: int = 5, max_gap: int = 50, background_window: int = 200,
                 background_samples: int = 20, pairs_per_epoch: int | None = None, seed: int = 0,
                 margin: float = 1.25, box_source: str = "auto", smooth_radius: int = 2, threshold: float = 25.0,
                 max_open_videos: int = 8, labels3d: str | os.PathLike | None = None, labels_fraction: float = 1.0,
                 keypoints2d: bool | str | os.PathLike = False, relative_depth: bool = False):
        if (videos is None) == (cache is None):
            raise ValueError("pass exactly one of videos= (a folder of videos) and cache= (a prepared cache)")
        if not 1 <= min_gap <= max_gap:
            raise ValueError(f"need 1 ≤ min_gap ≤ max_gap, got min_gap={min_gap}, max_gap={max_gap}")
        self.min_gap, self.max_gap, self.seed, self.max_open_videos = min_gap, max_gap, seed, max_open_videos
        self.settings = crop_settings(size=size, margin=margin, box_source=box_source,
                                      background_window=background_window, background_samples=background_samples,
                                      smooth_radius=smooth_radius, threshold=threshold)
        self.cache: FrameCache | None = None
        if cache is not None:
            self.cache = FrameCache(cache)
            self._check_cache_settings()
            self.videos = [dict(v, path=v["source"], cache_index=i) for i, v in enumerate(self.cache.videos)
                           if v["frames"] > min_gap]
            short = [v["source"] for v in self.cache.videos if v["frames"] <= min_gap]
            if short:
                log.warning("skipped %d cached video(s) with at most min_gap=%d frames: %s", len(short), min_gap,
                            ", ".join(short))
            if not self.videos:
                raise NoUsableVideosError(f"{cache}: no cached video has more than min_gap={min_gap} frames")
        else:
            index = index_videos(videos, min_frames=min_gap + 1)
            self.skipped = index.skipped
            self.videos = [v.to_json() for v in index.videos]
            # sidecars are read (and checked) now, so a malformed one fails here, not in a worker
            self._box_modes, self._tight, self._known = [], [], []
            folder = None if isinstance(keypoints2d, bool) else keypoints2d  # keypoint boxes come from there too
            for v in self.videos:
                mode, tight = initial_boxes(v["path"], v["frames"], box_source, folder)
                self._box_modes.append(mode)
                self._tight.append(tight)
                self._known.append(~foreground_frames(mode, tight))
        self.frames = np.array([v["frames"] for v in self.videos], np.int64)
        self.labels = self._load_labels(labels3d, labels_fraction) if labels3d is not None else None
        self.keypoints = self._load_keypoints(None if keypoints2d is True else keypoints2d) if keypoints2d else None
        if relative_depth and self.keypoints is None:
            raise ValueError("relative depth labels are made from 2D keypoints: set data.keypoints2d or put "
                             "<video stem>.keypoints.{npz,json} files beside the videos")
        self.relative_depth = relative_depth
        counts = pair_counts(self.frames, min_gap, max_gap)
        self.weights = counts / counts.sum()
        self.length = int(pairs_per_epoch) if pairs_per_epoch is not None else int(self.frames.sum())
        self._opened: OrderedDict[int, _OpenVideo] = OrderedDict()
        self._pid = os.getpid()

    def _load_labels(self, folder: str | os.PathLike, fraction: float) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Per video: (F, 17, 3) labels in metres (NaN where unlabelled or held back) and K or None."""
        index = label_index(folder)
        masks = labelled_subset(self.frames, fraction, self.seed)
        labels, unlabelled = [], []
        for video, mask in zip(self.videos, masks):
            path = find_labels(video["path"], index)
            joints = np.full((video["frames"], 17, 3), np.nan, np.float32)
            K = None
            if path is None:
                unlabelled.append(str(video["path"]))
            else:
                joints, K = read_labels3d(path, video["frames"])
                joints[~mask] = np.nan
            labels.append((joints, K))
        if unlabelled:
            log.warning("%d of %d videos have no label file in %s (they train without 3D labels): %s",
                        len(unlabelled), len(self.videos), folder, ", ".join(unlabelled))
        usable = sum(int(np.isfinite(j[:, 0, 0]).sum()) for j, _ in labels)
        log.info("3D labels: %d of %d frames (data.labels_fraction=%g)", usable, int(self.frames.sum()), fraction)
        return labels

    def _load_keypoints(self, folder: str | os.PathLike | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per video: (F, 17, 2) keypoints in the video's pixels and (F, 17) scores (0 without a file)."""
        keypoints, without = [], []
        for video in self.videos:
            path = find_keypoints(video["path"], folder)
            if path is None:
                without.append(str(video["path"]))
                keypoints.append((np.zeros((video["frames"], 17, 2), np.float32),
                                  np.zeros((video["frames"], 17), np.float32)))
                continue
            found = read_keypoints(path, frames=video["frames"])
            keypoints.append((found.keypoints.astype(np.float32), found.scores.astype(np.float32)))
        if without:
            log.warning("%d of %d videos have no 2D keypoint file (%s); their keypoint losses are off: %s",
                        len(without), len(self.videos), folder or "beside the videos", ", ".join(without))
        return keypoints

    def _keypoints(self, video: int, frame: int, matrix: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame ``frame``'s keypoints mapped into the crop: (17, 2) crop pixels, (17,) scores."""
        assert self.keypoints is not None
        points, scores = self.keypoints[video]
        crop = points[frame].astype(np.float64) @ matrix[:2, :2].T + matrix[:2, 2]
        return torch.as_tensor(crop, dtype=torch.float32), torch.as_tensor(scores[frame], dtype=torch.float32)

    def _pose_label(self, video: int, frame: int, box: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame ``frame``'s label, root-relative, in the crop camera's frame; and whether it exists.

        Returns:
            (17, 3) float32 metres (zeros when unlabelled) and a float32 scalar 1/0.
        """
        assert self.labels is not None
        joints, K = self.labels[video]
        pose = torch.from_numpy(joints[frame].astype(np.float64))
        if not torch.isfinite(pose).all():
            return torch.zeros(17, 3), torch.tensor(0.0)
        pose = pose - pose[:1]
        if K is not None:  # the model sees the person through a camera turned towards the crop centre
            pose = pose @ torch.from_numpy(crop_rotations(K, np.asarray(box, np.float64)[None])[0]).T
        return pose.float(), torch.tensor(1.0)

    def _check_cache_settings(self) -> None:
        """The cache's crops win; a different size is an error, other differences a warning."""
        assert self.cache is not None
        ours, theirs = self.settings, self.cache.settings
        if ours["size"] != theirs["size"]:
            raise ValueError(f"{self.cache.root} holds {theirs['size']}px crops but size={ours['size']} was asked; "
                             f"re-run `posesynth prepare ... --size {ours['size']}` or use size={theirs['size']}")
        differ = [k for k in ours if k != "size" and ours[k] != theirs.get(k)]
        if differ:
            log.warning("%s was prepared with %s; using the cache's values", self.cache.root,
                        ", ".join(f"{k}={theirs.get(k)!r} (asked {ours[k]!r})" for k in differ))
        self.settings = dict(theirs)

    def __len__(self) -> int:
        return self.length

    def pair(self, i: int) -> tuple[int, int, int]:
        """Item ``i``'s (video, target frame, source frame): a pure function of (seed, i)."""
        if not 0 <= i < self.length:
            raise IndexError(f"item {i} out of range [0, {self.length})")
        rng = np.random.default_rng((self.seed, i))
        return sample_pair(rng, self.frames, self.weights, self.min_gap, self.max_gap)

    def __getitem__(self, i: int) -> dict:
        return self.load_pair(*self.pair(int(i)))

    def load_pair(self, video: int, target: int, source: int) -> dict:
        """The training tuple of frames ``target`` and ``source`` of video ``video``.

        Returns:
            ``source``, ``target``, ``background``: (3, S, S) float32 RGB in [0, 1] (the
            background cropped like the target); ``video``, ``target_index``, ``source_index``:
            int; ``box``, ``source_box``: (4,) float32 square crop boxes x0, y0, x1, y1 in the
            video's pixels; ``crop_matrix``, ``source_crop_matrix``: (3, 3) float32 A with
            ``K_crop = A @ K`` (see :func:`posesynth.data.crops.crop_matrix`).
        """
        if self.cache is not None:
            frames, backgrounds, boxes = self.cache.arrays(self.videos[video]["cache_index"])
            crops = {"target": frames[target], "source": frames[source], "background": backgrounds[target]}
            box_t, box_s = boxes[target], boxes[source]
        else:
            crops, box_t, box_s = self._read_raw(video, target, source)
        size = self.settings["size"]
        item = {k: rearrange(torch.from_numpy(np.array(v)), "h w c -> c h w").float() / 255
                for k, v in crops.items()}
        item.update(video=video, target_index=target, source_index=source,
                    box=torch.as_tensor(box_t, dtype=torch.float32),
                    source_box=torch.as_tensor(box_s, dtype=torch.float32),
                    crop_matrix=torch.as_tensor(crop_matrix(box_t, size), dtype=torch.float32),
                    source_crop_matrix=torch.as_tensor(crop_matrix(box_s, size), dtype=torch.float32))
        if self.keypoints is not None:
            item["target_keypoints"], item["target_keypoint_scores"] = self._keypoints(
                video, target, crop_matrix(box_t, size))
            item["source_keypoints"], item["source_keypoint_scores"] = self._keypoints(
                video, source, crop_matrix(box_s, size))
            if self.relative_depth:
                for frame in ("target", "source"):
                    labels = depth_labels(item[f"{frame}_keypoints"][None], item[f"{frame}_keypoint_scores"][None])
                    item[f"{frame}_depth_relation"] = torch.as_tensor(labels.relation[0], dtype=torch.float32)
                    item[f"{frame}_depth_confidence"] = torch.as_tensor(labels.confidence[0], dtype=torch.float32)
        if self.labels is not None:
            item["target_pose3d"], item["target_pose3d_valid"] = self._pose_label(video, target, box_t)
            item["source_pose3d"], item["source_pose3d_valid"] = self._pose_label(video, source, box_s)
        return item

    # --- raw videos ---------------------------------------------------------------------------

    def _open(self, video: int) -> _OpenVideo:
        """This worker's reader of ``video`` (opened on first use, least recently used closed)."""
        if os.getpid() != self._pid:
            # A forked worker must not use its parent's decoders, nor destroy them: decord's
            # destructor joins threads that do not exist after a fork and aborts the worker. So
            # they are parked (never freed; workers leave with os._exit) and this worker opens its own.
            _INHERITED_FROM_PARENT.append(self._opened)
            self._opened, self._pid = OrderedDict(), os.getpid()
        if video not in self._opened:
            info = self.videos[video]
            self._opened[video] = _OpenVideo(Path(info["path"]), info["frames"], self.settings["background_window"],
                                             self.settings["background_samples"])
            while len(self._opened) > self.max_open_videos:
                self._opened.popitem(last=False)[1].reader.close()
        self._opened.move_to_end(video)
        return self._opened[video]

    def _read_raw(self, video: int, target: int, source: int) -> tuple[dict, np.ndarray, np.ndarray]:
        """Decode what a pair needs: the two frames, plus neighbours whose boxes are not yet known.

        A crop box is a median over the tight boxes of frames i ± smooth_radius; foreground boxes
        are remembered per worker, so after warm-up mostly just the two frames are decoded.
        """
        opened, radius, frames = self._open(video), self.settings["smooth_radius"], int(self.frames[video])
        tight, known = self._tight[video], self._known[video]
        windows = {j for i in (target, source) for j in range(max(0, i - radius), min(frames, i + radius + 1))}
        need = sorted({target, source} | {j for j in windows if not known[j]})
        pixels = dict(zip(need, opened.reader.get(need)))
        for j in need:
            if not known[j]:
                found = foreground_box(pixels[j], opened.backgrounds(j), threshold=self.settings["threshold"])
                tight[j], known[j] = (np.nan if found is None else found), True
        size, boxes = self.settings["size"], {}
        for i in (target, source):
            lo, hi = max(0, i - radius), min(frames, i + radius + 1)
            height, width = pixels[i].shape[:2]
            boxes[i] = person_boxes(tight[lo:hi], width, height, margin=self.settings["margin"], radius=radius)[i - lo]
        crops = {"target": crop_and_resize(pixels[target], boxes[target], size),
                 "source": crop_and_resize(pixels[source], boxes[source], size),
                 "background": crop_and_resize(opened.backgrounds(target), boxes[target], size)}
        return crops, boxes[target], boxes[source]

    def __getstate__(self) -> dict:
        # open decoders cannot cross process boundaries: each worker opens its own
        return {**self.__dict__, "_opened": OrderedDict()}


__all__ = ["FramePairDataset", "pair_counts", "sample_pair"]
