"""Training: build → prepare → the shared loop (:func:`posesynth.training.loop.run_loop`), with Accelerate.

One process or many (``accelerate launch -m posesynth train ...``), CPU or GPU, bf16/fp16 where
the device has it, gradient accumulation. The data position needs no bookkeeping: item i of the
pair dataset is a pure function of (seed, i) and the sampler walks i = 0, 1, 2, …, so resuming
at step s skips s·accumulation batches without loading them. This module supplies the build and
the step (the model's forward, the discriminator's update, held-out evaluation and samples); the
loop skeleton it shares with depth pre-training (accumulation, NaN stop, clipping, schedules,
logs, checkpoints) is :mod:`posesynth.training.loop`, checkpoints and exact resume
:mod:`posesynth.training.checkpoints`.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path

import torch
from accelerate.utils import set_seed
from torch.utils.data import DataLoader, SequentialSampler

from posesynth.config import LOSS_TERMS, Config
from posesynth.data.multiview_dataset import MultiViewDataset
from posesynth.data.pairs import FramePairDataset
from posesynth.evaluation.synthetic import labelled_views, score_poses
from posesynth.geometry import project
from posesynth.losses.combine import compute_losses
from posesynth.losses.facing import travel_facing_labels
from posesynth.losses.multiview_terms import cross_view_poses, pair_roots, stack_views, swap_halves
from posesynth.losses.priors import discriminator_loss
from posesynth.losses.reconstruction import foreground_error_per_frame
from posesynth.models.discriminator import PoseDiscriminator
from posesynth.models.model import PoseSynthModel
from posesynth.render.face import face_palette
from posesynth.render.puppet import foreground_mask
from posesynth.render.warp import random_similarities
from posesynth.training.checkpoints import init_weights, model_kwargs
from posesynth.training.imitation_views import sample_views
from posesynth.training.inputs import canonical_poses, mean_pose, resolve_keypoints, unpaired_poses
from posesynth.training.loop import lr_factor, make_accelerator, run_loop, start_run
from posesynth.training.refiner_fit import fit_refiner, refiner_fit_views
from posesynth.training.side_fit import fit_model_sides
from posesynth.viz.draw import sample_grid
from posesynth.viz.grid import save_png

log = logging.getLogger(__name__)


LIFTING_BATCH = 256  # sampled poses per step for the lifter: a small MLP, it needs many more than the images


# --- building blocks ------------------------------------------------------------------------

def step_generator(seed: int, step: int, micro: int, stream: int = 0) -> torch.Generator:
    """A generator that is a pure function of (seed, step, micro, stream): exact resume needs no RNG state."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step * 97 + micro + stream)


def sample_real_poses(poses: torch.Tensor, count: int, seed: int, step: int, micro: int) -> torch.Tensor:
    """``count`` unpaired poses for one discriminator step; a pure function of (seed, step, micro)."""
    generator = step_generator(seed, step, micro)
    return poses[torch.randint(len(poses), (count,), generator=generator)]


def frame_warps(count: int, seed: int, step: int, micro: int, image_size: int) -> torch.Tensor:
    """``count`` similarity warps for one equivariance step; pure in (seed, step, micro).  → (count, 2, 3) px."""
    generator = step_generator(seed, step, micro, 15_485_863)
    return random_similarities(count, image_size, generator)


def step_imitation_views(poses: torch.Tensor, count: int, seed: int, step: int, micro: int, image_size: int,
                         focal: float, elevation_deg: tuple[float, float], max_lean_deg: float) -> torch.Tensor:
    """``count`` unpaired poses placed in the crop camera for one imitation step; pure in (seed, step, micro).

    Returns:
        (count, 17, 3) crop camera frame, metres (:func:`posesynth.training.imitation_views.sample_views`).
    """
    chosen = sample_real_poses(poses, count, seed + 7919, step, micro)
    generator = step_generator(seed, step, micro, 104_729)
    return sample_views(chosen, image_size=image_size, focal=focal, generator=generator,
                        elevation_deg=elevation_deg, max_lean_deg=max_lean_deg)


def face_colours(count: int, seed: int, step: int, micro: int) -> torch.Tensor:
    """Skin and hair colours for ``count`` imitation paintings' faces; pure in (seed, step, micro).  → (count, 2, 3)."""
    return face_palette(count, step_generator(seed, step, micro, 2_750_159))


def refining_noise(count: int, sigma: float, seed: int, step: int, micro: int) -> torch.Tensor:
    """Gaussian 2D noise for the refiner's ``count`` sampled poses; pure in (seed, step, micro).  → (count, 17, 2) px."""
    generator = step_generator(seed, step, micro, 7_368_787)
    return sigma * torch.randn(count, 17, 2, generator=generator)


def multiview_outputs(model: PoseSynthModel, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], *,
                      synthesize: bool) -> dict[str, torch.Tensor]:
    """What the multi-view terms need from the networks, on :func:`stack_views`'s 2B crops.

    Returns:
        ``pair_root`` (2B, 3) metres (:func:`~posesynth.losses.multiview_terms.pair_roots`) and, with
        ``synthesize``, ``cross_view_synthesis`` (2B, 3, S, S): each view's frame drawn by the
        model's renderer and decoder from the other view's pose, with its own appearance and background.
    """
    root = pair_roots(outputs, batch)
    extra = {"pair_root": root}
    if synthesize:
        moved, K_other = cross_view_poses(outputs["pose_camera"], root, batch["R_ij"], batch["t_ij"], batch["K_crop"])
        # the renderer sizes parts for the model's own focal length: express depth in its units
        depth = moved[..., 2] * (model.focal / K_other[:, 0, 0])[:, None]
        maps = model.render(project(moved, K_other), depth)
        extra["cross_view_synthesis"] = model.decoder(maps, swap_halves(outputs["appearance"]),
                                                      swap_halves(batch["background"]),
                                                      coverage=foreground_mask(maps))["image"]
    return extra


# --- the loop -------------------------------------------------------------------------------

def train(config: Config, out: str | os.PathLike, *, resume: bool = False, stop_after: int | None = None,
          progress: bool = True) -> Path:
    """Train a model; returns the run directory.

    Args:
        config: the resolved configuration (unpacked here, once).
        out: run directory (created; holds config.yaml, log.jsonl, tb/, samples/, checkpoints/).
        resume: continue from ``out``'s latest checkpoint (model, optimisers, schedulers, step,
            RNG, data position) instead of starting afresh.
        stop_after: stop (with a checkpoint) after this step even if ``train.steps`` is larger —
            an interruption on purpose, used to test exact resume.
        progress: show a tqdm bar on the main process.
    Raises:
        NonFiniteLossError naming the term when a loss stops being finite.
    """
    run = Path(out)
    data, m, losses, t = config.data, config.model, config.loss, config.train
    accelerator = make_accelerator(t.mixed_precision, t.grad_accum, t.compile)
    set_seed(t.seed)

    # --- build (what the config leaves open is filled in and logged: 2D keypoints, unpaired poses)
    config = resolve_keypoints(config, run, main_process=accelerator.is_main_process, wait=accelerator.wait_for_everyone)
    data, losses = config.data, config.loss
    real_poses = canonical_poses(torch.as_tensor(unpaired_poses(data), dtype=torch.float32))
    micro_batches = t.steps * t.grad_accum
    pair_options = dict(videos=data.videos, cache=data.cache, size=m.image_size, min_gap=data.min_gap,
                        max_gap=data.max_gap, background_window=data.background_window, margin=data.margin,
                        box_source=data.box_source, seed=t.seed, labels3d=data.labels3d,
                        labels_fraction=data.labels_fraction,
                        # keypoints: wherever the config names them, or beside the videos when a term needs them
                        keypoints2d=data.keypoints2d or bool(losses.reprojection or losses.relative_depth),
                        relative_depth=bool(losses.relative_depth))
    multiview = data.calibration is not None
    if multiview:  # view pairs of one instant: half a batch of instants gives a batch of crops
        dataset = MultiViewDataset(**pair_options, calibration=data.calibration, subject=data.calibration_subject,
                                   trust_pickle=data.trust_pickle,
                                   instants_per_epoch=micro_batches * t.batch_size * accelerator.num_processes)
    else:
        dataset = FramePairDataset(**pair_options,
                                   pairs_per_epoch=micro_batches * t.batch_size * accelerator.num_processes)
    if not multiview and (losses.multiview_consistency or losses.transform_reprojection or losses.cross_view):
        raise ValueError("loss.multiview_consistency / transform_reprojection / cross_view need synchronised views: "
                         "set data.calibration (a calibration file, or a synthetic set's scenes.json)")
    if bool(losses.lifting) != m.lifter:
        raise ValueError("model.lifter and loss.lifting go together: the lifter learns only from the lifting term "
                         f"(got model.lifter={m.lifter}, loss.lifting={losses.lifting})")
    if bool(losses.refining) != m.refiner:
        raise ValueError("model.refiner and loss.refining go together: the refiner learns only from the refining "
                         f"term (got model.refiner={m.refiner}, loss.refining={losses.refining})")
    if losses.pose3d and data.labels3d is None:
        raise ValueError("loss.pose3d > 0 needs 3D labels: set data.labels3d to a folder of <video stem>.npz "
                         "label files (or set loss.pose3d=0)")
    per_loader = max(1, t.batch_size // 2) if multiview else t.batch_size
    loader = DataLoader(dataset, batch_size=per_loader, sampler=SequentialSampler(dataset),
                        num_workers=data.num_workers, drop_last=True, persistent_workers=data.num_workers > 0)
    model = PoseSynthModel(**model_kwargs(config))
    reference_pose = mean_pose(real_poses)
    model.start_from_pose(reference_pose)
    if t.init is not None:
        init_weights(model, t.init)
    discriminator = PoseDiscriminator(hidden=m.discriminator_hidden)
    optimizer = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay, betas=(0.5, 0.999))
    d_optimizer = torch.optim.AdamW(discriminator.parameters(), lr=t.lr_discriminator, betas=(0.5, 0.999))
    schedule = lambda step: lr_factor(step, t.warmup_steps, t.steps)  # noqa: E731
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    d_scheduler = torch.optim.lr_scheduler.LambdaLR(d_optimizer, schedule)
    weights = {name: getattr(losses, name) for name in LOSS_TERMS}
    elevation = (losses.imitation_elevation_min_deg, losses.imitation_elevation_max_deg)
    lpips_options = dict(net=losses.lpips_net, backbone_weights=losses.lpips_backbone,
                         linear_weights=losses.lpips_linear)

    # --- prepare (schedulers stay ours: Accelerate's wrapper steps them once per process)
    model, discriminator, optimizer, d_optimizer, loader = accelerator.prepare(
        model, discriminator, optimizer, d_optimizer, loader)
    accelerator.register_for_checkpointing(scheduler, d_scheduler)
    prior = accelerator.unwrap_model(discriminator)  # the generator's view: no DDP hooks, no D gradients
    step, loader = start_run(accelerator, run, config, loader, resume=resume, grad_accum=t.grad_accum)
    heldout = None  # crops, 3D and 2D truth of data.eval_synthetic, loaded at the first evaluation
    end = t.steps if stop_after is None else min(t.steps, stop_after)
    last: dict[str, dict] = {}  # the latest step's outputs, for the sample grids

    # --- the step: what this loop supplies to the shared skeleton
    def compute(batch: dict, step: int, micro: int) -> dict[str, torch.Tensor]:
        # unpaired poses placed in the crop camera: painted for imitation (a batch), lifted (many)
        count = len(batch["target"])
        imitate = bool(losses.imitation) and step >= losses.imitation_start
        verdict = bool(losses.facing_verdict) and step >= losses.facing_verdict_start
        sampled = None
        lifts = bool(losses.lifting or losses.refining)
        if imitate or lifts:
            sampled = step_imitation_views(real_poses, max(count, LIFTING_BATCH if lifts else 0), t.seed,
                                           step, micro, m.image_size, accelerator.unwrap_model(model).focal,
                                           elevation, losses.imitation_lean_deg)
            sampled = sampled.to(batch["target"].device)
        noise = (refining_noise(len(sampled), losses.refining_noise_px, t.seed, step, micro).to(sampled.device)
                 if losses.refining else None)
        outputs = model(batch["source"], batch["target"], batch["background"],
                        imitation_joints=sampled[:count] if imitate else None,
                        lifting_joints=sampled if lifts else None, flat_share=losses.imitation_flat,
                        warped_share=losses.imitation_warped, refining_noise=noise,
                        face_palette=face_colours(count, t.seed, step, micro).to(batch["target"].device)
                        if imitate and losses.imitation_face else None,
                        warp=frame_warps(count, t.seed, step, micro, m.image_size).to(batch["target"].device)
                        if losses.equivariance else None,
                        verdict_error=foreground_error_per_frame if verdict else None,
                        verdict_anchor=walk_anchor(batch), verdict_margin=losses.facing_verdict_margin)
        if weights["adversarial"]:
            prior.requires_grad_(False)  # the generator step must not train the discriminator
            outputs["prior_logits"] = prior(torch.cat([outputs["pose_body"], outputs["source_pose_body"]]))
            prior.requires_grad_(True)
        if multiview and weights["cross_view"]:  # the synthesis the cross-view term scores
            outputs.update(multiview_outputs(accelerator.unwrap_model(model), outputs, batch, synthesize=True))
        last["outputs"] = outputs
        return compute_losses(outputs, batch, weights=weights, foreground_boost=losses.foreground_boost,
                              lpips_options=lpips_options, crop_K=accelerator.unwrap_model(model).K,
                              imitation_side_open=losses.imitation_side_open)

    def walk_anchor(batch: dict):
        """With both facing terms on, the walking direction's label decides the pairs it labels."""
        if not (losses.facing_verdict and losses.travel_facing and "source_box" in batch):
            return None
        return lambda target2d, source2d: travel_facing_labels(target2d, batch["box"], batch["target_index"], source2d,
                                                               batch["source_box"], batch["source_index"], m.image_size)

    def train_discriminator(batch: dict, terms: dict[str, torch.Tensor], step: int, micro: int) -> None:
        if weights["adversarial"]:
            outputs = last["outputs"]
            fake = torch.cat([outputs["pose_body"], outputs["source_pose_body"]]).detach()
            real = sample_real_poses(real_poses, len(fake), t.seed, step, micro).to(fake.device)
            d_loss = discriminator_loss(discriminator(real), discriminator(fake))
            terms["discriminator"] = d_loss.detach()
            accelerator.backward(d_loss)
            d_optimizer.step()
            d_optimizer.zero_grad(set_to_none=True)

    def finish_refiner(values: dict[str, float]) -> None:
        # The refiner learns from unpaired poses only, one batch a step under the networks' decaying
        # schedule; more batches after the last step make the reported pose better (BENCHMARKS.md,
        # "Reading the heatmaps sharper"). A CPU copy is fitted (the sampler draws on the CPU) with
        # the run's seed, so every process ends with the same weights.
        refiner = accelerator.unwrap_model(model).refiner
        fitted = copy.deepcopy(refiner).cpu().float()
        fit_losses = fit_refiner(fitted, real_poses.cpu(), K=accelerator.unwrap_model(model).K.cpu().float(),
                                 image_size=m.image_size, iterations=t.refiner_fit_iterations,
                                 noise_px=losses.refining_noise_px, seed=t.seed,
                                 **refiner_fit_views(elevation, losses.imitation_lean_deg,
                                                     t.refiner_fit_elevation_min_deg, t.refiner_fit_elevation_max_deg,
                                                     t.refiner_fit_lean_deg))
        refiner.load_state_dict(fitted.state_dict())   # copied into the refiner's own device and dtype
        values["refiner_fit/final_loss"] = sum(fit_losses[-50:]) / len(fit_losses[-50:])

    def finish_sides(values: dict[str, float]) -> None:
        # The side classifier learns after the run, from faced paintings of unpaired poses in the
        # run's own colours over its own plates (training.side_fit; BENCHMARKS.md, "The side
        # stage"). Every process fits the same copy with the run's seed.
        fit_losses = fit_model_sides(accelerator.unwrap_model(model), dataset, real_poses,
                                     iterations=t.side_fit_iterations, seed=t.seed, num_workers=data.num_workers,
                                     elevation_deg=elevation, max_lean_deg=losses.imitation_lean_deg)
        values["side_fit/final_loss"] = sum(fit_losses[-50:]) / len(fit_losses[-50:])

    def evaluate_and_sample(step: int, batch: dict, values: dict[str, float]) -> None:
        nonlocal heldout
        if step == t.steps and t.refiner_fit_iterations:   # the run's end (not a stop_after pause)
            finish_refiner(values)
        if step == t.steps and t.side_fit_iterations:
            finish_sides(values)
        if t.eval_every and data.eval_synthetic and (step % t.eval_every == 0 or step == end):
            if accelerator.is_main_process:  # the others wait: a small held-out set, scored once
                if heldout is None:  # decoded and cropped once per run, not at every evaluation
                    views = labelled_views(data.eval_synthetic, m.image_size, data.margin)
                    heldout = {k: views[k] for k in ("crops", "truth", "joints2d")}
                scores = score_poses(accelerator.unwrap_model(model), heldout["crops"], heldout["truth"],
                                     mean_pose=reference_pose, joints2d=heldout["joints2d"])
                values.update({f"eval/{who}_{metric}": value for who in ("model", "baseline", "constant")
                               for metric, value in scores[who].items()})
            accelerator.wait_for_everyone()
        if accelerator.is_main_process and (step % t.sample_every == 0 or step == end):
            _save_samples(run, step, batch, last["outputs"])

    # --- loop
    run_loop(accelerator, loader, run=run, config=config, model=model, optimizer=optimizer,
             # without the adversarial term the discriminator's optimiser never steps: neither does its schedule
             schedulers=(scheduler, d_scheduler) if weights["adversarial"] else (scheduler,), step=step, end=end,
             compute=compute, clip=model.parameters,
             accumulate=(model, discriminator), count=lambda batch: batch["target"].shape[0], rate="pairs_per_s",
             prepare=stack_views if multiview else None, after_backward=train_discriminator,
             on_step=evaluate_and_sample, desc="train", progress=progress)
    return run


def _save_samples(run: Path, step: int, batch: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> None:
    """``RUN/samples/step_0000200.png``: source | target with skeleton | part maps | synthesis."""
    save_png(sample_grid(batch, outputs), run / "samples" / f"step_{step:07d}.png")
