"""Bone-length-ratio prior (Zhou et al., ICCV 2017) and per-sample bone scaling.

Zhou et al. constrain poses that have no 3D label by the ratios of bone lengths: bones fall into
groups whose lengths keep fixed proportions across people — legs (thighs and shins), arms (upper
arms and forearms), the two pelvis→hip bones, the two thorax→shoulder bones
(``skeleton.BONE_GROUPS``). Each bone's length is divided by its canonical length
(``skeleton.BONE_LENGTHS_M``), and the loss is the variance of those ratios within each group:
zero when the group's bones are all the same multiple of the canonical skeleton, whatever the
person's size.

A pose built with the fixed canonical lengths (``kinematics.forward_kinematics``) scores zero by
construction; the 2.5D encoder's back-projected joints have free bone lengths, which the loss
holds together. :func:`scale_bones` relaxes a finished pose's lengths by per-bone scales
(``forward_kinematics(directions, bone_lengths=skeleton.bone_lengths_tensor() * scales)``).
"""

from __future__ import annotations

import torch

from posesynth import skeleton
from posesynth.kinematics import forward_kinematics, pose_to_directions


def bone_lengths(pose3d: torch.Tensor) -> torch.Tensor:
    """Length of every bone.  (B, 17, 3) metres → (B, 16) metres, ordered like ``skeleton.BONES``."""
    parents, children = zip(*skeleton.BONES)
    return (pose3d[:, list(children)] - pose3d[:, list(parents)]).norm(dim=-1)


def bone_ratio_loss(pose3d: torch.Tensor, groups: dict[str, tuple[int, ...]] | None = None,
                    eps: float = 1e-12) -> torch.Tensor:
    """Within-group variance of bone-length ratios (Zhou et al. 2017, L_geo).

        L = mean_b Σ_g (1/|g|) Σ_{e∈g} (l_e / l̄_e − mean_{e'∈g} l_e' / l̄_e')²

    Args:
        pose3d: (B, 17, 3) predicted joints, any frame, metres (Zhou et al. build it from the 2D
            joints and the predicted depth). Ratios are to the canonical lengths in metres, so
            the loss grows with the square of the pose's overall size.
        groups: name → bone indices into ``skeleton.BONES``; default ``skeleton.BONE_GROUPS``.
        eps: added under the square root of each length, keeping the gradient finite for a
            zero-length bone.
    Returns:
        scalar ≥ 0, zero when every group's ratios are equal.
    """
    groups = skeleton.BONE_GROUPS if groups is None else groups
    parents, children = zip(*skeleton.BONES)
    bones = pose3d[:, list(children)] - pose3d[:, list(parents)]
    ratios = (bones.pow(2).sum(-1) + eps).sqrt() / skeleton.bone_lengths_tensor().to(pose3d)
    total = pose3d.new_zeros(pose3d.shape[0])
    for members in groups.values():
        group = ratios[:, list(members)]
        total = total + (group - group.mean(dim=1, keepdim=True)).pow(2).mean(dim=1)
    return total.mean()


def proportions_loss(pose3d: torch.Tensor) -> torch.Tensor:
    """All bone-length ratios alike: :func:`bone_ratio_loss` with every bone in one group.

    The 2.5D encoder's bones are free, so a person must keep the canonical proportions at
    whatever overall size; Zhou et al.'s groups alone would let the legs grow against the arms.

    Args:
        pose3d: (B, 17, 3) joints, any frame, metres.
    Returns:
        scalar ≥ 0, zero when every bone is the same multiple of its canonical length.
    """
    return bone_ratio_loss(pose3d, groups={"all": tuple(range(skeleton.NUM_BONES))})


def scale_bones(pose3d: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Rescale every bone of a pose by its own factor, keeping its direction.

    Args:
        pose3d: (B, 17, 3) joints, any frame, metres.
        scales: (B, 16) or (16,) factors on the bones, ordered like ``skeleton.BONES``.
    Returns:
        (B, 17, 3) metres, pelvis at the origin; each bone's length is its old length × its scale.
    """
    directions, lengths = pose_to_directions(pose3d)
    return forward_kinematics(directions, bone_lengths=lengths * scales.to(lengths))
