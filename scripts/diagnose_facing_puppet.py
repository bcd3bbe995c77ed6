"""Diagnostic: does a learned decoder reconstruct a person better under their true side than under its mirror?

A person and the mirror interpretation of the same 2D skeleton (left and right swapped, depths
reflected: the same person turned 180° and mirrored) draw the same parts in the same places; flat
paintings of the two differ only by the soft depth order, which carries no side
(``scripts/diagnose_occlusion.py``). But the synthetic people, like real ones, *look* different
from the front and the back (a face band and hair, a placket or print on the chest,
:mod:`posesynth.synth.body`), and the puppet's channels are labelled: with the right hip's channel
on the image's left of the left hip's, the person faces the camera. A decoder that has learned
how fronts and backs are painted can read the side from that layout. This script measures whether
it does, and how that depends on the side the decoder was taught.

The recipe's appearance encoder and decoder (``configs/heatmap_selfsup.yaml``'s sizes) are
trained on puppets drawn from the *true* 2D and depth, each training pair drawn with the side a
teacher gives (below). On held-out people the decoder then synthesises every target frame from a
frame ``--offset`` away in its clip, with both frames' puppets drawn from the truth and both from
their mirror interpretations (an encoder that mistakes a person's side labels every frame of them
the same way); the script reports how often the truth reconstructs better (0.5: no side). Two
more rows: the target alone mirrored (the frames labelled inconsistently) and the true target
shifted by 1 px (the measure's sensitivity to the 2D).

Two puppets (``--variants``): the plain 16 parts, and the head and both torso parts each split
into a front and a back channel shared by

    front = sigmoid(−k · facing_side(joints2d) / |neck − pelvis|)        (facing_side < 0: facing the camera)

(19 parts), which needs only the labelled 2D skeleton, flips exactly when the labelling does and
is differentiable in the joints; a profile (facing_side ≈ 0) draws half of each.

    python scripts/diagnose_facing_puppet.py --data DATA [--steps 1500] [--size 64] [--label-accuracy Q | --frontal | --travel | --self-teach K | --run RUN] [--json OUT]

By default the teacher is the truth, an oracle: an upper bound on what a self-supervised
reconstruction could learn about the side, not a training run. ``--label-accuracy Q`` draws only a
share Q of the pairs with their true side (the rest mirrored, at random): does a decoder taught by
an encoder that is partly right still prefer the true side, so that the two could improve each
other? ``--frontal`` draws everyone facing the camera, as the recipe's encoder does; ``--travel``
trains only on the pairs the walking direction labels, with the label's side
(``loss.travel_facing``'s labels, from the true ankles): does what a decoder learns about the side
on walks carry over to every motion? ``--self-teach K`` is that travel teacher for K steps, after
which every pair of every motion is drawn with whichever of its four labellings (each frame
frontal or mirrored) the decoder itself reconstructs best, and trained on it: does a decoder that
teaches itself the side climb from where the walks left it, or drift to a labelling of its own?
The held-out numbers are logged at every fifth of the run (the curve, in ``--json``).
``--run RUN`` trains nothing and scores a trained run's own
appearance encoder and decoder the same way (DATA needs only heldout/ then).

``--skeleton-from RUN`` draws every puppet, in training and held out, from a trained run's own 2D
joints and depths (eval mode, :meth:`~posesynth.models.model.PoseSynthModel.encode_pose`) instead
of the truth, each frame given the labelling of that skeleton nearer the true 2D (its frontal
drawing, or its mirror interpretation where the person faces away): the teachers above then
act on the encoder's skeleton. With ``--self-teach 0`` it asks whether the decoder's verdict
can find the side from the 2D an encoder actually reaches, not only from the exact one.
``--noise-px S`` instead adds Gaussian noise of standard deviation S pixels per coordinate to the
true 2D joints, drawn once per frame (an encoder's errors stay with a frame): is it the 2D's
imprecision that stops the loop, or the encoder's frontal drawing?
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from einops import rearrange

from posesynth.config import ConfigError
from posesynth.data.crops import crop_to_frame
from posesynth.evaluation.synthetic import labelled_views
from posesynth.losses.facing import ANKLES, travel_facing
from posesynth.losses.reconstruction import foreground_error_per_frame
from posesynth.models.appearance import AppearanceEncoder
from posesynth.models.decoder import Decoder
from posesynth.models.loading import load_model
from posesynth.models.model import PoseSynthModel
from posesynth.render.puppet import NUM_PARTS, PART_NAMES, foreground_mask, render_part_maps
from posesynth.skeleton import facing_side, mirror_interpretation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diagnose_occlusion import other_frames  # noqa: E402
from diagnose_oracle_decoder import sample_pairs  # noqa: E402

FRONT_BACK_PARTS: tuple[str, ...] = ("lower_torso", "upper_torso", "head")


def front_share(joints2d: torch.Tensor, sharpness: float = 4.0) -> torch.Tensor:
    """How much of the body's front the camera sees, from the labelled 2D skeleton alone.

    sigmoid(−k · facing_side / torso), with facing_side = Σ (x_right − x_left) over hips and
    shoulders (< 0 when the right side is on the image's left, i.e. facing the camera) and the
    torso the pelvis→neck distance, so the share does not depend on the person's size in pixels.
    A frontal person (facing_side ≈ −torso) gets sigmoid(k) ≈ 0.98 at k = 4, a profile ½.

    Args:
        joints2d: (B, 17, 2) pixels, Human3.6M-17 order.
        sharpness: k, unitless.
    Returns:
        (B,) in (0, 1).
    """
    torso = (joints2d[:, 9] - joints2d[:, 0]).norm(dim=-1).clamp(min=1.0)
    return torch.sigmoid(-sharpness * facing_side(joints2d) / torso)


def split_front_back(maps: torch.Tensor, front: torch.Tensor) -> torch.Tensor:
    """Split the head and torso maps into a front and a back channel.

    Args:
        maps: (B, 17, H, W) part maps with the background last (:func:`render_part_maps`).
        front: (B,) the front's share, :func:`front_share`.
    Returns:
        (B, 20, H, W): the 16 parts with ``FRONT_BACK_PARTS`` scaled by ``front``, then those three
        scaled by 1 − ``front`` (the backs), then the background; still summing to 1 per pixel.
    """
    index = [PART_NAMES.index(name) for name in FRONT_BACK_PARTS]
    split = torch.zeros(NUM_PARTS, dtype=maps.dtype, device=maps.device)
    split[index] = 1.0
    f = front.to(maps).reshape(-1, 1, 1, 1)
    keep = 1.0 - split.reshape(1, -1, 1, 1) * (1.0 - f)           # 1, or front on the split parts
    parts = maps[:, :NUM_PARTS]
    return torch.cat([parts * keep, parts[:, index] * (1.0 - f), maps[:, NUM_PARTS:]], dim=1)


class Painter(torch.nn.Module):
    """Appearance encoder + decoder of the recipe, over plain or front/back-split puppets."""

    def __init__(self, split: bool, appearance_channels: int = 32, appearance_width: int = 16,
                 decoder_width: int = 16, decoder_levels: int = 3):
        super().__init__()
        self.split = split
        parts = NUM_PARTS + (len(FRONT_BACK_PARTS) if split else 0)
        self.appearance = AppearanceEncoder(appearance_channels, appearance_width)
        self.decoder = Decoder(parts, appearance_channels, decoder_width, decoder_levels)

    def maps(self, joints2d: torch.Tensor, depth: torch.Tensor, focal: torch.Tensor, size: int) -> torch.Tensor:
        maps = render_part_maps(joints2d, depth, (size, size), focal=focal)
        return split_front_back(maps, front_share(joints2d)) if self.split else maps

    def forward(self, source: torch.Tensor, source_maps: torch.Tensor, target_maps: torch.Tensor,
                background: torch.Tensor) -> torch.Tensor:
        appearance = self.appearance(source, source_maps[:, :-1])
        return self.decoder(target_maps, appearance, background, coverage=foreground_mask(target_maps))["image"]


class TrainedPainter(torch.nn.Module):
    """A trained run's own appearance encoder and decoder behind :class:`Painter`'s interface.

    The run's puppet has a fixed focal length; the true depths are rescaled to it
    (:func:`~posesynth.training.diagnostics.true_puppet_depth`) so that its limbs have their true
    widths in the crop.
    """

    def __init__(self, model: PoseSynthModel):
        super().__init__()
        self.model = model

    def maps(self, joints2d: torch.Tensor, depth: torch.Tensor, focal: torch.Tensor, size: int) -> torch.Tensor:
        return self.model.render(joints2d, depth * (self.model.focal / focal)[:, None])

    def forward(self, source: torch.Tensor, source_maps: torch.Tensor, target_maps: torch.Tensor,
                background: torch.Tensor) -> torch.Tensor:
        appearance = self.model.appearance_encoder(source, source_maps[:, :-1])
        return self.model.decoder(target_maps, appearance, background,
                                  coverage=foreground_mask(target_maps))["image"]


@torch.no_grad()
def use_predicted_skeleton(model: PoseSynthModel, views: dict[str, torch.Tensor], chunk: int = 256) -> float:
    """Replace ``views``' 2D joints and depths by a trained run's, each labelled with its true side.

    The run's encoder draws a skeleton F per frame (its own labelling, in practice everyone facing
    the camera); F and its mirror interpretation M (:func:`~posesynth.skeleton.mirror_interpretation`)
    are the two bodies that skeleton can be. The one whose 2D joints are nearer the true ones
    replaces the truth, so that the script's "truth" is the encoder's skeleton with the right side
    and its "mirror" the same skeleton with the wrong one. ``focal`` becomes the model's, the focal
    its depths are in.

    Args:
        model: a trained run's model (put in eval mode: the reported readout).
        views: :func:`as_tensors`' dict, changed in place: ``joints2d`` (N, 17, 2) crop pixels,
            ``depth`` (N, 17) metres, ``focal`` (N,) pixels.
    Returns:
        the mean distance of the relabelled skeleton's joints from the true ones, crop pixels.
    """
    model.eval()
    joints2d, depth = [], []
    for images in views["image"].split(chunk):
        out = model.encode_pose(images)
        joints2d.append(out["joints2d"])
        depth.append(out["depth"])
    joints2d, depth = torch.cat(joints2d), torch.cat(depth)
    other2d, other_depth = mirror_interpretation(joints2d, depth)
    error, other_error = ((points - views["joints2d"]).norm(dim=-1).mean(dim=-1) for points in (joints2d, other2d))
    mirrored = other_error < error
    views["joints2d"] = torch.where(mirrored[:, None, None], other2d, joints2d)
    views["depth"] = torch.where(mirrored[:, None], other_depth, depth)
    views["focal"] = torch.full_like(views["focal"], float(model.focal))
    return float(torch.minimum(error, other_error).mean())


def add_frame_noise(views: dict[str, torch.Tensor], sigma_px: float, seed: int) -> float:
    """Move every frame's true 2D joints by Gaussian noise, once: the imprecision of an encoder's 2D.

    Args:
        views: :func:`as_tensors`' dict, ``joints2d`` (N, 17, 2) crop pixels changed in place.
        sigma_px: standard deviation per coordinate, crop pixels.
        seed: the noise's generator seed.
    Returns:
        the mean distance of the moved joints from the true ones, crop pixels (≈ σ·√(π/2)).
    """
    generator = torch.Generator().manual_seed(seed)
    noise = sigma_px * torch.randn(views["joints2d"].shape, generator=generator)
    views["joints2d"] = views["joints2d"] + noise
    return float(noise.norm(dim=-1).mean())


def as_tensors(views: dict) -> dict[str, torch.Tensor]:
    image = lambda a: rearrange(torch.from_numpy(a), "n h w c -> n c h w").float() / 255  # noqa: E731
    return {"image": image(views["crops"]), "background": image(views["backgrounds"]),
            "joints2d": torch.from_numpy(views["joints2d"]).float(),
            "depth": torch.from_numpy(views["pose3d"][..., 2]).float(),
            "focal": torch.from_numpy(views["focal"]).float(), "video": torch.from_numpy(views["video"]),
            "boxes": torch.from_numpy(views["boxes"]).float()}


def travel_pairs(train: dict[str, torch.Tensor], min_gap: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every pair of one clip, at least ``min_gap`` entries apart, that the walking direction labels.

    The label is :func:`~posesynth.losses.facing.travel_facing` of the *true* ankles (the best an
    encoder's own ankles could do; 86 % right on the benchmark's pairs, docs/learning.md).

    Returns:
        (M,) earlier and (M,) later indices, (M,) labels in {−1 (facing the camera), +1 (away)}.
    """
    firsts, seconds = [], []
    for video in train["video"].unique():
        rows = torch.nonzero(train["video"] == video).flatten()  # in frame order
        a, b = torch.triu_indices(len(rows), len(rows), offset=min_gap)
        firsts.append(rows[a])
        seconds.append(rows[b])
    first, second = torch.cat(firsts), torch.cat(seconds)
    size = train["image"].shape[-1]
    feet = crop_to_frame(train["joints2d"][:, list(ANKLES)], train["boxes"], size).mean(dim=1)
    side = train["boxes"][:, 2] - train["boxes"][:, 0]
    label = travel_facing(feet[first], feet[second], 0.5 * (side[first] + side[second]))
    known = label != 0
    return first[known], second[known], label[known]


def verdict_losses(painter: Painter, train: dict[str, torch.Tensor], s: torch.Tensor,
                   t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pair reconstructed under each of its four labellings: the decoder's own verdict on the side.

    Every frame's skeleton has two readings, its frontal labelling F (right side on the image's
    left, :func:`~posesynth.skeleton.facing_side` < 0) and F's mirror interpretation M; one of
    them is the truth. F is a function of the unlabelled geometry alone (it is the same whichever
    reading is the truth), so choosing among (source, target) ∈ {F, M}² by the reconstruction
    uses no label.

    Args:
        s, t: (B,) source and target indices into ``train``.
    Returns:
        (B, 4) per-frame losses (:func:`foreground_error_per_frame`) of the labellings (F, F),
        (F, M), (M, F), (M, M) as (source, target), with gradients; (B, 4, 2) bool, which frame
        each mirrors.
    """
    size = train["image"].shape[-1]

    def draw(i: torch.Tensor, mirrored: bool) -> torch.Tensor:
        joints2d, depth = train["joints2d"][i], train["depth"][i]
        other2d, other_depth = mirror_interpretation(joints2d, depth)
        flip = (facing_side(joints2d) > 0) ^ mirrored  # the truth is flipped to F where it faces away
        joints2d = torch.where(flip[:, None, None], other2d, joints2d)
        depth = torch.where(flip[:, None], other_depth, depth)
        return painter.maps(joints2d, depth, train["focal"][i], size)

    combos = ((False, False), (False, True), (True, False), (True, True))
    maps = {(frame, mirrored): draw(index, mirrored) for frame, index in (("s", s), ("t", t))
            for mirrored in (False, True)}
    image, background = train["image"], train["background"]
    losses = [foreground_error_per_frame(painter(image[s], maps["s", a], maps["t", b], background[t]), image[t],
                                         background[t]) for a, b in combos]
    mirrors = torch.tensor(combos).expand(len(s), 4, 2)
    return torch.stack(losses, dim=1), mirrors


def train_painter(painter: Painter, train: dict[str, torch.Tensor], *, steps: int, batch: int, lr: float,
                  min_gap: int, seed: int, log, label_accuracy: float = 1.0, frontal: bool = False,
                  travel: bool = False, self_teach: int | None = None, evaluate=None) -> list[dict[str, float]]:
    """Train the appearance encoder and decoder on puppets drawn from the true poses.

    With ``label_accuracy`` q < 1 each pair is drawn, source and target alike, from its mirror
    interpretation with probability 1 − q: a decoder taught by an encoder that gets the side of
    a fraction q of the people right (its mistakes are whole people, so both frames of a pair).
    With ``frontal`` every pair whose target faces away is drawn mirrored instead: everyone as if
    facing the camera, the labelling the recipe's encoder starts from and keeps. With ``travel``
    only the pairs the walking direction labels are used (:func:`travel_pairs`), each drawn with
    the side its label gives.

    With ``self_teach`` K the first K steps are the ``travel`` teacher's, and every later pair, of
    any motion, is drawn with the labelling its own reconstruction prefers
    (:func:`verdict_losses`; the loss is the smallest of the four): a loop in which the decoder
    teaches itself the side, started from what the walks taught it. ``evaluate``, if given, is
    called with no arguments at every log line and its dict joins that line's record.

    Returns:
        one record per log line: ``step``, ``loss``, and while self-teaching
        ``verdict_right_target`` and ``verdict_right_source``, the share of the pairs since the
        last line whose chosen labelling gave that frame its true side.
    """
    size = train["image"].shape[-1]
    history: list[dict[str, float]] = []
    right_counts = torch.zeros(2)
    chosen = 0
    travel = travel or bool(self_teach)
    optimizer = torch.optim.AdamW(painter.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    if travel:
        first, second, label = travel_pairs(train, min_gap)
        right = (torch.sign(facing_side(train["joints2d"][second])) == label).float().mean()
        log(f"  {len(label)} pairs labelled by the walking direction, {right:.1%} of them rightly")
    started = time.perf_counter()

    def history_line(step: int, loss: torch.Tensor) -> None:
        nonlocal chosen
        if step % max(1, steps // 5) and step != steps:
            return
        record = {"step": step, "loss": loss.item()}
        text = f"  step {step:5d}  loss {loss.item():.4f}"
        if chosen:
            record.update(verdict_right_source=float(right_counts[0] / chosen),
                          verdict_right_target=float(right_counts[1] / chosen))
            text += f"  verdict gave the true side to {record['verdict_right_target']:.1%} of targets"
            right_counts.zero_()
            chosen = 0
        if evaluate is not None:
            painter.eval()
            record.update(evaluate())
            painter.train()
            text += f"  held-out truth beats mirror {record['truth_beats_mirror']:.1%}"
        history.append(record)
        log(text + f"  [{time.perf_counter() - started:.0f} s]")

    for step in range(1, steps + 1):
        if self_teach is not None and step > self_teach:
            s, t = sample_pairs(train["video"], batch, min_gap, generator)
            losses, mirrors = verdict_losses(painter, train, s, t)
            best = losses.detach().argmin(dim=1)
            picked = mirrors[torch.arange(batch), best]                          # (B, 2): source, target
            truth = torch.stack([facing_side(train["joints2d"][i]) > 0 for i in (s, t)], dim=1)  # true side is M
            right_counts += (picked == truth).float().sum(0)
            chosen += batch
            loss = losses.gather(1, best[:, None]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history_line(step, loss)
            continue
        if travel:
            pick = torch.randint(len(label), (batch,), generator=generator)
            s, t = first[pick], second[pick]
        else:
            s, t = sample_pairs(train["video"], batch, min_gap, generator)
        wrong = (torch.rand(batch, generator=generator) >= label_accuracy if label_accuracy < 1
                 else torch.zeros(batch, dtype=torch.bool))
        if frontal:
            wrong = facing_side(train["joints2d"][t]) > 0
        if travel:  # the truth is mirrored where its side disagrees with the label
            wrong = torch.sign(facing_side(train["joints2d"][t])) != label[pick]

        def draw(i: torch.Tensor) -> torch.Tensor:
            joints2d, depth = train["joints2d"][i], train["depth"][i]
            other2d, other_depth = mirror_interpretation(joints2d, depth)
            joints2d = torch.where(wrong[:, None, None], other2d, joints2d)
            depth = torch.where(wrong[:, None], other_depth, depth)
            return painter.maps(joints2d, depth, train["focal"][i], size)

        synthesis = painter(train["image"][s], draw(s), draw(t), train["background"][t])
        loss = foreground_error_per_frame(synthesis, train["image"][t], train["background"][t]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history_line(step, loss)
    return history


@torch.no_grad()
def compare_interpretations(painter: Painter, held: dict[str, torch.Tensor], offset: int) -> dict[str, float]:
    """Held-out reconstruction of each target under four labellings of the pair.

    Every target frame is synthesised from the frame ``offset`` away in its clip, with both
    puppets drawn from the truth, both from their mirror interpretations (the other side,
    labelled consistently in both frames, as an encoder that mistakes a person's side would), the
    target alone mirrored (the two frames labelled inconsistently), and the true target shifted
    by 1 px (the measure's sensitivity to the 2D).

    Returns:
        ``truth_beats_mirror`` (both frames mirrored) overall and by the true facing, its median
        relative margin (mirror − truth) / truth, ``truth_beats_mirrored_target`` and its margin,
        ``truth_beats_shift_1px`` and the mean loss with the truth.
    """
    size = held["image"].shape[-1]
    source = other_frames(held["video"], offset)
    toward = facing_side(held["joints2d"]) < 0
    truth = (held["joints2d"], held["depth"])
    mirror = mirror_interpretation(*truth)
    shifted = (held["joints2d"] + held["joints2d"].new_tensor([1.0, 0.0]), held["depth"])
    # (source puppet, target puppet) per labelling
    labellings = {"truth": (truth, truth), "mirror": (mirror, mirror), "mirrored_target": (truth, mirror),
                  "shift": (truth, shifted)}
    losses = {name: [] for name in labellings}
    for chunk in torch.arange(len(source)).split(64):
        s = source[chunk]
        for name, ((source2d, source_depth), (target2d, target_depth)) in labellings.items():
            source_maps = painter.maps(source2d[s], source_depth[s], held["focal"][s], size)
            target_maps = painter.maps(target2d[chunk], target_depth[chunk], held["focal"][chunk], size)
            synthesis = painter(held["image"][s], source_maps, target_maps, held["background"][chunk])
            losses[name].append(foreground_error_per_frame(synthesis, held["image"][chunk], held["background"][chunk]))
    loss = {name: torch.cat(values) for name, values in losses.items()}
    margin = lambda other: float(((other - loss["truth"]) / loss["truth"].clamp(min=1e-9)).median())  # noqa: E731
    wins = (loss["truth"] < loss["mirror"]).float()
    return {"truth_beats_mirror": float(wins.mean()),
            "truth_beats_mirror_facing_camera": float(wins[toward].mean()),
            "truth_beats_mirror_facing_away": float(wins[~toward].mean()),
            "median_relative_margin": margin(loss["mirror"]),
            "truth_beats_mirrored_target": float((loss["truth"] < loss["mirrored_target"]).float().mean()),
            "median_relative_margin_mirrored_target": margin(loss["mirrored_target"]),
            "truth_beats_shift_1px": float((loss["truth"] < loss["shift"]).float().mean()),
            "median_relative_margin_shift_1px": margin(loss["shift"]),
            "loss_truth": float(loss["truth"].mean())}


def summary(row: dict[str, float]) -> str:
    """One line of :func:`compare_interpretations`' numbers."""
    return (f"truth beats its mirror in {row['truth_beats_mirror']:.1%} of held-out frames (facing the camera "
            f"{row['truth_beats_mirror_facing_camera']:.1%}, away {row['truth_beats_mirror_facing_away']:.1%}), "
            f"median margin {row['median_relative_margin']:+.2%}; beats the target alone mirrored in "
            f"{row['truth_beats_mirrored_target']:.1%} ({row['median_relative_margin_mirrored_target']:+.2%}), "
            f"a 1 px shift in {row['truth_beats_shift_1px']:.1%} ({row['median_relative_margin_shift_1px']:+.2%}); "
            f"loss {row['loss_truth']:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a folder with train/ and heldout/ synthetic sets")
    parser.add_argument("--size", type=int, default=64, help="crop side, pixels")
    parser.add_argument("--steps", type=int, default=1500, help="decoder training steps per variant")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--stride", type=int, default=2, help="keep every n-th training frame")
    parser.add_argument("--min-gap", type=int, default=4, help="source/target gap in training pairs, kept frames")
    parser.add_argument("--offset", type=int, default=4, help="held-out source frame's distance, kept frames")
    parser.add_argument("--decoder-width", type=int, default=16)
    teacher = parser.add_mutually_exclusive_group()  # which side each training pair is drawn with
    teacher.add_argument("--label-accuracy", type=float, default=1.0,
                         help="share of training pairs drawn with their true side (the rest mirrored)")
    teacher.add_argument("--frontal", action="store_true",
                         help="train on everyone drawn as if facing the camera (the recipe's labelling)")
    teacher.add_argument("--travel", action="store_true",
                         help="train only on the pairs the walking direction labels, drawn with the label's side")
    teacher.add_argument("--self-teach", type=int, default=None, metavar="K",
                         help="the --travel teacher for K steps, then every pair drawn with the labelling its own "
                              "reconstruction prefers")
    parser.add_argument("--variants", nargs="+", choices=("plain", "split"), default=["plain", "split"])
    parser.add_argument("--run", type=Path, default=None,
                        help="score a trained run's own decoder (a run folder or model.pt) instead of training any")
    parser.add_argument("--skeleton-from", type=Path, default=None, metavar="RUN",
                        help="draw every puppet from this trained run's 2D joints and depths, each frame with its "
                             "true side, instead of the truth")
    parser.add_argument("--noise-px", type=float, default=0.0, metavar="S",
                        help="add Gaussian noise of S px per coordinate to the true 2D joints, once per frame")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    log = lambda text: print(text, flush=True)  # noqa: E731
    try:
        trained = None if args.run is None else TrainedPainter(load_model(args.run))
        size = args.size if trained is None else trained.model.image_size
        skeleton = None if args.skeleton_from is None else load_model(args.skeleton_from)
        if skeleton is not None and skeleton.image_size != size:
            raise ConfigError(f"{args.skeleton_from} predicts {skeleton.image_size} px crops; pass --size "
                              f"{skeleton.image_size}")
        train = None if trained else as_tensors(labelled_views(args.data / "train", size, 1.25, stride=args.stride))
        held = as_tensors(labelled_views(args.data / "heldout", size, 1.25, stride=2))
    except (FileNotFoundError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if skeleton is not None:
        for name, views in (("training", train), ("held-out", held)):
            if views is not None:
                log(f"{name} puppets from {args.skeleton_from}: "
                    f"{use_predicted_skeleton(skeleton, views):.2f} px from the truth with the side open")
    if args.noise_px > 0:
        for offset, (name, views) in enumerate((("training", train), ("held-out", held))):
            if views is not None:
                moved = add_frame_noise(views, args.noise_px, args.seed + 1000 * (offset + 1))
                log(f"{name} puppets moved {moved:.2f} px from the truth by noise")
    toward = float((facing_side(held["joints2d"]) < 0).float().mean())
    log(f"{0 if train is None else len(train['image'])} training frames; {len(held['image'])} held-out frames, "
        f"{toward:.1%} facing the camera")
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "heldout_facing_camera": toward, "variants": {}}
    if trained is not None:
        row = report["variants"][f"run {args.run}"] = compare_interpretations(trained.eval(), held, args.offset)
        log(f"run {args.run}: " + summary(row))
    for split in (variant == "split" for variant in ([] if trained else args.variants)):
        name = "front/back split" if split else "plain"
        log(f"{name} puppet: training the decoder on puppets drawn from "
            f"{'the truth' if skeleton is None else args.skeleton_from}"
            f"{f' plus {args.noise_px} px of noise' if args.noise_px > 0 else ''}")
        torch.manual_seed(args.seed)
        painter = Painter(split, decoder_width=args.decoder_width)
        curve = train_painter(painter, train, steps=args.steps, batch=args.batch, lr=args.lr, min_gap=args.min_gap,
                              seed=args.seed, log=log, label_accuracy=args.label_accuracy, frontal=args.frontal,
                              travel=args.travel, self_teach=args.self_teach,
                              evaluate=lambda: compare_interpretations(painter, held, args.offset))
        row = compare_interpretations(painter.eval(), held, args.offset)
        report["variants"][name] = row
        report.setdefault("curves", {})[name] = curve
        log(f"{name}: " + summary(row))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
