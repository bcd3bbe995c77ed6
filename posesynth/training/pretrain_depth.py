"""Depth pre-training of the pose encoder from 2D keypoints alone ("pre-train, then fine-tune", WSP).

WSP (Qiu et al. 2023) pre-trains on relative-depth labels made from 2D annotations and then
fine-tunes; here the pose branch of :class:`~posesynth.models.model.PoseSynthModel` (2.5D
encoder → back-projection through the fixed crop camera) learns from person crops with

    relative_depth_loss(depth, labels)   closer / farther / equal pairs (posesynth.data.depth_labels)
  + keypoint_loss(joints2d, keypoints)   2D reprojection, confidence-weighted, crop-size units
  + articulation_loss(pose)              knees and elbows bend the right way (off by default)
  + log(root depth / nominal)²           the root stays where the crop framing puts it

Inputs: a COCO-style annotation file plus its image folder, or videos with keypoint sidecars
(:mod:`posesynth.data.keypoints2d`). Each person is cropped around its keypoint box. The loop is
built from the parts train.py uses (:mod:`posesynth.training.loop`, :mod:`posesynth.training.checkpoints`:
Accelerate, atomic checkpoints, logs); the appearance
encoder and decoder are frozen and untouched, so ``RUN/model.pt`` loads with
:func:`posesynth.models.loading.load_model` and holds a whole model ready for fine-tuning.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import set_seed
from einops import rearrange
from skimage.color import gray2rgb
from skimage.io import imread
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from posesynth import skeleton
from posesynth.config import Config, load_config
from posesynth.data.crops import crop_and_resize, crop_matrix
from posesynth.data.depth_labels import DepthLabels, depth_labels, load_depth_labels
from posesynth.data.keypoints2d import (FACE_STAND_INS, Keypoints2D, KeypointsError, find_keypoints,
                                        load_coco_keypoints, read_keypoints)
from posesynth.data.poses3d import load_poses3d
from posesynth.losses.keypoint_reprojection import keypoint_loss
from posesynth.losses.priors import articulation_loss
from posesynth.losses.relative_depth import relative_depth_loss
from posesynth.models.model import PoseSynthModel
from posesynth.training.checkpoints import model_kwargs
from posesynth.training.inputs import canonical_poses, mean_pose
from posesynth.training.loop import lr_factor, make_accelerator, run_loop, start_run
from posesynth.training.rundir import claim_run
from posesynth.video.boxes import keypoint_boxes, square_boxes
from posesynth.video.index import NoUsableVideosError, index_videos
from posesynth.video.readers import iter_frames

log = logging.getLogger(__name__)


class KeypointCrops(Dataset):
    """Square person crops around 2D keypoints, with the keypoints in crop pixels and depth labels.

    Image files are read when an item is asked for; video frames are decoded once, sequentially,
    when the dataset is built (random access into a video costs a keyframe seek per item).

    Args:
        frames: one (image or video file, frame index or None for an image) per person.
        keypoints: their :class:`Keypoints2D` (N people, image pixels, H36M order).
        labels: their :class:`DepthLabels` (N people).
        size: crop side S, pixels. margin: crop side / the keypoint box's longer side.
    """

    def __init__(self, frames: list[tuple[Path, int | None]], keypoints: Keypoints2D, labels: DepthLabels,
                 size: int, margin: float = 1.25):
        tight = keypoint_boxes(keypoints.keypoints.astype(np.float64), keypoints.scores)
        keep = np.flatnonzero(~np.isnan(tight).any(axis=1))  # fewer than 2 confident joints: no crop
        self.frames = [frames[i] for i in keep]
        self.boxes = square_boxes(tight[keep], margin)
        self.points, self.scores = keypoints.keypoints[keep], keypoints.scores[keep].copy()
        self.scores[:, [j for j in FACE_STAND_INS if keypoints.derived[j]]] = 0  # not H36M's points
        self.relation, self.confidence = labels.relation[keep], labels.confidence[keep]
        self.size = size
        self.crops = self._decode_videos() if any(index is not None for _, index in self.frames) else None

    def __len__(self) -> int:
        return len(self.frames)

    def _decode_videos(self) -> np.ndarray:
        """(N, S, S, 3) uint8 crops of all items, each video decoded once."""
        crops = np.zeros((len(self.frames), self.size, self.size, 3), np.uint8)
        wanted: dict[Path, dict[int, list[int]]] = {}
        for item, (path, index) in enumerate(self.frames):
            wanted.setdefault(path, {}).setdefault(index, []).append(item)
        for path, items in wanted.items():
            for index, frame in iter_frames(path):
                for item in items.get(index, ()):
                    crops[item] = crop_and_resize(frame, self.boxes[item], self.size)
        return crops

    def _crop(self, i: int) -> np.ndarray:
        if self.crops is not None:
            return self.crops[i]
        image = imread(self.frames[i][0])
        image = (gray2rgb(image) if image.ndim == 2 else image[..., :3]).astype(np.uint8)
        return crop_and_resize(image, self.boxes[i], self.size)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        """``image`` (3, S, S) RGB in [0, 1]; ``keypoints`` (17, 2) crop pixels; ``keypoint_scores``
        (17,); ``relation`` (17, 17) int8 and ``depth_confidence`` (17, 17) (depth_labels' convention)."""
        box = self.boxes[i]
        crop = self._crop(i)
        A = crop_matrix(box, self.size)
        points = self.points[i].astype(np.float64) @ A[:2, :2].T + A[:2, 2]
        return {"image": rearrange(torch.from_numpy(crop), "h w c -> c h w").float() / 255,
                "keypoints": torch.as_tensor(points, dtype=torch.float32),
                "keypoint_scores": torch.as_tensor(self.scores[i]),
                "relation": torch.as_tensor(self.relation[i]),
                "depth_confidence": torch.as_tensor(self.confidence[i], dtype=torch.float32)}


def coco_crops(annotations: str | os.PathLike, images: str | os.PathLike, size: int, margin: float = 1.25,
               labels: str | os.PathLike | None = None, layout: str | None = None) -> KeypointCrops:
    """People of a COCO-style annotation file, labels computed here or read from ``labels``
    (a ``posesynth depth-labels`` file of the same annotations).

    Raises:
        KeypointsError naming the file: malformed annotations, a missing image, labels that do
        not belong to these annotations.
    """
    people = load_coco_keypoints(annotations, layout=layout)
    folder = Path(images)
    missing = sorted({name for name in people.images if not (folder / name).is_file()})
    if missing:
        raise KeypointsError(f"{annotations}: {len(missing)} image(s) are not in {folder}, e.g. {missing[0]}; "
                             f"pass the folder that holds them with --images")
    kp = people.keypoints
    if labels is None:
        made = depth_labels(kp.keypoints, kp.scores, kp.derived)
    else:
        made, extra = load_depth_labels(labels)
        if not np.array_equal(extra.get("annotation_ids", np.array([])), people.annotation_ids):
            raise KeypointsError(f"{labels}: its annotation ids do not match {annotations}; "
                                 f"re-make it with `posesynth depth-labels {annotations} --out {labels}`")
    return KeypointCrops([(folder / name, None) for name in people.images], kp, made, size, margin)


def video_crops(videos: str | os.PathLike, size: int, margin: float = 1.25, keypoints: str | os.PathLike | None = None,
                layout: str | None = None, frame_step: int = 1) -> KeypointCrops:
    """Every ``frame_step``-th frame of the videos under ``videos`` that have a keypoint sidecar.

    Raises:
        NoUsableVideosError when no video has one; KeypointsError for a malformed sidecar.
    """
    frames, points, scores, derived = [], [], [], None
    index = index_videos(videos)
    for video in index.videos:
        sidecar = find_keypoints(video.path, keypoints)
        if sidecar is None:
            log.warning("%s: no keypoint sidecar (<name>.keypoints.npz / .json); skipped", video.path)
            continue
        kp = read_keypoints(sidecar, frames=video.frames, layout=layout)
        chosen = np.arange(0, video.frames, frame_step)
        frames += [(video.path, int(i)) for i in chosen]
        points.append(kp.keypoints[chosen])
        scores.append(kp.scores[chosen])
        derived = kp.derived
    if not frames:
        raise NoUsableVideosError(f"{videos}: no video has a keypoint sidecar; put <name>.keypoints.npz or "
                                  f"<name>.keypoints.json beside each video (or in the --keypoints folder)")
    kp = Keypoints2D(np.concatenate(points), np.concatenate(scores), derived)
    return KeypointCrops(frames, kp, depth_labels(kp.keypoints, kp.scores, kp.derived), size, margin)


WEIGHTS_FILE = "weights.json"  # RUN/weights.json: the loss weights a run was started with
ROOT_DEPTH_WEIGHT = 1.0  # log-ratio² of the root depth to the nominal one: ≫ the articulation pull


class _PoseBranch(nn.Module):
    """The model's pose branch as a module whose forward is ``encode_pose`` (what DDP wraps)."""

    def __init__(self, model: PoseSynthModel):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model.encode_pose(image)


def pretrain(config: Config, dataset: KeypointCrops, out: str | os.PathLike, *, depth_weight: float = 0.1,
             keypoint_weight: float = 100.0, articulation_weight: float = 0.0, depth_scale: float = 0.1,
             progress: bool = True,
             resume: bool = False, stop_after: int | None = None) -> Path:
    """Pre-train the pose encoder; returns the run directory (config.yaml, log.jsonl, tb/,
    checkpoints/, model.pt).

    Args:
        config: model sizes (``model.*``), optimisation (``train.*``: steps, batch_size,
            grad_accum, lr, weight_decay, warmup_steps, grad_clip, mixed_precision, log_every,
            checkpoint_every, keep_checkpoints, seed) and, optionally, ``data.poses3d`` (the
            encoder's heatmap prior then starts at their mean pose, as in training).
        dataset: the crops (their size must be ``model.image_size``).
        depth_weight, keypoint_weight: weights of the relative-depth and 2D keypoint terms. The
            2D term must dominate, or the 2D joints do not learn: at 1 : 1 the encoder stays near
            its start (2D error above the best constant pose's, docs/weak_signals.md).
        articulation_weight: weight of the articulation limits. Off by default: on the learning
            benchmark's 800 people it cost the side (0.2–0.5 px of 2D error) and the lifted 3D
            (0.93–0.95× the mean pose with it, 0.89–0.90× without; docs/weak_signals.md). Training
            (``loss.articulation``) keeps its own weight.
        depth_scale: metres per unit depth difference in :func:`relative_depth_loss`.
        resume: continue from ``out``'s latest checkpoint (encoder, optimiser, schedule, step,
            RNG, data position), exactly as ``posesynth train --resume``.
        stop_after: stop (with a checkpoint) after this many steps in total, to test resuming.
    """
    run, m, t = Path(out), config.model, config.train
    if dataset.size != m.image_size:
        raise ValueError(f"crops are {dataset.size}px but model.image_size={m.image_size}")
    accelerator = make_accelerator(t.mixed_precision, t.grad_accum, t.compile)
    set_seed(t.seed)

    # --- build: only the pose encoder trains; the synthesis branches stay as initialised
    model = PoseSynthModel(**model_kwargs(config))
    if config.data.poses3d:
        poses = torch.as_tensor(load_poses3d(config.data.poses3d, frame_step=config.data.poses3d_frame_step,
                                             trust_pickle=config.data.trust_pickle))
        model.start_from_pose(mean_pose(canonical_poses(poses.float())))
    else:
        model.start_from_pose(skeleton.canonical_tpose())
    model.appearance_encoder.requires_grad_(False)
    model.decoder.requires_grad_(False)
    branch = _PoseBranch(model)
    samples = t.steps * t.grad_accum * t.batch_size * accelerator.num_processes
    sampler = RandomSampler(dataset, replacement=True, num_samples=samples,
                            generator=torch.Generator().manual_seed(t.seed))
    loader = DataLoader(dataset, batch_size=t.batch_size, sampler=sampler, num_workers=config.data.num_workers,
                        drop_last=True, persistent_workers=config.data.num_workers > 0)
    optimizer = torch.optim.AdamW(model.pose_encoder.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, t.warmup_steps, t.steps))

    # --- prepare
    branch, optimizer, loader = accelerator.prepare(branch, optimizer, loader)
    accelerator.register_for_checkpointing(scheduler)
    step, loader = start_run(accelerator, run, config, loader, resume=resume, grad_accum=t.grad_accum)
    size = float(m.image_size)
    end = t.steps if stop_after is None else min(t.steps, stop_after)
    weights = {"depth": depth_weight, "keypoints": keypoint_weight, "articulation": articulation_weight,
               "root_depth": ROOT_DEPTH_WEIGHT}
    if accelerator.is_main_process:  # what --resume must be given again (run_pretrain checks it)
        (run / WEIGHTS_FILE).write_text(json.dumps(weights, indent=1), encoding="utf-8")

    # --- the step: what this loop supplies to the shared skeleton
    def compute(batch: dict, step: int, micro: int) -> dict[str, torch.Tensor]:
        outputs = branch(batch["image"])
        terms = {"depth": relative_depth_loss(outputs["depth"].float(), batch["relation"],
                                              batch["depth_confidence"], scale=depth_scale),
                 "keypoints": keypoint_loss(outputs["joints2d"].float(), batch["keypoints"],
                                            batch["keypoint_scores"], size),
                 "articulation": articulation_loss(outputs["pose_body"].float()),
                 # no label says how far away a person is, and the articulation term would
                 # flatten the pose by pushing the root away (to the 20x clamp on the learning
                 # benchmark, which a fine-tune then starts from): keep it at the nominal depth
                 # the crop's framing implies
                 "root_depth": torch.log(outputs["depth"][:, 0].float() / model.nominal_depth).pow(2).mean()}
        terms["total"] = sum(weights[name] * value for name, value in terms.items())
        return terms

    # --- loop
    run_loop(accelerator, loader, run=run, config=config, model=model, optimizer=optimizer, schedulers=(scheduler,),
             step=step, end=end, compute=compute, clip=model.pose_encoder.parameters, accumulate=(branch,),
             count=lambda batch: batch["image"].shape[0], rate="crops_per_s", desc="pretrain-depth",
             progress=progress)
    return run


def add_pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``posesynth pretrain-depth``."""
    parser.add_argument("annotations", type=Path,
                        help="a COCO-style keypoint JSON (with --images), or a folder of videos with keypoint sidecars")
    parser.add_argument("--images", type=Path, default=None, help="the image folder of a COCO-style JSON")
    parser.add_argument("--out", type=Path, required=True, help="run directory (model.pt, config.yaml, log.jsonl, ...)")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps (overrides train.steps)")
    parser.add_argument("-c", "--config", type=Path, default=None,
                        help="YAML config (model.*, train.* are used); with --resume, default OUT/config.yaml")
    parser.add_argument("--resume", action="store_true", help="continue from OUT's latest checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run already in OUT (without it such a folder is refused)")
    parser.add_argument("--labels", type=Path, default=None,
                        help="depth labels from `posesynth depth-labels` (default: made from the annotations)")
    parser.add_argument("--keypoints", type=Path, default=None, help="folder of <video name>.keypoints.{npz,json}")
    parser.add_argument("--layout", choices=("coco17", "h36m17"), default=None, help="keypoint order of the input")
    parser.add_argument("--frame-step", type=int, default=1, help="videos: use every k-th frame (default 1)")
    parser.add_argument("--depth-weight", type=float, default=0.1, help="relative-depth loss weight (default 0.1)")
    parser.add_argument("--keypoint-weight", type=float, default=100.0,
                        help="2D keypoint loss weight (default 100; the loss is in crop-side units squared)")
    parser.add_argument("--articulation-weight", type=float, default=0.0,
                        help="articulation-limit loss weight (default 0: it cost the side on the learning benchmark)")
    # an option, not trailing positionals: argparse cannot take positionals on both sides of options
    parser.add_argument("--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="dotted config overrides, e.g. --set train.lr=1e-4 model.image_size=128")


def run_pretrain(args: argparse.Namespace) -> int:
    """Run ``posesynth pretrain-depth``; returns the exit status."""
    overrides = list(args.overrides) + ([f"train.steps={args.steps}"] if args.steps is not None else [])
    config_path = args.config
    if config_path is None and args.resume and (args.out / "config.yaml").is_file():
        config_path = args.out / "config.yaml"
    config = load_config(config_path, overrides)
    size, margin = config.model.image_size, config.data.margin
    try:
        if args.annotations.is_file() and args.annotations.suffix.lower() == ".json":
            if args.images is None:
                raise KeypointsError(f"{args.annotations}: a COCO-style annotation file needs --images DIR")
            dataset = coco_crops(args.annotations, args.images, size, margin, args.labels, args.layout)
        else:
            dataset = video_crops(args.annotations, size, margin, args.keypoints, args.layout, args.frame_step)
    except (KeypointsError, NoUsableVideosError) as error:
        print(f"posesynth pretrain-depth: error: {error}", file=sys.stderr)
        return 2
    if not len(dataset):
        print(f"posesynth pretrain-depth: error: {args.annotations} has no person with 2 or more keypoints",
              file=sys.stderr)
        return 2
    stored = args.out / WEIGHTS_FILE
    if args.resume and stored.is_file():
        given = {"depth": ("--depth-weight", args.depth_weight), "keypoints": ("--keypoint-weight", args.keypoint_weight),
                 "articulation": ("--articulation-weight", args.articulation_weight)}
        started = json.loads(stored.read_text(encoding="utf-8"))
        changed = [f"{flag} {started[name]:g}" for name, (flag, value) in given.items()
                   if name in started and started[name] != value]
        if changed:
            print(f"posesynth pretrain-depth: error: {args.out} was started with other loss weights ({stored}); "
                  f"resume with {' '.join(changed)}", file=sys.stderr)
            return 2
    with claim_run(args.out, resume=args.resume, overwrite=args.overwrite, steps=config.train.steps):
        run = pretrain(config, dataset, args.out, depth_weight=args.depth_weight,
                       keypoint_weight=args.keypoint_weight, articulation_weight=args.articulation_weight,
                       resume=args.resume)
    print(f"pre-trained on {len(dataset)} crops: {run / 'model.pt'} (posesynth.models.loading.load_model reads it)")
    return 0
