"""Reconstruction losses between the synthesised and the real target frame.

L1 + SSIM is the default (SSIM from kornia). LPIPS is optional: it needs the ``lpips`` package,
which needs torchvision, which needs a CUDA build of torch — so it is imported lazily, only when a
config asks for it, with a clear message when it is missing.
"""

from __future__ import annotations

import os
from functools import lru_cache

import kornia.metrics
import torch
from torch import nn

from posesynth.render.paint import observed_foreground


def l1_loss(prediction: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error, optionally per-pixel weighted.

    Args:
        prediction, target: (B, 3, H, W) in [0, 1].
        weight: (B, 1, H, W) non-negative, or None for uniform.
    Returns:
        scalar.
    """
    error = (prediction - target).abs()
    if weight is None:
        return error.mean()
    return (error * weight).sum() / (weight.sum() * error.shape[1]).clamp(min=1e-8)


def ssim_loss(prediction: torch.Tensor, target: torch.Tensor, window_size: int = 7,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """(1 − SSIM) / 2 with kornia's SSIM map (Wang et al. 2004), optionally per-pixel weighted.

    Args:
        prediction, target: (B, 3, H, W) in [0, 1].
        window_size: Gaussian window side, odd.
        weight: (B, 1, H, W) or None.
    Returns:
        scalar in [0, 1].
    """
    ssim_map = kornia.metrics.ssim(prediction, target, window_size, max_val=1.0)
    dissimilarity = (1.0 - ssim_map) / 2.0
    if weight is None:
        return dissimilarity.mean()
    return (dissimilarity * weight).sum() / (weight.sum() * dissimilarity.shape[1]).clamp(min=1e-8)


def reconstruction_error_per_frame(prediction: torch.Tensor, target: torch.Tensor,
                                   weight: torch.Tensor) -> torch.Tensor:
    """:func:`l1_loss` + :func:`ssim_loss` of each frame alone, with the same per-pixel weights.

    For comparing readings of one frame (which labelling reconstructs it better), where the
    batch mean of :func:`l1_loss` would mix frames.

    Args:
        prediction, target: (B, 3, H, W) in [0, 1].
        weight: (B, 1, H, W) non-negative (:func:`foreground_weight`).
    Returns:
        (B,) ≥ 0.
    """
    total = (weight.sum(dim=(1, 2, 3)) * prediction.shape[1]).clamp(min=1e-8)
    l1 = ((prediction - target).abs() * weight).sum(dim=(1, 2, 3)) / total
    dissimilarity = (1.0 - kornia.metrics.ssim(prediction, target, 7, max_val=1.0)) / 2.0
    return l1 + (dissimilarity * weight).sum(dim=(1, 2, 3)) / total


def foreground_error_per_frame(prediction: torch.Tensor, target: torch.Tensor,
                               background: torch.Tensor) -> torch.Tensor:
    """:func:`reconstruction_error_per_frame` under the default :func:`foreground_weight`.  (B,)."""
    return reconstruction_error_per_frame(prediction, target, foreground_weight(target, background))


def silhouette_loss(coverage: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Disagreement of the puppet's coverage with the observed foreground, mean |a − b|.

    A direct geometric signal for the pose: where the person is seen but the puppet is not (or
    the reverse), the error is 1, and its gradient moves the nearest parts' Gaussians.

    Args:
        coverage: (B, 1, H, W) the puppet's soft foreground.
        observed: (B, 1, H, W) :func:`posesynth.render.paint.observed_foreground`.
    Returns:
        scalar in [0, 1].
    """
    return (coverage - observed).abs().mean()


def foreground_weight(target: torch.Tensor, background: torch.Tensor, boost: float = 4.0,
                      threshold: float = 0.08) -> torch.Tensor:
    """Per-pixel weight that counts the person more than the static background.

    The person covers a fraction of the crop; without this the loss is dominated by background
    pixels the decoder can copy from the background frame. Pixels whose colour differs from the
    median background by more than ``threshold`` get weight ``1 + boost``.

    Args:
        target, background: (B, 3, H, W) in [0, 1].
    Returns:
        (B, 1, H, W), detached.
    """
    return 1.0 + boost * observed_foreground(target, background, threshold)


class LPIPSUnavailableError(ImportError):
    """Raised when a config asks for LPIPS without the optional ``perceptual`` extra."""


@lru_cache(maxsize=2)
def _lpips_model(net: str, backbone_weights: str | None, linear_weights: str | None) -> nn.Module:
    try:
        import lpips  # noqa: PLC0415  (optional extra, imported only when asked for)
    except ImportError as error:
        raise LPIPSUnavailableError(
            "loss.lpips > 0 needs the optional LPIPS dependency: pip install 'posesynth[perceptual]' "
            "(it needs torchvision and a CUDA build of torch); or set loss.lpips=0") from error
    if backbone_weights is None:
        # lpips would fetch the torchvision backbone from the internet; posesynth never downloads
        raise LPIPSUnavailableError(
            "loss.lpips > 0 needs local backbone weights: set loss.lpips_backbone=/path/to/alexnet-or-vgg.pth "
            "(posesynth never downloads weights at run time)")
    for path in (backbone_weights, linear_weights):
        if path is not None and not os.path.isfile(path):
            raise FileNotFoundError(f"LPIPS weights file {path} does not exist")
    model = lpips.LPIPS(net=net, pretrained=linear_weights is not None, pnet_rand=True,
                        model_path=linear_weights, verbose=False)
    state = torch.load(backbone_weights, map_location="cpu", weights_only=True)
    # the backbone's layers live under model.net; keep the keys that fit it
    missing = model.net.load_state_dict(state, strict=False)
    if len(missing.unexpected_keys) == len(state):
        raise ValueError(f"{backbone_weights}: no parameter matches the LPIPS '{net}' backbone")
    return model.eval().requires_grad_(False)


def lpips_loss(prediction: torch.Tensor, target: torch.Tensor, net: str = "alex",
               backbone_weights: str | None = None, linear_weights: str | None = None) -> torch.Tensor:
    """LPIPS perceptual distance (Zhang et al. 2018), from local weights only.

    Args:
        prediction, target: (B, 3, H, W) in [0, 1].
        net: "alex", "vgg" or "squeeze".
        backbone_weights: local path of the backbone's state dict.
        linear_weights: local path of LPIPS's linear calibration layers (None: uncalibrated).
    Returns:
        scalar.
    Raises:
        LPIPSUnavailableError when the extra is missing or no local weights are given.
    """
    model = _lpips_model(net, backbone_weights, linear_weights).to(prediction.device)
    return model(prediction * 2 - 1, target * 2 - 1).mean()
