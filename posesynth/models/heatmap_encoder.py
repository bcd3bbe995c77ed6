"""The 2.5D pose encoder: per-joint heatmaps and depth maps, read out by integral regression.

A regression head on globally pooled features must learn "where" from features that have
discarded it; measured in BENCHMARKS.md ("Does it learn?"), such an encoder (the first one,
bone directions and a camera, since removed) never placed the puppet's 2D joints better than a
constant pose. This encoder keeps the image layout: an
encoder–decoder CNN (an hourglass with skips, Newell et al. 2016) ends at a quarter of the crop
resolution with one heatmap and one depth map per joint. The soft-argmax of each heatmap gives
the joint in crop pixels, and the depth map read out with the same weights gives its depth
relative to the pelvis (Zhou et al. ICCV 2017; Sun et al. ECCV 2018). A global head on the
bottleneck predicts the root depth as a log-factor around the nominal one, which, with the fixed
crop camera, sets the metric scale; :class:`~posesynth.models.model.PoseSynthModel` back-projects
the joints and derives the body rotation and bone directions from them.

The heatmaps start from a learnable prior (Gaussians at a starting pose's projection, set by
:meth:`HeatmapPoseEncoder.reset_heads`) so a fresh model draws a plausible puppet instead of
17 joints piled at the crop centre.
"""

from __future__ import annotations

import torch
from torch import nn

from posesynth.models.blocks import ResBlock, UpBlock, norm
from posesynth.models.integral import gaussian_logits, integrate, soft_argmax
from posesynth.skeleton import NUM_JOINTS

HEATMAP_STRIDE = 4      # heatmaps at 1/4 of the crop side (16×16 cells for a 64 px crop)
# width of the starting heatmap prior, in heatmap cells. The prior stays in the logits, so its
# steepness could cap how far the network moves a joint from the starting pose: at 1.5 cells a
# joint 5 cells (20 px at 64 px) away costs 11 in logit, more than a trained recipe network's
# whole logit range (~7.5). Measured, a 4-cell prior does not make the recipe's 2D follow the
# poses further (BENCHMARKS.md, "The puppet's hands and feet, and what the 2D error costs in
# 3D"); ``model.heatmap_prior_sigma`` sets it.
PRIOR_SIGMA_CELLS = 1.5
# The reconstruction trains only each heatmap's expectation (the soft-argmax), so nothing stops a
# heatmap from keeping mass near the starting pose beside its peak on the joint: the expectation
# then lies between the two, pulled towards the mean pose. In eval mode the logits can be
# multiplied by a sharpness k before the soft-argmax, so the reported joints follow the peaks: on
# the recipe's runs the 2D then follows more of each pose, noisier (the refiner removes noise, not
# a pull), and the held-out 3D improves (BENCHMARKS.md, "Reading the heatmaps sharper").
# Training always reads with k = 1 (trained with k = 4 the recipe ended no better).
READOUT_SHARPNESS = 1.0
FACING_START_LOGIT = -3.0  # the facing head starts sure that people face the camera, as the frontal start draws them


class HeatmapPoseEncoder(nn.Module):
    """CNN from an RGB crop to 2D joints (crop pixels), root-relative depths and a root depth factor.

    Args:
        image_size: crop side S, pixels (divisible by 2**stages).
        width: channels of the first stage, doubled at each downsampling up to 8× width.
        stages: stride-2 stages (≥ 3): the bottleneck is S / 2**stages cells; the heatmaps are at
            S / 4.
        num_joints: J.
        facing_head: also predict whether the person faces away from the camera (a logit from the
            pooled bottleneck, :data:`FACING_START_LOGIT` at the start), for
            :class:`~posesynth.models.model.PoseSynthModel`'s facing switch.
        prior_sigma: width of the starting heatmap prior's Gaussians, heatmap cells (> 0); wider
            starts at the same pose with a smaller logit cost for leaving it (:data:`PRIOR_SIGMA_CELLS`).
        readout_sharpness: k > 0; in eval mode the joints and depths are read from
            softmax(k · logits) instead of softmax(logits) (:data:`READOUT_SHARPNESS`); training
            is unaffected.
    """

    def __init__(self, image_size: int = 64, width: int = 16, stages: int = 4, num_joints: int = NUM_JOINTS,
                 facing_head: bool = False, prior_sigma: float = PRIOR_SIGMA_CELLS,
                 readout_sharpness: float = READOUT_SHARPNESS):
        super().__init__()
        if prior_sigma <= 0:
            raise ValueError(f"model.heatmap_prior_sigma must be positive (heatmap cells), got {prior_sigma}")
        if readout_sharpness <= 0:
            raise ValueError(f"model.readout_sharpness must be positive, got {readout_sharpness}")
        self.prior_sigma = prior_sigma
        self.readout_sharpness = readout_sharpness
        if stages < 3:
            raise ValueError(f"the pose encoder needs model.encoder_stages >= 3 (got {stages})")
        if image_size % (2 ** stages):
            raise ValueError(f"model.image_size={image_size} must be divisible by 2**encoder_stages={2 ** stages}")
        self.image_size = image_size
        self.num_joints = num_joints
        self.cells = image_size // HEATMAP_STRIDE
        channels = [width * min(2 ** i, 8) for i in range(stages + 1)]  # per resolution level
        self.stem = nn.Sequential(nn.Conv2d(3, channels[0], 3, 1, 1, bias=False), norm(channels[0]), nn.SiLU())
        self.down = nn.ModuleList(nn.Sequential(ResBlock(channels[i], channels[i + 1], stride=2),
                                                ResBlock(channels[i + 1], channels[i + 1]))
                                  for i in range(stages))
        # back up to the heatmap level (S/4 = level 2), with the skips of the way down
        self.up = nn.ModuleList(UpBlock(channels[i + 1], channels[i], channels[i]) for i in range(stages - 1, 1, -1))
        self.heads = nn.Conv2d(channels[2], 2 * num_joints, 1)  # heatmap logits, then depth maps (m)
        self.root_head = nn.Sequential(nn.Linear(channels[-1], channels[-1]), nn.SiLU(), nn.Linear(channels[-1], 1))
        self.facing_head = (nn.Sequential(nn.Linear(channels[-1], channels[-1]), nn.SiLU(), nn.Linear(channels[-1], 1))
                            if facing_head else None)
        self.prior = nn.Parameter(torch.zeros(num_joints, self.cells, self.cells))
        self.reset_heads()

    def reset_heads(self, joints2d: torch.Tensor | None = None, relative_depth: torch.Tensor | None = None) -> None:
        """Start from a given 2D pose and depths: tiny head weights, prior heatmaps and depth biases.

        Args:
            joints2d: (J, 2) crop pixels of the starting pose (e.g. the mean unpaired pose seen
                frontally at the nominal depth); default: keep the current prior.
            relative_depth: (J,) metres relative to the root; default: zeros.
        """
        nn.init.normal_(self.heads.weight, std=1e-3)
        last = self.root_head[-1]
        nn.init.normal_(last.weight, std=1e-3)
        with torch.no_grad():
            self.heads.bias.zero_()
            last.bias.zero_()
            if relative_depth is not None:
                self.heads.bias[self.num_joints:] = relative_depth.to(self.heads.bias)
            if joints2d is not None:
                self.prior.copy_(self._prior_for(joints2d.to(self.prior)))
        if self.facing_head is not None:
            nn.init.normal_(self.facing_head[-1].weight, std=1e-3)
            nn.init.constant_(self.facing_head[-1].bias, FACING_START_LOGIT)

    def clear_depth_maps(self) -> None:
        """Make every depth map zero, keeping the heatmaps and root depth.

        Under a lifter (``PoseSynthModel(lifter=True)``) the depth maps add a residual to the
        lifter's depths; those of an encoder trained without one predict the whole depth and
        would count it twice.
        """
        with torch.no_grad():
            self.heads.weight[self.num_joints:] = 0.0
            self.heads.bias[self.num_joints:] = 0.0

    def _prior_for(self, joints2d: torch.Tensor, iterations: int = 100) -> torch.Tensor:
        """Gaussian prior logits whose soft-argmax is ``joints2d`` (J, 2) px.

        A Gaussian cut off by the crop border has its mean pulled inwards, so its centre is moved
        outwards until the soft-argmax lands on the target (a fixed-point iteration).
        """
        centres = joints2d.clone()
        for _ in range(iterations):
            logits = gaussian_logits(centres, self.cells, self.cells, self.image_size, self.prior_sigma)
            reached, _ = soft_argmax(logits[None], self.image_size)
            centres = centres + (joints2d - reached[0])
        return logits

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode a batch of crops.

        Args:
            image: (B, 3, S, S) RGB in [0, 1].
        Returns:
            ``joints2d`` (B, J, 2) crop pixels; ``relative_depth`` (B, J) metres, depth minus the
            root's (0 at the root); ``log_depth`` (B,) log of the root depth relative to the
            nominal one; ``heatmaps`` (B, J, S/4, S/4) the soft-argmax weights (in eval mode those of
            the sharpened logits); with the facing head ``facing_logit`` (B,), > 0: facing away from
            the camera.
        """
        h = self.stem(image * 2 - 1)
        skips = []
        for block in self.down:
            skips.append(h)
            h = block(h)
        pooled = h.mean(dim=(2, 3))
        log_depth = self.root_head(pooled)[:, 0]
        facing = None if self.facing_head is None else self.facing_head(pooled)[:, 0]
        for block in self.up:
            h = block(h, skips.pop())
        out = self.heads(h)
        logits, depth_maps = out[:, :self.num_joints] + self.prior, out[:, self.num_joints:]
        if not self.training:
            logits = logits * self.readout_sharpness
        joints2d, weights = soft_argmax(logits, self.image_size)
        depth = integrate(depth_maps, weights)
        out = {"joints2d": joints2d, "relative_depth": depth - depth[:, :1], "log_depth": log_depth,
               "heatmaps": weights}
        if facing is not None:
            out["facing_logit"] = facing
        return out
