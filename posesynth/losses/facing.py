"""Which way a person faces, from the direction they walk (no label needed).

A 2D skeleton seen from the front and the same skeleton seen from the back with left and right
relabelled draw the same lines; reconstruction, silhouettes and the pose priors cannot tell them
apart, and a self-supervised encoder settles on one side for everyone (docs/learning.md: with the
side forgiven per frame its joints are 2.1 px from the truth, without it 4.25 px). People walk
forwards, though, and the camera sees which way they walk: feet that move down the image come
towards a camera above them, feet that move up go away from it. So across the two frames of a
pair, the feet's image motion labels the facing when it is mostly along the depth direction:

    travel = sign(v_later − v_earlier)   when |Δv| > min_shift · side and ratio · |Δv| > |Δu|

with (u, v) the mean of the two ankles in the video's pixels (their mean does not depend on which
is left) and ``side`` the crop box side. A person facing the camera has their right side on the
image's left (Σ x_right − x_left < 0 over hips and shoulders, :func:`posesynth.skeleton.facing_side`).
The label trains the encoder's facing head (``model.facing_head``): a binary classifier whose
decision swaps left and right, because the side is a jump no small step of the heatmaps makes.
(Pulling each contradicted frame's joints to their own left↔right relabelling instead was
measured first and changed nothing: docs/learning.md.)

``ratio``: with the camera at height h and the person at distance Z, a step of ΔZ moves the feet
by about Δv ≈ f·h·ΔZ / Z² and a sideways step ΔX by Δu ≈ f·ΔX / Z, so Δv/Δu ≈ (h/Z)·ΔZ/ΔX; at
h/Z ≈ 0.4 (1.6 m up, 4 m away) ``ratio`` = 2.5 keeps walks within about 45° of the depth axis.
Precision on the benchmark's training clips, from their true ankles: see docs/learning.md.
"""

from __future__ import annotations

import torch

from posesynth.data.crops import crop_to_frame

ANKLES = (3, 6)                    # right, left ankle (Human3.6M-17 order)


def travel_facing(feet_first: torch.Tensor, feet_second: torch.Tensor, side: torch.Tensor, *,
                  min_shift: float = 0.08, ratio: float = 2.5) -> torch.Tensor:
    """The facing a walk between two frames implies: −1 towards the camera, +1 away, 0 unknown.

    Args:
        feet_first, feet_second: (B, 2) the feet's image position (mean of the ankles) in the
            earlier and the later frame, video pixels (y down).
        side: (B,) crop box side, video pixels: the person's scale.
        min_shift: the smallest vertical motion that counts, in box sides.
        ratio: the vertical motion must exceed the sideways one divided by this (module docstring).
    Returns:
        (B,) float in {−1, 0, +1}.
    """
    du, dv = (feet_second - feet_first).unbind(-1)
    clear = (dv.abs() > min_shift * side) & (ratio * dv.abs() > du.abs())
    # feet moving down the image (dv > 0) come towards the camera: facing it, −1
    return torch.where(clear, -torch.sign(dv), torch.zeros_like(dv))


def travel_facing_labels(joints2d: torch.Tensor, box: torch.Tensor, frame: torch.Tensor,
                         source_joints2d: torch.Tensor, source_box: torch.Tensor, source_frame: torch.Tensor,
                         crop_size: int, **options: float) -> torch.Tensor:
    """:func:`travel_facing` of the pairs (target, source), from the predicted ankles.

    Args:
        joints2d, source_joints2d: (B, 17, 2) predicted joints, crop pixels (detached here).
        box, source_box: (B, 4) the crops' boxes, video pixels.
        frame, source_frame: (B,) frame indices (which of the two comes first).
        crop_size: S, pixels.
        options: ``min_shift``, ``ratio`` of :func:`travel_facing`.
    Returns:
        (B,) float in {−1, 0, +1}, the label of both frames of each pair.
    """
    feet = crop_to_frame(joints2d.detach()[:, list(ANKLES)], box, crop_size).mean(dim=1)
    source_feet = crop_to_frame(source_joints2d.detach()[:, list(ANKLES)], source_box, crop_size).mean(dim=1)
    later = (frame > source_frame)[:, None]
    first, second = torch.where(later, source_feet, feet), torch.where(later, feet, source_feet)
    side = 0.5 * ((box[:, 2] - box[:, 0]) + (source_box[:, 2] - source_box[:, 0]))
    return travel_facing(first, second, side, **options)


def facing_classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of a facing head on the frames the walk labels.

        L = mean over {b : l_b ≠ 0} of BCE(z_b, [l_b > 0])

    Args:
        logits: (B,) facing logits, > 0: facing away (:class:`~posesynth.models.heatmap_encoder.HeatmapPoseEncoder`).
        labels: (B,) in {−1, 0, +1} (:func:`travel_facing`).
    Returns:
        scalar ≥ 0; 0 (still attached to ``logits``) when no frame is labelled.
    """
    if logits.shape != labels.shape:
        raise ValueError(f"facing_classification_loss: {tuple(logits.shape)} logits but {tuple(labels.shape)} labels")
    known = labels != 0
    if not known.any():
        return logits.sum() * 0.0
    return torch.nn.functional.binary_cross_entropy_with_logits(logits[known], (labels[known] > 0).to(logits.dtype))


__all__ = ["travel_facing", "travel_facing_labels", "facing_classification_loss"]
