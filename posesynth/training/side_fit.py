"""Fit the side classifier after a run: faced paintings of unpaired poses, in the run's own colours.

Which way a person faces is what reconstruction cannot see (docs/learning.md, "Can the pixels
tell the facing at all?" and the sections after it). Heads are not the same all round, which is a prior about people
and not a label: :mod:`posesynth.render.face` paints a face on the head of a flat painting, seen
in proportion to how far the sampled pose turns to the camera. A small classifier
(:class:`~posesynth.models.side_classifier.SideClassifier`) learns the sampled pose's facing
from such paintings, and the model then reads every crop with the side it chooses.

Every input is the run's own, as in the imitation cycle's flat paintings
(``PoseSynthModel.forward``): the donors are crops and background plates the run trained on,
coloured under the run's *predicted* puppets where the crop differs from its plate; the poses
are the unpaired ones. No 2D, 3D or facing label is read. Measured (BENCHMARKS.md, "The side
stage"): on the recipe's three 1,200-step seeds it puts 63 % of new people's sides right and
takes the PA-MPJPE ratio from 0.927 / 0.937 / 0.971× to 0.885 / 0.848 / 0.911× (the true side:
0.873 / 0.839 / 0.910×); one fit of four stayed at chance.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from posesynth.geometry import project
from posesynth.render.face import face_anchor, face_palette, head_colours
from posesynth.render.paint import observed_foreground, paint_parts, part_colours
from posesynth.skeleton import facing_side
from posesynth.training.imitation_views import BODY_LEAN_DEG, CAMERA_ELEVATION_DEG, sample_views

SIDE_DONORS = 4096   # training pairs whose colours and plates the paintings borrow


def donor_pairs(dataset: Dataset, count: int = SIDE_DONORS, num_workers: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The targets and background plates of ``count`` evenly spaced training pairs.

    Args:
        dataset: a :class:`~posesynth.data.pairs.FramePairDataset` (items with ``target`` and
            ``background``, (3, S, S) in [0, 1]). count: pairs (all of them if fewer).
        num_workers: DataLoader workers that read them.
    Returns:
        crops, backgrounds: (N, 3, S, S) float32 in [0, 1], N = min(count, len(dataset)).
    """
    index = torch.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().long().unique()
    crops, backgrounds = [], []
    for batch in DataLoader(Subset(dataset, index.tolist()), batch_size=256, num_workers=num_workers):
        crops.append(batch["target"])
        backgrounds.append(batch["background"])
    return torch.cat(crops), torch.cat(backgrounds)


@torch.no_grad()
def own_puppet_colours(model: torch.nn.Module, crops: torch.Tensor, backgrounds: torch.Tensor,
                       chunk: int = 256) -> torch.Tensor:
    """Part colours of crops under the model's own puppets, where each crop differs from its plate.

    The imitation cycle's flat-painting colour: ``part_colours`` of the crop under its predicted
    part maps, weighted by ``observed_foreground``.

    Args:
        model: a :class:`~posesynth.models.model.PoseSynthModel` (read in eval mode).
        crops, backgrounds: (N, 3, S, S) RGB in [0, 1], on the model's device.
    Returns:
        (N, P, 3) RGB in [0, 1].
    """
    was_training = model.training
    model.eval()
    colours = []
    for start in range(0, len(crops), chunk):
        image, plate = crops[start:start + chunk], backgrounds[start:start + chunk]
        pose = model.encode_pose(image)
        maps = model.render(pose["joints2d"], pose["depth"])
        colours.append(part_colours(image, maps, observed_foreground(image, plate)))
    model.train(was_training)
    return torch.cat(colours)


@torch.no_grad()
def faced_paintings(poses_body: torch.Tensor, colours: torch.Tensor, backgrounds: torch.Tensor, count: int, *,
                    render: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], K: torch.Tensor, image_size: int,
                    generator: torch.Generator, elevation_deg: tuple[float, float] = CAMERA_ELEVATION_DEG,
                    max_lean_deg: float = BODY_LEAN_DEG, face: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat paintings of sampled unpaired poses with a face, and whether each faces the camera.

    Each painting takes a random donor's part colours and background plate; half are mirrored
    (a mirrored person faces the same way).

    Args:
        poses_body: (M, 17, 3) unpaired poses, root-relative, body frame, metres.
        colours: (N, P, 3) the donors' part colours (:func:`own_puppet_colours`).
        backgrounds: (N, 3, S, S) the donors' plates in [0, 1].
        count: paintings to draw.
        render: (B, 17, 2) px, (B, 17) m → (B, P+1, S, S) part maps (``PoseSynthModel.render``).
        K: (3, 3) crop intrinsics, pixels. image_size: S.
        generator: CPU generator; the paintings are a pure function of it and the inputs.
        elevation_deg, max_lean_deg: the views' camera elevation range and body lean, degrees.
        face: paint the face (False: the heads in their donors' colours, a control; the draws
            stay the same).
    Returns:
        (count, 3, S, S) paintings in [0, 1] and (count,) float, 1 where the pose faces the camera.
    """
    device = backgrounds.device
    poses = poses_body[torch.randint(len(poses_body), (count,), generator=generator)]
    joints = sample_views(poses.cpu(), image_size=image_size, focal=float(K[0, 0]), generator=generator,
                          elevation_deg=elevation_deg, max_lean_deg=max_lean_deg).to(device)
    K = K.to(device)
    joints2d = project(joints, K)
    donor = torch.randint(len(colours), (count,), generator=generator).to(device)
    centre, radius, seen = face_anchor(joints, K)
    palette = face_palette(count, generator).to(device)
    head = head_colours(centre, radius, seen, palette, (image_size, image_size)) if face else None
    painted = paint_parts(render(joints2d, joints[..., 2]), colours[donor], backgrounds[donor], head=head)
    mirror = (torch.rand(count, generator=generator) < 0.5).to(device)
    painted = torch.where(mirror[:, None, None, None], painted.flip(-1), painted)
    return painted, (facing_side(joints2d) < 0).float()


def fit_side_classifier(classifier: torch.nn.Module, model: torch.nn.Module, crops: torch.Tensor,
                        backgrounds: torch.Tensor, poses_body: torch.Tensor, *, iterations: int, batch: int = 64,
                        lr: float = 1e-3, seed: int = 0, elevation_deg: tuple[float, float] = CAMERA_ELEVATION_DEG,
                        max_lean_deg: float = BODY_LEAN_DEG) -> list[float]:
    """Train ``classifier`` in place on faced paintings coloured by ``model``'s own puppets.

    Args:
        classifier: a :class:`~posesynth.models.side_classifier.SideClassifier` on the model's device.
        model: the trained :class:`~posesynth.models.model.PoseSynthModel` (not changed).
        crops, backgrounds: (N, 3, S, S) training crops and their plates in [0, 1] (the donors).
        poses_body: (M, 17, 3) unpaired poses, root-relative, body frame, metres.
        iterations: optimiser steps. batch: paintings a step. lr: AdamW learning rate (constant).
        seed: the paintings' generator. elevation_deg, max_lean_deg: as :func:`faced_paintings`.
    Returns:
        the binary cross-entropy of every step (chance: ln 2 ≈ 0.693).
    """
    colours = own_puppet_colours(model, crops, backgrounds)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=lr, weight_decay=1e-4)
    classifier.train()
    losses = []
    for _ in range(iterations):
        images, towards = faced_paintings(poses_body, colours, backgrounds, batch, render=model.render, K=model.K,
                                          image_size=model.image_size, generator=generator,
                                          elevation_deg=elevation_deg, max_lean_deg=max_lean_deg)
        loss = F.binary_cross_entropy_with_logits(classifier(images), towards)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    classifier.eval()
    return losses


def fit_model_sides(model: torch.nn.Module, dataset: Dataset, poses_body: torch.Tensor, *, iterations: int,
                    seed: int = 0, num_workers: int = 0, elevation_deg: tuple[float, float] = CAMERA_ELEVATION_DEG,
                    max_lean_deg: float = BODY_LEAN_DEG) -> list[float]:
    """The side stage of a trained model: fit ``model.side_classifier`` and mark it fitted.

    The donors are :func:`donor_pairs` of the training pairs; a float32 copy of the classifier,
    started afresh from ``seed`` (so a run and a later refit agree), is fitted on the model's
    device (its parameters stay frozen in the model) and loaded back.

    Args:
        model: a :class:`~posesynth.models.model.PoseSynthModel` built with ``side_classifier=True``.
        dataset: the run's :class:`~posesynth.data.pairs.FramePairDataset`.
        poses_body: (M, 17, 3) unpaired poses, root-relative, body frame, metres.
        iterations, seed, elevation_deg, max_lean_deg: as :func:`fit_side_classifier`.
        num_workers: DataLoader workers that read the donors.
    Returns:
        the binary cross-entropy of every step.
    """
    if model.side_classifier is None:
        raise ValueError("the model has no side classifier: build it with model.side_classifier=true")
    device = model.K.device
    crops, backgrounds = donor_pairs(dataset, num_workers=num_workers)
    fitted = copy.deepcopy(model.side_classifier).cpu().float().requires_grad_(True)
    with torch.random.fork_rng(devices=[]):   # a fresh start that depends on the seed alone
        torch.manual_seed(seed)
        for layer in fitted.modules():
            if layer is not fitted and hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
    fitted = fitted.to(device)
    losses = fit_side_classifier(fitted, model, crops.to(device), backgrounds.to(device), poses_body,
                                 iterations=iterations, seed=seed, elevation_deg=elevation_deg,
                                 max_lean_deg=max_lean_deg)
    model.side_classifier.load_state_dict(fitted.state_dict())
    model.side_fitted.fill_(True)
    return losses


__all__ = ["SIDE_DONORS", "fit_model_sides", "donor_pairs", "own_puppet_colours", "faced_paintings", "fit_side_classifier"]
