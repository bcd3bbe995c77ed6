"""Which way a person faces, from the crop: a small CNN taught on painted faces (``posesynth.training.side_fit``).

The heatmap encoder labels the limbs as seen facing the camera (``model.start_facing=front``); a
person seen from the back is that labelling with left and right swapped (``skeleton.swap_sides``).
Reconstruction cannot tell the two apart, and on unseen people neither the facing head nor the
decoder's verdict learns it (BENCHMARKS.md, "The facing from the walking direction", "Does a
learned decoder tell the side?"). This classifier is taught apart from the run, after its last
step, on flat paintings of unpaired poses whose heads carry a face (:mod:`posesynth.render.face`):
the painted face is a prior about people, not a label.
"""

from __future__ import annotations

import torch
from torch import nn

from posesynth.models.blocks import norm


class SideClassifier(nn.Module):
    """Four conv stages (each halves the side), global average pool, one logit.

    Args:
        width: channels of the first stage (then 2×, 4×, 4×).

    image (B, 3, S, S) RGB in [0, 1] → (B,) logit, positive where the person faces the camera.
    """

    def __init__(self, width: int = 16):
        super().__init__()

        def stage(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), norm(c_out), nn.ReLU(),
                                 nn.Conv2d(c_out, c_out, 3, padding=1), norm(c_out), nn.ReLU(), nn.MaxPool2d(2))

        self.features = nn.Sequential(stage(3, width), stage(width, 2 * width), stage(2 * width, 4 * width),
                                      stage(4 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.logit = nn.Linear(4 * width, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.logit(self.features(image))[:, 0]


__all__ = ["SideClassifier"]
