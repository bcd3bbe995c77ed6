"""The whole part-guided synthesis model: wires the encoders, the puppet and the decoder.

One forward pass (Kundu et al., CVPR 2020, fig. 2, with a 2.5D pose encoder):

    target, source ──HeatmapPoseEncoder──► heatmaps → joints2d (B, 17, 2) crop px (soft-argmax),
        depth maps → root-relative depths (B, 17) m, a root depth factor
        ──unproject through the fixed crop camera K──► joints (B, 17, 3), camera frame
        ──derived──► body rotation (B, 3, 3), pose3d (B, 17, 3) body frame, bone directions
        ──render_part_maps(joints2d, depth)──► part maps (B, P+1, H, W)
    AppearanceEncoder(source, source part maps) ──► appearance (B, P, C)
    Decoder(target part maps, appearance, target background) ──► synthesised target

The puppet is drawn from the predicted 2D joints and depths, so the reconstruction gradient lands
on each joint where it is (:mod:`posesynth.models.heatmap_encoder`).

The crop camera is fixed (the paper's "fixed perspective camera P"): focal length
``focal_ratio × image_size`` pixels, principal point at the crop centre. The root depth sets the
person's size in the crop: it is predicted as a log-factor around the nominal depth at which a
1.7 m person fills 75 % of the crop.
"""

from __future__ import annotations

import math
from typing import Callable, Literal

import torch
from torch import nn

from posesynth.geometry import intrinsics, project, unproject
from posesynth.kinematics import global_to_local_directions, pose_to_directions
from posesynth.models.appearance import AppearanceEncoder
from posesynth.models.decoder import Decoder
from posesynth.models.discriminator import body_frame
from posesynth.models.heatmap_encoder import PRIOR_SIGMA_CELLS, READOUT_SHARPNESS, HeatmapPoseEncoder
from posesynth.models.lifter import DepthLifter, normalise_2d, refined_pose, refined_targets, relative_depth_units
from posesynth.models.side_classifier import SideClassifier
from posesynth.render.face import face_anchor, head_colours
from posesynth.render.paint import observed_foreground, paint_parts, paint_warped_parts, part_colours
from posesynth.render.puppet import NUM_PARTS, foreground_mask, render_part_maps
from posesynth.render.warp import warp_person
from posesynth.skeleton import facing_side, swap_sides

NOMINAL_HEIGHT_M = 1.7
NOMINAL_FILL = 0.75


class PoseSynthModel(nn.Module):
    """2.5D pose encoder + appearance encoder + decoder around the differentiable puppet.

    Args:
        image_size: crop side S, pixels.
        encoder_width, encoder_stages: pose encoder size
            (:class:`~posesynth.models.heatmap_encoder.HeatmapPoseEncoder`).
        appearance_channels, appearance_width: appearance encoder size.
        decoder_width, decoder_levels: decoder size.
        focal_ratio: crop focal length / S.
        lifter: add the depths a :class:`~posesynth.models.lifter.DepthLifter` reads off the
            predicted 2D joints to the depth maps' (which then learn a residual). The lifter
            learns only from projections of unpaired poses (``loss.lifting``).
        start_facing: :meth:`start_from_pose` draws the starting pose facing the camera
            (``"front"``) or as its mean 2D over all headings (``"any"``).
        facing_head: the heatmaps label the limbs as a person facing the camera would have them
            (the right side on the image's left), and a separate binary head says whether the
            person faces away; if so the left and right joints swap (:meth:`encode_pose`). The
            side is then one decision a classifier learns (from ``loss.travel_facing`` and
            ``loss.facing_verdict``), not a jump of every heatmap across the body.
        refiner: a second lifter that returns the 2D pose it believes in and its depths
            (:class:`~posesynth.models.lifter.DepthLifter` with ``refine_2d``), a denoiser trained
            on noisy projections of unpaired poses (``loss.refining``). It is used only for the
            reported pose, in eval mode: there the 3D pose is built on its 2D joints and depths.
            Training never sees it (built into the training pose, straight through, it made the
            encoder's 2D worse: BENCHMARKS.md, "The lifter as a 2D denoiser").
        occlusion_temperature: τ of the puppet's soft depth order, metres
            (:func:`~posesynth.render.puppet.render_segments`); a large value (e.g. 1000) draws
            overlapping parts with no order, each by its own density.
        heatmap_prior_sigma: width of the heatmap prior's Gaussians, heatmap cells
            (:class:`~posesynth.models.heatmap_encoder.HeatmapPoseEncoder`'s ``prior_sigma``).
        readout_sharpness: in eval mode (the reported pose) the heatmaps are read from their
            logits times this factor, so the joints follow the peaks rather than the whole mass
            (:class:`~posesynth.models.heatmap_encoder.HeatmapPoseEncoder`); training reads them
            as they are.
        puppet_extremities: the puppet also draws hands and feet into its forearms and shins
            (:func:`~posesynth.render.puppet.extremity_segments`): without them the
            reconstruction pulls the ankles onto the soles (docs/learning.md, "The puppet's hands
            and feet").
    """

    def __init__(self, image_size: int = 64, encoder_width: int = 16, encoder_stages: int = 4,
                 appearance_channels: int = 64, appearance_width: int = 32, decoder_width: int = 32,
                 decoder_levels: int = 3, focal_ratio: float = 2.0, lifter: bool = False,
                 start_facing: Literal["front", "any"] = "front", facing_head: bool = False, refiner: bool = False,
                 occlusion_temperature: float = 0.05, puppet_extremities: bool = False,
                 heatmap_prior_sigma: float = PRIOR_SIGMA_CELLS, readout_sharpness: float = READOUT_SHARPNESS,
                 side_classifier: bool = False):
        super().__init__()
        if side_classifier and facing_head:
            raise ValueError("model.side_classifier and model.facing_head both choose the side: keep one")
        if occlusion_temperature <= 0:
            raise ValueError(f"model.occlusion_temperature must be positive (metres), got {occlusion_temperature}")
        self.occlusion_temperature = occlusion_temperature
        self.puppet_extremities = puppet_extremities
        if facing_head and start_facing != "front":
            raise ValueError("model.facing_head needs model.start_facing=front (its heatmaps label the limbs as "
                             "seen facing the camera)")
        if start_facing not in ("front", "any"):
            raise ValueError(f"model.start_facing={start_facing!r}: choose 'front' or 'any'")
        self.start_facing = start_facing
        if image_size % (2 ** decoder_levels):
            raise ValueError(f"model.image_size={image_size} must be divisible by 2**decoder_levels={2 ** decoder_levels}")
        self.image_size = image_size
        self.focal = focal_ratio * image_size
        self.nominal_depth = nominal_fill_depth(self.focal, image_size)
        self.lifter = DepthLifter() if lifter else None
        self.refiner = DepthLifter(refine_2d=True) if refiner else None
        self.pose_encoder = HeatmapPoseEncoder(image_size, encoder_width, encoder_stages, facing_head=facing_head,
                                               prior_sigma=heatmap_prior_sigma, readout_sharpness=readout_sharpness)
        self.appearance_encoder = AppearanceEncoder(appearance_channels, appearance_width)
        self.decoder = Decoder(NUM_PARTS, appearance_channels, decoder_width, decoder_levels)
        # fitted after the last step on faced paintings (training.side_fit), never by the losses:
        # frozen until then, and used only once fitted
        self.side_classifier = None
        if side_classifier:
            with torch.random.fork_rng(devices=[]):   # the other networks start as they would without it
                self.side_classifier = SideClassifier().requires_grad_(False)
            self.register_buffer("side_fitted", torch.tensor(False))   # stored with the weights
        centre = (image_size - 1) / 2
        self.register_buffer("K", intrinsics(self.focal, centre, centre), persistent=False)

    def start_from_pose(self, pose3d: torch.Tensor) -> None:
        """Initialise the heatmap prior so every prediction starts at ``pose3d`` (e.g. the mean unpaired pose).

        The pose is seen frontally, its pelvis at the crop centre and the nominal depth.

        Args:
            pose3d: (17, 3) metres, body frame (x left, y down, z out of the back).
        """
        pose = pose3d.float().to(self.K) - pose3d.float().to(self.K)[:1]
        if self.start_facing == "any":
            # the mean 2D pose over all headings about the vertical: no side of the image is
            # the right side's before the images say so (a frontal start draws everyone facing
            # the camera, a per-joint bias that learning has to undo first)
            angle = torch.linspace(0.0, 2 * math.pi, 73, device=pose.device)[:-1]
            cos, sin, zero, one = angle.cos(), angle.sin(), torch.zeros_like(angle), torch.ones_like(angle)
            turn = torch.stack([torch.stack([cos, zero, sin], -1), torch.stack([zero, one, zero], -1),
                                torch.stack([-sin, zero, cos], -1)], -2)                     # (H, 3, 3)
            turned = pose @ turn.transpose(-1, -2) + pose.new_tensor([0.0, 0.0, self.nominal_depth])
            self.pose_encoder.reset_heads(project(turned, self.K).mean(0),
                                          None if self.lifter is not None else torch.zeros_like(pose[:, 2]))
            return
        joints = pose + pose.new_tensor([0.0, 0.0, self.nominal_depth])
        # with a lifter the depth maps only add a residual to its depths: start them at zero
        self.pose_encoder.reset_heads(project(joints, self.K), None if self.lifter is not None else pose[:, 2])

    def encode_pose(self, image: torch.Tensor, facing: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Image → 2D joints and depths, back-projected to the 3D pose; rotation and bones derived.

        Args:
            image: (B, 3, S, S) RGB in [0, 1].
            facing: (B,) bool, with the facing head: who faces away, given instead of the head's
                own decision (the imitation cycle knows it for its sampled poses).
        Returns:
            ``pose_body`` (B, 17, 3) root-relative, body frame, metres;
            ``pose_camera`` (B, 17, 3) root-relative, camera frame, metres;
            ``joints_camera`` (B, 17, 3) camera frame incl. the root translation, metres;
            ``joints2d`` (B, 17, 2) crop pixels; ``depth`` (B, 17) metres; ``rotation`` (B, 3, 3)
            body → camera; ``local_directions`` (B, 16, 3) parent-relative bone directions;
            ``heatmaps`` (B, 17, S/4, S/4); with the facing head ``facing_logit`` (B,) and
            ``joints2d_frontal`` (B, 17, 2), the joints labelled as if facing the camera. A fitted
            side classifier (``model.side_classifier``, in eval mode) chooses the side like the
            head would and adds the same two outputs.
        """
        out = self.pose_encoder(image)
        if self.side_classifier is not None and not self.training and facing is None and bool(self.side_fitted):
            out = {**out, "facing_logit": -self.side_classifier(image)}   # the head's logit is "away"
        return self.pose_from(out, facing)

    def pose_from(self, out: dict[str, torch.Tensor], facing: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """:meth:`encode_pose` after the network: its outputs ``out`` (:class:`HeatmapPoseEncoder`) → the pose.

        Cheap next to the network, so that one encoder pass can be read with either side.
        """
        joints2d, relative = out["joints2d"], out["relative_depth"]
        extra = {}
        if "facing_logit" in out:
            # a person seen from the back is the frontal labelling with left and right swapped:
            # each joint keeps its place and depth, and takes its mirror joint's name
            away = out["facing_logit"] > 0 if facing is None else facing.bool()
            extra = {"facing_logit": out["facing_logit"], "joints2d_frontal": joints2d}
            joints2d, relative = swap_sides(joints2d, away), swap_sides(relative, away)
        root_depth = self.nominal_depth * torch.exp(out["log_depth"].clamp(-3.0, 3.0))
        if self.lifter is not None:
            relative = relative + self._lifted_depth(joints2d, root_depth)
        depth = (root_depth[:, None] + relative).clamp(min=0.1 * self.nominal_depth)
        joints_camera = unproject(joints2d, depth, self.K)
        if self.refiner is not None and not self.training:  # the reported pose: the denoiser's
            refined2d, refined_depth = self.refined(joints2d, root_depth)
            joints_camera = unproject(refined2d, refined_depth.clamp(min=0.1 * self.nominal_depth), self.K)
        pose_camera = joints_camera - joints_camera[:, :1]
        to_body = body_frame(pose_camera)  # rows: the body axes in the camera frame
        pose_body = pose_camera @ to_body.transpose(-1, -2)
        directions, _ = pose_to_directions(pose_body)
        return {"pose_body": pose_body, "pose_camera": pose_camera, "joints_camera": joints_camera,
                "joints2d": joints2d, "depth": depth, "rotation": to_body.transpose(-1, -2),
                "local_directions": global_to_local_directions(directions), "heatmaps": out["heatmaps"], **extra}

    def _lifted_depth(self, joints2d: torch.Tensor, root_depth: torch.Tensor) -> torch.Tensor:
        """The lifter's depths (B, 17) m for predicted joints, with no gradient into the lifter or the 2D.

        The lifter learns from unpaired poses only (``loss.lifting``); letting the image losses
        reach it would let it bend towards whatever the reconstruction prefers.
        """
        frozen = {name: value.detach() for name, value in self.lifter.named_parameters()}
        _, scale = normalise_2d(joints2d.detach())
        units = torch.func.functional_call(self.lifter, frozen, (joints2d.detach(),))
        return units * (scale * root_depth.detach() / self.focal)[:, None]

    def refined(self, joints2d: torch.Tensor, root_depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The refiner's 2D joints (B, 17, 2) px and depths (B, 17) m for predicted joints (no gradient).

        Args:
            joints2d: (B, 17, 2) crop pixels. root_depth: (B,) metres.
        """
        with torch.no_grad():
            return refined_pose(self.refiner(joints2d), joints2d, root_depth, self.focal)

    def render(self, joints2d: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Part maps of projected joints.  (B, 17, 2) px, (B, 17) m → (B, P+1, S, S)."""
        return render_part_maps(joints2d, depth, (self.image_size, self.image_size), focal=self.focal,
                                temperature=self.occlusion_temperature, extremities=self.puppet_extremities)

    @torch.no_grad()
    def facing_verdict(self, raw: dict[str, torch.Tensor], source: torch.Tensor, target: torch.Tensor,
                       background: torch.Tensor, error: Callable, anchor: Callable | None = None,
                       margin: float = 0.0) -> torch.Tensor:
        """Which side each frame of a pair is drawn with: the reading the decoder reconstructs best.

        Every frame has two readings, the heatmaps' frontal labelling F and its left↔right swap M
        (a person seen from the back). The target is synthesised under all four (source, target)
        ∈ {F, M}² and the reading with the smallest ``error`` wins: the decoder's own verdict on
        the side, with no label (``loss.facing_verdict``). A decoder that has learned how fronts
        and backs look prefers the true side; one taught a fixed labelling prefers that
        (BENCHMARKS.md, "Does a learned decoder tell the side?").

        Args:
            raw: the pose encoder's outputs on ``cat([target, source])`` (2B frames).
            source, target, background: (B, 3, S, S) RGB in [0, 1].
            error: ``(synthesis, target, background) → (B,)``, one reconstruction error per frame
                (the trainer's: :func:`~posesynth.losses.reconstruction.foreground_error_per_frame`).
            anchor: optional ``(target_joints2d, source_joints2d) → (B,)`` labels in {−1, 0, +1}
                (−1 facing the camera), e.g. the walking direction's; where not 0 they decide both
                frames instead of the verdict. Called with the frontal readings' 2D, crop pixels.
            margin: the best reading replaces the facing head's own reading of the pair only where
                its error is below ``(1 − margin)`` times the head's; elsewhere the head's sides stay
                (``loss.facing_verdict_margin``). 0: the best reading always wins.
        Returns:
            (2B,) bool, facing away, in the order of ``raw`` (targets, then sources).
        """
        batch = target.shape[0]
        raw = {key: value.detach() for key, value in raw.items()}
        reads = [self.pose_from(raw, torch.full((2 * batch,), away, device=target.device)) for away in (False, True)]
        maps = [self.render(read["joints2d"], read["depth"]) for read in reads]
        errors = []
        for source_away in (0, 1):
            appearance = self.appearance_encoder(source, maps[source_away][batch:, :-1])
            for target_away in (0, 1):
                target_maps = maps[target_away][:batch]
                image = self.decoder(target_maps, appearance, background, coverage=foreground_mask(target_maps))
                errors.append(error(image["image"], target, background))
        errors = torch.stack(errors, dim=1)                       # (B, 4), index = 2·source_away + target_away
        lowest, best = errors.min(dim=1)
        head = pair_reading(raw["facing_logit"] > 0)              # the head's sides, as pose_from draws them
        held = errors.gather(1, head[:, None])[:, 0]
        # a verdict that barely wins flips the puppet back and forth between steps: demand a clear win
        best = torch.where(lowest < (1.0 - margin) * held, best, head)
        target_away, source_away = best % 2 == 1, best >= 2
        if anchor is not None:
            label = anchor(reads[0]["joints2d"][:batch], reads[0]["joints2d"][batch:])
            known = label != 0
            target_away = torch.where(known, label > 0, target_away)
            source_away = torch.where(known, label > 0, source_away)
        return torch.cat([target_away, source_away])

    def forward(self, source: torch.Tensor, target: torch.Tensor, background: torch.Tensor,
                imitation_joints: torch.Tensor | None = None, lifting_joints: torch.Tensor | None = None,
                flat_share: float = 0.0, warped_share: float = 0.0, face_palette: torch.Tensor | None = None,
                warp: torch.Tensor | None = None, refining_noise: torch.Tensor | None = None,
                verdict_error: Callable | None = None,
                verdict_anchor: Callable | None = None, verdict_margin: float = 0.0) -> dict[str, torch.Tensor]:
        """Synthesise ``target`` from its own pose and ``source``'s appearance.

        Args:
            source, target, background: (B, 3, S, S) RGB in [0, 1]; background is the target's.
        Returns:
            the target's pose outputs (see :meth:`encode_pose`) plus ``source_pose_body``,
            ``source_pose_camera``, ``source_joints2d``, ``source_depth``,
            ``source_maps`` and ``target_maps`` (B, P+1, S, S), ``appearance`` (B, P, C),
            ``synthesis`` (B, 3, S, S), ``foreground`` (B, 3, S, S), ``mask`` (B, 1, S, S).
            With ``imitation_joints`` (B, 17, 3), sampled poses in the crop camera frame (metres,
            :func:`posesynth.training.imitation_views.sample_views`): their puppets are painted by the decoder
            with the source's appearance over the target's background (no gradient: the painting
            is a training image, not a prediction), encoded again, and returned as
            ``imitation_image`` (B, 3, S, S), ``imitation_true2d`` (B, 17, 2) px,
            ``imitation_true_pose`` (B, 17, 3) m, ``imitation_joints2d`` and ``imitation_pose_camera``.
            The last ``round(flat_share · B)`` paintings are flat-coloured parts instead
            (:mod:`posesynth.render.paint`, the source's colours under its predicted puppet), and the
            ``round(warped_share · B)`` before them the source's own pixels moved bone by bone onto
            the sampled pose (:func:`~posesynth.render.paint.paint_warped_parts`). With ``face_palette``
            (B, 2, 3) skin and hair colours (:func:`~posesynth.render.face.face_palette`), the flat
            paintings' heads show a face for the sampled pose's facing (:mod:`posesynth.render.face`);
            ``imitation_side_shown`` (B,) bool then marks those paintings, whose side can be seen;
            with the facing head, ``imitation_facing_logit`` (B,) is its reading of every painting.
            With a lifter and ``lifting_joints`` (N, 17, 3), more sampled poses in the crop camera
            frame: ``lifting_pred`` and ``lifting_true`` (N, 17), the lifter's depths for their
            projections and the true ones, in units of the 2D scale. With a refiner, also
            ``refining_pred`` and ``refining_true`` (N, 17, 3): its output for the projections plus
            ``refining_noise`` (N, 17, 2) pixels (none if not given), and the clean pose
            (:func:`~posesynth.models.lifter.refined_targets`).
            With ``warp`` (B, 2, 3), similarities in crop pixels
            (:func:`posesynth.render.warp.random_similarities`): the target's person is moved by
            them over its background and encoded again, returned as ``warp`` and ``warped_joints2d``
            (B, 17, 2) px, for :func:`~posesynth.losses.equivariance.equivariance_loss`.
            With ``verdict_error`` (needs the facing head): both frames are drawn with the sides
            :meth:`facing_verdict` chooses by that error (``verdict_anchor`` and ``verdict_margin`` are its
            ``anchor`` and ``margin``), returned as
            ``facing_verdict`` and ``source_facing_verdict`` (B,) bool, for the head to learn.
        """
        batch = target.shape[0]
        # one encoder pass over both frames: the same network must explain both poses
        raw = self.pose_encoder(torch.cat([target, source], dim=0))
        sides = None
        if verdict_error is not None:
            if "facing_logit" not in raw:
                raise ValueError("the facing verdict needs the facing head: set model.facing_head=true")
            sides = self.facing_verdict(raw, source, target, background, verdict_error, verdict_anchor,
                                        verdict_margin)
        both = self.pose_from(raw, sides)
        maps = self.render(both["joints2d"], both["depth"])
        target_maps, source_maps = maps[:batch], maps[batch:]
        appearance = self.appearance_encoder(source, source_maps[:, :-1])
        decoded = self.decoder(target_maps, appearance, background, coverage=foreground_mask(target_maps))
        out = {key: value[:batch] for key, value in both.items()}
        out.update(source_pose_body=both["pose_body"][batch:], source_pose_camera=both["pose_camera"][batch:],
                   source_joints2d=both["joints2d"][batch:], source_depth=both["depth"][batch:],
                   source_maps=source_maps, target_maps=target_maps,
                   appearance=appearance, synthesis=decoded["image"], foreground=decoded["foreground"],
                   mask=decoded["mask"])
        if "facing_logit" in both:
            out["source_facing_logit"] = both["facing_logit"][batch:]
        if sides is not None:
            out.update(facing_verdict=sides[:batch], source_facing_verdict=sides[batch:])
        sampled2d = project(lifting_joints, self.K) if lifting_joints is not None else None
        if sampled2d is not None and self.lifter is not None:
            out.update(lifting_pred=self.lifter(sampled2d),
                       lifting_true=relative_depth_units(lifting_joints, sampled2d, self.focal))
        if sampled2d is not None and self.refiner is not None:
            clean2d = sampled2d
            # the noise stands for a trained encoder's 2D error: the refiner learns to read it as a body
            noisy2d = clean2d if refining_noise is None else clean2d + refining_noise
            out.update(refining_pred=self.refiner(noisy2d),
                       refining_true=refined_targets(lifting_joints, clean2d, noisy2d, self.focal))
        if warp is not None:
            warped = self.encode_pose(warp_person(target, background, warp))
            out.update(warp=warp, warped_joints2d=warped["joints2d"])
        if imitation_joints is not None:
            with torch.no_grad():
                true2d = project(imitation_joints, self.K)
                imitation_maps = self.render(true2d, imitation_joints[..., 2])
                painted = self.decoder(imitation_maps, appearance.detach(), background,
                                       coverage=foreground_mask(imitation_maps))["image"]
                flat, moved = round(flat_share * batch), round(warped_share * batch)
                if flat + moved > batch:
                    raise ValueError(f"flat_share + warped_share must be at most 1, got {flat_share} + {warped_share}")
                if flat or moved:
                    # a pair comes from one static-camera video: the target's background is the source's
                    seen = observed_foreground(source, background)
                    colours = part_colours(source, source_maps, seen)
                    first = batch - flat - moved  # paintings: [decoder | part-warped | flat]
                    pieces = [painted[:first]]
                    if moved:
                        part = slice(first, batch - flat)
                        pieces.append(paint_warped_parts(imitation_maps[part], source[part], seen[part],
                                                         both["joints2d"][batch:][part], true2d[part],
                                                         colours[part], background[part]))
                    if flat:
                        head = None
                        if face_palette is not None:
                            centre, radius, seen_face = face_anchor(imitation_joints[-flat:], self.K)
                            head = head_colours(centre, radius, seen_face, face_palette[-flat:],
                                                tuple(painted.shape[-2:]))
                        pieces.append(paint_parts(imitation_maps[-flat:], colours[-flat:], background[-flat:],
                                                  head=head))
                    painted = torch.cat(pieces)
                shown = torch.zeros(batch, dtype=torch.bool, device=painted.device)
                if face_palette is not None and flat:
                    shown[-flat:] = True
            # with a facing head, the side of each sampled pose is known: the heatmaps learn the
            # frontal labelling of the painting, and the side comes from the truth, not the head
            has_facing = getattr(self.pose_encoder, "facing_head", None) is not None
            imitated = self.encode_pose(painted, facing=facing_side(true2d) > 0 if has_facing else None)
            out.update(imitation_image=painted, imitation_true2d=true2d, imitation_true_pose=imitation_joints,
                       imitation_side_shown=shown,
                       imitation_joints2d=imitated["joints2d"], imitation_pose_camera=imitated["pose_camera"])
            if has_facing:
                out["imitation_facing_logit"] = imitated["facing_logit"]
        return out


def pair_reading(away: torch.Tensor) -> torch.Tensor:
    """Which of a pair's four readings some sides are: (2B,) bool, facing away, targets then
    sources → (B,) index 2·source_away + target_away, the column order of
    :meth:`PoseSynthModel.facing_verdict`'s errors."""
    batch = len(away) // 2
    return 2 * away[batch:].long() + away[:batch].long()


def nominal_fill_depth(focal_px: float, image_size: int) -> float:
    """Depth (m) at which a 1.7 m person fills 75 % of a crop of side ``image_size`` at focal ``focal_px``."""
    return focal_px * NOMINAL_HEIGHT_M / (NOMINAL_FILL * image_size)
