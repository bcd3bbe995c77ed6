"""Diagnostic: can the pixels of a crop tell which way the person faces, given labels?

The self-supervised recipe draws everyone facing the camera (docs/learning.md); the facing head
trained on the walking-direction labels gets 58 % of held-out sides right. Before building more
on any facing signal, this measures the upper bound: a small CNN trained on the crops with the
*true* facing (towards the camera or away, from the crop-frame 3D truth, ``skeleton.facing_side``)
and scored on held-out people, every ``--eval-every`` steps. ``--motions walking`` trains on
those motions' clips only, as a label source that comes from the walking direction would; the
held-out set keeps every motion, so the number says whether what is learnt there carries over.

    python scripts/diagnose_facing.py --train DATA/train --heldout DATA/heldout [--size 64] [--steps 3000]
        [--motions walking] [--json OUT]
    python scripts/diagnose_facing.py --train DATA/train --heldout DATA/heldout --paintings DATA/poses3d.npy [--no-face]
        [--save NET.pt]
    python scripts/diagnose_facing.py --heldout DATA/heldout --paintings DATA/poses3d.npy --colours-from RUN [--save NET.pt]

``--paintings POSES`` trains on no real crop and no facing label of one: only on flat paintings of
sampled unpaired poses (the imitation cycle's, :mod:`posesynth.render.paint`) whose heads show a
face for the sampled facing (:mod:`posesynth.render.face`; ``--no-face`` leaves it out, a
control), labelled with the sampled pose's own facing. Each painting takes its part colours from a
training crop under that crop's true puppet, as an encoder that finds the joints would pool them,
over that crop's background plate. The held-out score then says whether the painted face teaches
a facing that holds for real people. ``--colours-from RUN`` takes the donors from the crops RUN
trained on instead, coloured under RUN's *own* predicted puppets, as the side stage does
(:mod:`posesynth.training.side_fit`, whose paintings and classifier this script uses): nothing
there reads a label. The classifier is :class:`~posesynth.models.side_classifier.SideClassifier`
(GroupNorm); the numbers in BENCHMARKS.md before the side stage used a BatchNorm variant of it
(commit 4657e6b).

Prints, per evaluation: training crops seen, held-out accuracy, accuracy on the clearer half
(hips and shoulders furthest from profile) and the majority-class share (what always answering
"towards" or "away" scores). Mirrored crops are drawn at random (a mirror keeps the facing).
A person's facing changes slowly, so it also scores votes over time: the logits averaged over
``--windows`` consecutive frames of the same clip (one score per width; 9 and 33 by default,
33 being every frame of a 32-frame clip), centred on each frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from posesynth.data.cache import FrameCache
from posesynth.data.poses3d import load_poses3d
from posesynth.evaluation.synthetic import labelled_views, load_labelled_set
from posesynth.geometry import intrinsics
from posesynth.models.loading import load_model, run_config
from posesynth.models.side_classifier import SideClassifier
from posesynth.render.paint import part_colours
from posesynth.render.puppet import render_part_maps
from posesynth.skeleton import facing_side
from posesynth.training.inputs import canonical_poses
from posesynth.training.side_fit import faced_paintings, own_puppet_colours


def facing_labels(truth: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Towards the camera (1) or away (0), and how clearly.

    Args:
        truth: (N, 17, 3) root-relative joints in each crop's camera frame, metres (x to the right).
    Returns:
        labels (N,) float 0/1, and |Σ (x_right − x_left)| over hips and shoulders (N,) metres:
        near 0 in profile, where the facing is barely defined.
    """
    side = facing_side(torch.as_tensor(truth[..., :2], dtype=torch.float32))
    return (side < 0).float(), side.abs()


def load_crops(root: Path, size: int, stride: int, motions: list[str] | None) -> tuple[torch.Tensor, np.ndarray]:
    """(N, 3, S, S) uint8 crops and (N, 17, 3) crop-frame truth of a synthetic set, optionally some motions only."""
    crops, truths, _ = load_labelled_set(root, size, 1.25, stride, motions=motions)
    return rearrange(torch.from_numpy(crops), "n h w c -> n c h w"), truths


def load_classifier(path: Path) -> tuple[SideClassifier, int]:
    """A classifier written by ``--save``, in eval mode, and its crop size (tensors only: no code runs from the file)."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    net = SideClassifier(saved["width"])
    net.load_state_dict(saved["state_dict"])
    return net.eval(), int(saved["size"])


def window_mean(values: torch.Tensor, video: torch.Tensor, width: int) -> torch.Tensor:
    """Mean of ``values`` over a centred window of ``width`` frames that stays inside each clip.

    Args:
        values: (N,) one number per frame, frames of a clip consecutive and in order.
        video: (N,) the clip each frame belongs to.
        width: frames in the window (1: ``values`` unchanged); near a clip's ends it is cut short.
    Returns:
        (N,) the window means.
    """
    half = width // 2
    index = torch.arange(len(values))
    out = torch.empty_like(values)
    for i in range(len(values)):
        near = (index - i).abs() <= half
        out[i] = values[near & (video == video[i])].mean()
    return out


class Paintings:
    """Flat paintings of sampled unpaired poses in real people's colours over real backgrounds, with their facing.

    Args:
        poses: (M, 17, 3) unpaired poses, any frame, metres.
        crops: (N, 3, S, S) uint8 donor crops. backgrounds: (N, 3, S, S) their plates in [0, 1].
        colours: (N, P, 3) each donor's part colours in [0, 1] (under true puppets, or a run's own).
        face: draw the face (:mod:`posesynth.render.face`) on every head.
    """

    def __init__(self, poses: np.ndarray, crops: torch.Tensor, backgrounds: torch.Tensor, colours: torch.Tensor,
                 face: bool):
        self.body = canonical_poses(torch.as_tensor(poses, dtype=torch.float32))
        self.crops, self.backgrounds, self.colours, self.face = crops, backgrounds, colours, face
        self.size = crops.shape[-1]
        self.focal = 2.0 * self.size   # the recipe's crop camera (model.focal_ratio 2)
        self.K = intrinsics(self.focal, self.size / 2, self.size / 2)

    @classmethod
    def from_truth(cls, poses: np.ndarray, views: dict[str, np.ndarray], face: bool) -> "Paintings":
        """Donors: a labelled set's crops (:func:`labelled_views`), their colours under their *true* puppets."""
        crops = rearrange(torch.from_numpy(views["crops"]), "n h w c -> n c h w")
        colours = true_puppet_colours(crops, torch.as_tensor(views["joints2d"], dtype=torch.float32),
                                      torch.as_tensor(views["pose3d"][..., 2], dtype=torch.float32),
                                      torch.as_tensor(views["focal"], dtype=torch.float32))
        plates = rearrange(torch.from_numpy(views["backgrounds"]), "n h w c -> n c h w").float() / 255
        return cls(poses, crops, plates, colours, face)

    @classmethod
    def from_run(cls, poses: np.ndarray, run: Path, stride: int, face: bool) -> "Paintings":
        """Donors: the crops and plates a run trained on (its ``data.cache``), their colours under the
        run's *own* predicted puppets, as its imitation cycle and its side stage pool them: no label."""
        model = load_model(run)
        crops, backgrounds = cache_crops(Path(run_config(run).data.cache), stride)
        if crops.shape[-1] != model.image_size:
            raise ValueError(f"{run}: the model reads {model.image_size} px crops but its cache holds "
                             f"{crops.shape[-1]} px ones")
        plates = backgrounds.float() / 255
        colours = torch.cat([own_puppet_colours(model, crops[part].float() / 255, plates[part])
                             for part in torch.arange(len(crops)).split(1024)])
        return cls(poses, crops, plates, colours, face)

    def batch(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(count, 3, S, S) paintings in [0, 1] and (count,) labels, 1 where the painted pose faces the camera
        (:func:`~posesynth.training.side_fit.faced_paintings`, the side stage's own)."""
        return faced_paintings(self.body, self.colours, self.backgrounds, count, render=self.render, K=self.K,
                               image_size=self.size, generator=generator, face=self.face)

    def render(self, joints2d: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        return render_part_maps(joints2d, depth, (self.size, self.size), focal=self.focal)


def cache_crops(cache: Path, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, S, S) uint8 crops and background plates of every ``stride``-th frame of a prepared cache."""
    frames = FrameCache(cache)
    crops, plates = [], []
    for video in range(len(frames.videos)):
        pixels, backgrounds, _ = frames.arrays(video)
        crops.append(torch.from_numpy(np.ascontiguousarray(pixels[::stride])))
        plates.append(torch.from_numpy(np.ascontiguousarray(backgrounds[::stride])))
    return (rearrange(torch.cat(crops), "n h w c -> n c h w"), rearrange(torch.cat(plates), "n h w c -> n c h w"))


@torch.no_grad()
def true_puppet_colours(crops: torch.Tensor, joints2d: torch.Tensor, depth: torch.Tensor, focal: torch.Tensor,
                        chunk: int = 256) -> torch.Tensor:
    """(N, P, 3) crops' part colours under their true puppets.

    Args:
        crops: (N, 3, S, S) uint8. joints2d: (N, 17, 2) crop pixels. depth: (N, 17) camera depth,
            metres. focal: (N,) the crops' focal lengths, pixels.
    """
    size = crops.shape[-1]
    colours = []
    for start in range(0, len(crops), chunk):
        part = slice(start, start + chunk)
        maps = render_part_maps(joints2d[part], depth[part], (size, size), focal=focal[part])
        colours.append(part_colours(crops[part].float() / 255, maps))
    return torch.cat(colours)


@torch.no_grad()
def accuracy(net: nn.Module, crops: torch.Tensor, labels: torch.Tensor, clarity: torch.Tensor,
             video: torch.Tensor, windows: list[int]) -> dict[str, float]:
    """Held-out accuracy overall, on the clearer half (clarity above its median) and voted over each window."""
    net.eval()
    logits = torch.cat([net(chunk.float() / 255) for chunk in crops.split(256)])
    net.train()
    right = ((logits > 0).float() == labels).float()
    clear = clarity > clarity.median()
    return {"accuracy": float(right.mean()), "accuracy_clear_half": float(right[clear].mean()),
            **{f"accuracy_window_{w}": float(((window_mean(logits, video, w) > 0).float() == labels).float().mean())
               for w in windows}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=None,
                        help="a labelled synthetic set (bench_learning's data/train); not with --colours-from")
    parser.add_argument("--heldout", type=Path, required=True, help="people never trained on (data/heldout)")
    parser.add_argument("--size", type=int, default=64, help="crop side, pixels (the recipe's 64; the GPU recipe's 128)")
    parser.add_argument("--stride", type=int, default=2, help="keep every n-th training frame")
    parser.add_argument("--motions", nargs="*", default=None, help="train on these motions' clips only (e.g. walking)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--windows", type=int, nargs="*", default=[9, 33], help="frames in the votes over time (odd)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the curve here")
    parser.add_argument("--paintings", type=Path, default=None,
                        help="unpaired 3D poses (.npy): train on flat paintings of them, not on labelled crops")
    parser.add_argument("--no-face", action="store_true", help="with --paintings: heads without a face (a control)")
    parser.add_argument("--colours-from", type=Path, default=None, metavar="RUN",
                        help="with --paintings: donors are the crops RUN trained on (its data.cache), coloured under "
                             "RUN's own predicted puppets (no label of any kind); the crop size is RUN's")
    parser.add_argument("--save", type=Path, default=None,
                        help="write the trained classifier here (a state dict with its width and crop size)")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    torch.manual_seed(args.seed)
    if args.no_face and args.paintings is None:
        sys.exit("error: --no-face leaves the face off paintings: give --paintings POSES too")
    if args.colours_from is not None and (args.paintings is None or args.train is not None):
        sys.exit("error: --colours-from RUN colours paintings from RUN's own training crops: give --paintings POSES "
                 "and no --train")
    if args.colours_from is None and args.train is None:
        sys.exit("error: give --train DATA/train (or --paintings POSES --colours-from RUN)")
    paintings = None
    try:
        if args.colours_from is not None:
            paintings = Paintings.from_run(load_poses3d(args.paintings), args.colours_from, args.stride,
                                           face=not args.no_face)
            args.size = paintings.size
            crops = paintings.crops
        elif args.paintings is not None:
            paintings = Paintings.from_truth(load_poses3d(args.paintings),
                                             labelled_views(args.train, args.size, 1.25, args.stride),
                                             face=not args.no_face)
            crops = paintings.crops
        else:
            crops, truth = load_crops(args.train, args.size, args.stride, args.motions)
            labels, _ = facing_labels(truth)
        views = labelled_views(args.heldout, args.size, 1.25, 1)
    except (FileNotFoundError, ValueError) as error:   # CacheError and ConfigError are ValueErrors
        sys.exit(f"error: {error}")
    held = rearrange(torch.from_numpy(views["crops"]), "n h w c -> n c h w")
    held_labels, clarity = facing_labels(views["truth"])
    held_video = torch.from_numpy(views["video"])
    majority = float(max(held_labels.mean(), 1 - held_labels.mean()))
    puppets = f"{args.colours_from}'s own puppets" if args.colours_from else "their true puppets"
    trained_on = (f"paintings of {len(paintings.body)} unpaired poses {'without' if args.no_face else 'with'} a face, "
                  f"in the colours of {len(crops)} training crops under {puppets}" if paintings is not None
                  else f"{len(crops)} training crops ({float(labels.mean()):.2f} towards)")
    print(f"{trained_on}, {len(held)} held-out (majority class {majority:.3f})", flush=True)

    net = SideClassifier(args.width)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(args.seed)
    curve, started = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        if paintings is not None:
            images, targets = paintings.batch(args.batch, generator)
        else:
            chosen = torch.randint(len(crops), (args.batch,), generator=generator)
            images, targets = crops[chosen].float() / 255, labels[chosen]
        mirror = torch.rand(args.batch, generator=generator) < 0.5  # a mirrored person faces the same way
        images = torch.where(mirror[:, None, None, None], images.flip(-1), images)
        loss = F.binary_cross_entropy_with_logits(net(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            point = {"step": step, "samples": step * args.batch, "loss": loss.item(),
                     **accuracy(net, held, held_labels, clarity, held_video, args.windows)}
            curve.append(point)
            print(f"step {step:5d}  crops seen {point['samples']:6d}  loss {point['loss']:.3f}  held-out accuracy "
                  f"{point['accuracy']:.3f} (clearer half {point['accuracy_clear_half']:.3f}; voted over "
                  + ", ".join(f"{w} frames {point[f'accuracy_window_{w}']:.3f}" for w in args.windows) + ")  "
                  f"[{time.perf_counter() - started:.0f} s]", flush=True)
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        net.eval()
        torch.save({"state_dict": net.state_dict(), "width": args.width, "size": args.size}, args.save)
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "motions": args.motions, "training_crops": len(crops),
                                         "paintings": None if paintings is None else str(args.paintings),
                                         "colours_from": None if args.colours_from is None else str(args.colours_from),
                                         "face": paintings is not None and not args.no_face,
                                         "heldout_crops": len(held), "majority_share": majority, "windows": args.windows,
                                         "curve": curve}, indent=1))


if __name__ == "__main__":
    main()
