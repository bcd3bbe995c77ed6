"""Diagnostic: can the renderer teach the pose encoder when the decoder is already good?

Self-supervised training starts two networks from scratch that need each other: the decoder can
only learn to use the puppet once the puppet follows the person, and the encoder only gets a
useful gradient once the decoder uses the puppet. This script breaks that loop with labels, to
find out which half fails:

- **stage A** trains the appearance encoder and decoder on labelled synthetic pairs with the
  puppet drawn from the *true* poses (the decoder an ideal encoder would induce);
- **stage B** freezes them and trains a fresh pose encoder (started at the mean pose, as in
  training) with the reconstruction loss only, both puppets now drawn from its own predictions.

If stage B's held-out 2D and 3D errors fall well below the start, the reconstruction signal
through the renderer is sound and the self-supervised failure is the cold start (co-adaptation);
if they do not, the renderer's gradient itself is too weak at this resolution.

    python scripts/diagnose_oracle_decoder.py --data runs/learning/data --steps-decoder 600 --steps-encoder 600
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from posesynth.config import load_config
from posesynth.evaluation.metrics import pa_mpjpe
from posesynth.evaluation.synthetic import labelled_views
from posesynth.losses.reconstruction import foreground_weight, l1_loss, ssim_loss
from posesynth.models.model import PoseSynthModel
from posesynth.render.puppet import foreground_mask
from posesynth.synth.poses import sample_poses
from posesynth.training.checkpoints import model_kwargs
from posesynth.training.diagnostics import true_puppet_depth, yaw_error_degrees
from posesynth.training.inputs import mean_pose

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the pose path alone, as the supervised diagnostic trains it: stage B learns by reconstruction only
from diagnose_supervised import CONFIG, POSE_PATH  # noqa: E402


def tensors(split: dict[str, np.ndarray], focal: float) -> dict[str, torch.Tensor]:
    """Images in [0, 1] (N, 3, S, S), true crop joints2d (N, 17, 2) and depths in model units (N, 17)."""
    as_image = lambda a: rearrange(torch.from_numpy(a), "n h w c -> n c h w").float() / 255  # noqa: E731
    pose = torch.from_numpy(split["pose3d"]).float()
    depth = true_puppet_depth(pose, torch.from_numpy(split["focal"]).float(), focal)
    return {"images": as_image(split["crops"]), "backgrounds": as_image(split["backgrounds"]),
            "joints2d": torch.from_numpy(split["joints2d"]).float(), "depth": depth,
            "pose3d": torch.from_numpy(split["truth"]).float(),
            "video": torch.from_numpy(split["video"])}


def sample_pairs(video: torch.Tensor, count: int, min_gap: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` (source, target) index pairs from the same video, at least ``min_gap`` frames apart."""
    src, tgt = [], []
    while len(src) < count:
        i, j = torch.randint(len(video), (2,), generator=generator).tolist()
        if video[i] == video[j] and abs(i - j) >= min_gap:
            src.append(i)
            tgt.append(j)
    return torch.tensor(src), torch.tensor(tgt)


def synthesise(model: PoseSynthModel, source, background, source_2d, source_depth, target_2d, target_depth):
    """The decoder's synthesis of the target from explicit puppets.  Returns (B, 3, S, S)."""
    source_maps = model.render(source_2d, source_depth)
    target_maps = model.render(target_2d, target_depth)
    appearance = model.appearance_encoder(source, source_maps[:, :-1])
    return model.decoder(target_maps, appearance, background, coverage=foreground_mask(target_maps))["image"]


def reconstruction_loss(synthesis: torch.Tensor, target: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    weight = foreground_weight(target, background)
    return l1_loss(synthesis, target, weight) + ssim_loss(synthesis, target, weight=weight)


@torch.no_grad()
def evaluate(model: PoseSynthModel, held: dict[str, torch.Tensor]) -> dict[str, float]:
    """Held-out 2D error (px), PA-MPJPE (mm) and the fraction of frames with yaw within 45°."""
    out = [model.encode_pose(chunk) for chunk in held["images"].split(64)]
    joints2d = torch.cat([o["joints2d"] for o in out])
    pose = torch.cat([o["pose_camera"] for o in out])
    yaw = yaw_error_degrees(pose, held["pose3d"])
    return {"err2d_px": float((joints2d - held["joints2d"]).norm(dim=-1).mean()),
            "pa_mpjpe": float(pa_mpjpe(pose.numpy() * 1000, held["pose3d"].numpy() * 1000).mean()),
            "yaw45": float((yaw.abs() < 45).float().mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a folder with train/ and heldout/ synthetic sets")
    parser.add_argument("--steps-decoder", type=int, default=600)
    parser.add_argument("--steps-encoder", type=int, default=600)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--stride", type=int, default=2, help="use every k-th training frame")
    parser.add_argument("--min-gap", type=int, default=8, help="source/target gap, in strided frames")
    args = parser.parse_args()

    config = load_config(CONFIG, POSE_PATH)
    torch.manual_seed(0)
    model = PoseSynthModel(**model_kwargs(config))
    reference = mean_pose(torch.as_tensor(sample_poses(clips=64, seed=7)))
    model.start_from_pose(reference)
    size, margin = model.image_size, config.data.margin
    train = tensors(labelled_views(args.data / "train", size, margin, args.stride), model.focal)
    held = tensors(labelled_views(args.data / "heldout", size, margin, 4), model.focal)
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    print(f"start: {evaluate(model, held)}  ({len(train['images'])} training frames)", flush=True)

    # stage A: decoder + appearance encoder with the true puppets
    parts = list(model.appearance_encoder.parameters()) + list(model.decoder.parameters())
    optimizer = torch.optim.AdamW(parts, lr=args.lr)
    for step in range(1, args.steps_decoder + 1):
        s, t = sample_pairs(train["video"], args.batch, args.min_gap, generator)
        image = synthesise(model, train["images"][s], train["backgrounds"][t], train["joints2d"][s], train["depth"][s],
                           train["joints2d"][t], train["depth"][t])
        loss = reconstruction_loss(image, train["images"][t], train["backgrounds"][t])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % max(1, args.steps_decoder // 4) == 0:
            print(f"A {step:5d}  recon (true puppets) {loss.item():.4f}  [{time.perf_counter() - started:.0f} s]", flush=True)

    # how much the trained decoder prefers the true puppet over the mean-pose start
    with torch.no_grad():
        s, t = sample_pairs(held["video"], 64, args.min_gap // 2, generator)
        initial = model.encode_pose(held["images"][t])
        start, start_depth = initial["joints2d"], initial["depth"]
        args_src = (held["images"][s], held["backgrounds"][t], held["joints2d"][s], held["depth"][s])
        true_loss = reconstruction_loss(synthesise(model, *args_src, held["joints2d"][t], held["depth"][t]),
                                        held["images"][t], held["backgrounds"][t])
        mean_loss = reconstruction_loss(synthesise(model, *args_src, start, start_depth),
                                        held["images"][t], held["backgrounds"][t])
    print(f"held-out recon with the oracle decoder: true puppet {true_loss.item():.4f}, mean-pose puppet "
          f"{mean_loss.item():.4f}", flush=True)

    # stage B: frozen decoder, fresh encoder from the mean pose, reconstruction only
    parts_set = {id(p) for p in parts}
    for p in parts:
        p.requires_grad_(False)
    encoder = [p for p in model.parameters() if id(p) not in parts_set]
    optimizer = torch.optim.AdamW(encoder, lr=args.lr, betas=(0.5, 0.999))
    for step in range(1, args.steps_encoder + 1):
        s, t = sample_pairs(train["video"], args.batch, args.min_gap, generator)
        out = model(train["images"][s], train["images"][t], train["backgrounds"][t])
        loss = reconstruction_loss(out["synthesis"], train["images"][t], train["backgrounds"][t])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(encoder, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % max(1, args.steps_encoder // 6) == 0:
            print(f"B {step:5d}  recon {loss.item():.4f}  held-out {evaluate(model, held)}  "
                  f"[{time.perf_counter() - started:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
