"""Typed configuration: dataclasses ⇄ YAML, dotted ``key=value`` overrides.

A run's settings are plain dataclasses (:class:`Config` and its sections). They are loaded from
YAML, overridden from the command line (``data.max_gap=20``), checked — an unknown key or a value
of the wrong type is an error naming the key and the valid choices — and then *unpacked once*
into keyword arguments by the command that uses them; no module receives the config object.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence, TypeVar, Union

import yaml

T = TypeVar("T")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class ConfigError(ValueError):
    """A bad configuration key or value; the message names the key and what is allowed."""


# --- the schema -----------------------------------------------------------------------------

@dataclass
class DataConfig:
    """Where training frames come from and how pairs are sampled."""

    videos: str | None = None          # folder of raw videos (searched recursively)
    cache: str | None = None           # a `posesynth prepare` output; used instead of decoding videos
    poses3d: str | None = None         # unpaired real 3D poses (VideoPose3D npz, BVH, npy, or a folder)
    poses3d_frame_step: int = 4        # keep every k-th frame of the unpaired poses (mocap is redundant)
    min_gap: int = 5                   # minimum |source − target| distance; clips ≤ min_gap frames are skipped
    max_gap: int = 50                  # maximum distance (short clips use the gaps they have)
    background_window: int = 200       # frames the per-pixel median background is taken over
    box_source: Literal["auto", "foreground", "sidecar", "center"] = "auto"
    margin: float = 1.25               # crop side = margin × the person box's longer side
    num_workers: int = 2               # DataLoader worker processes
    eval_synthetic: str | None = None  # a `posesynth synth` folder scored every train.eval_every steps
    labels3d: str | None = None        # folder of per-video 3D labels <stem>.npz (enables loss.pose3d)
    labels_fraction: float = 1.0       # share of training frames whose 3D label is used (e.g. 0.05)
    keypoints2d: str | None = None     # folder of 2D keypoint files <stem>.keypoints.{npz,json} (else beside videos)
    auto_keypoints: bool = True        # detect missing 2D keypoints (posesynth[detect]) and use them (docs/data.md)
    calibration: str | None = None     # camera calibration of synchronised views (multi-view training)
    calibration_subject: str | None = None  # Human3.6M calibration files only: whose cameras, e.g. S1
    trust_pickle: bool = False         # read pickle-based files (VideoPose3D npz, cameras.pkl): they can run code


@dataclass
class ModelConfig:
    """Network sizes and the fixed crop camera."""

    image_size: int = 64               # training crop side, pixels
    encoder_width: int = 16            # pose encoder channels at full resolution (doubled per stage, up to 8×)
    encoder_stages: int = 4            # stride-2 stages of the pose encoder's hourglass (heatmaps at 1/4)
    appearance_channels: int = 64      # size of each part's appearance vector
    appearance_width: int = 32         # appearance encoder channels
    decoder_width: int = 32            # decoder channels at full resolution
    decoder_levels: int = 3            # decoder downsamplings (image_size divisible by 2**levels)
    focal_ratio: float = 2.0           # crop focal length / crop side (a fixed perspective camera)
    discriminator_hidden: int = 256    # pose discriminator MLP width
    lifter: bool = False               # depth = a 2D→depth lifter's (learned from unpaired poses) + the depth maps'
    start_facing: Literal["front", "any"] = "front"  # the start: facing the camera, or the mean 2D over headings
    facing_head: bool = False          # a binary head decides the side (left/right swap); see loss.travel_facing
    refiner: bool = False              # a 2D denoiser from unpaired poses builds the reported pose (loss.refining)
    side_classifier: bool = False      # a classifier fitted after the run chooses the side (train.side_fit_iterations)
    occlusion_temperature: float = 0.05  # puppet's depth order: metres over which it softens (large: no order)
    puppet_extremities: bool = False   # the puppet also draws hands and feet (into the forearms and shins)
    heatmap_prior_sigma: float = 1.5   # heatmap prior's width, cells: wider costs less to leave the starting pose
    readout_sharpness: float = 1.0     # eval only: joints read from softmax(k · heatmap logits), following the peaks


# The kinematic pose encoder (bone directions + a camera from pooled features) and its options were
# removed: the 2.5D encoder beat it wherever both were measured (BENCHMARKS.md). Runs written before
# keep loading, since their files name these keys with the values the 2.5D encoder stands for.
REMOVED_MODEL_SETTINGS: dict[str, object] = {"encoder": "heatmap", "bone_scaling": False, "spatial_head": False}


def removed_model_setting(key: str, value: object, where: str) -> bool:
    """Whether ``key`` is a removed model setting (then drop it); an error if it asks for what was removed.

    Args:
        key: a model setting's name; value: its value; where: what the message puts before the key
            (``"model."``, or ``"RUN/model.pt: "``).
    Raises:
        ConfigError when the value is not the one the 2.5D encoder stands for (e.g. ``encoder: kinematic``).
    """
    if key not in REMOVED_MODEL_SETTINGS:
        return False
    if value != REMOVED_MODEL_SETTINGS[key]:
        raise ConfigError(f"{where}{key}={value!r} belongs to the kinematic pose encoder, which was removed "
                          f"(the 2.5D encoder beat it wherever both were measured, BENCHMARKS.md); delete the "
                          f"key and train the 2.5D encoder")
    return True


@dataclass
class LossConfig:
    """Loss weights (0 removes a term) and their settings."""

    l1: float = 1.0                    # photometric L1 of the synthesised target
    ssim: float = 1.0                  # (1 − SSIM)/2 of the synthesised target
    lpips: float = 0.0                 # LPIPS (needs posesynth[perceptual] and local weights)
    lpips_net: Literal["alex", "vgg", "squeeze"] = "alex"
    lpips_backbone: str | None = None  # local path of the LPIPS backbone weights (never downloaded)
    lpips_linear: str | None = None    # local path of LPIPS's calibrated linear layers
    foreground_boost: float = 4.0      # extra reconstruction weight on pixels unlike the background
    adversarial: float = 0.05          # unpaired-3D-pose prior (LSGAN), pose-encoder side
    articulation: float = 1.0          # knee/elbow hinge direction and joint-angle limits
    mask: float = 0.1                  # decoder mask ≈ rendered part-map foreground
    silhouette: float = 0.0            # puppet foreground ≈ where the target differs from its background
    heading_search: float = 0.0        # pull the heading to the best of 8 turned puppets; unstable from scratch
    pose3d: float = 0.0                # MPJPE to 3D labels where data.labels3d has them
    reprojection: float = 0.0          # confidence-weighted 2D keypoint reprojection (needs keypoints)
    relative_depth: float = 0.0        # ranking loss on depth-order labels made from 2D keypoints
    bone_ratio: float = 0.0            # within-group variance of bone-length ratios (Zhou et al.'s groups)
    multiview_consistency: float = 0.0  # view i's pose moved into view j agrees with view j's (multi-view)
    transform_reprojection: float = 0.0  # view i's pose moved into view j and projected matches view j's 2D
    cross_view: float = 0.0            # synthesise view j's frame from view i's transformed pose
    proportions: float = 10.0          # all bone-length ratios ≈ canonical (the encoder's bones are free)
    imitation: float = 0.0             # recover a sampled unpaired pose from the decoder's rendering of it
    lifting: float = 0.0               # train model.lifter on projections of unpaired poses
    imitation_flat: float = 0.0        # share of imitation paintings made of flat-coloured parts, not the decoder
    imitation_warped: float = 0.0      # share made of the source person's pixels moved bone by bone
    imitation_start: int = 100         # step from which the imitation cycle runs (the decoder must paint first)
    imitation_elevation_min_deg: float = 0.0  # the sampled views' camera elevation range (degrees, + = above
    imitation_elevation_max_deg: float = 0.0  # the person, looking down), for imitation, lifter and refiner
    imitation_lean_deg: float = 20.0   # the sampled bodies' own forward/backward lean, ± degrees
    imitation_side_open: bool = False  # score each painting against the better of its truth and mirror reading
    imitation_face: bool = False       # flat paintings' heads show a face for the sampled facing; scored with their side
    imitation_facing: float = 0.0      # the facing head learns the side of the paintings that show a face
    equivariance: float = 0.0          # 2D joints must follow a random similarity warp of the frame's person
    travel_facing: float = 0.0         # a pair's walking direction (feet moving down/up the image) labels its facing
    facing_verdict: float = 0.0        # draw each pair with the side its reconstruction prefers; the head learns it
    facing_verdict_start: int = 0      # step from which the verdict runs (the 2D should have settled first)
    facing_verdict_margin: float = 0.0  # the verdict overrides the head's side only if its error is this share lower
    refining: float = 0.0              # train model.refiner on noisy projections of unpaired poses
    refining_noise_px: float = 2.0     # the Gaussian noise (crop pixels) the refiner learns to undo



# the fields of LossConfig that tune a term rather than weigh one; every other field is a term's weight
LOSS_SETTINGS: tuple[str, ...] = ("lpips_net", "lpips_backbone", "lpips_linear", "foreground_boost", "imitation_flat",
                                  "imitation_warped", "imitation_start", "imitation_elevation_min_deg",
                                  "imitation_elevation_max_deg", "imitation_lean_deg", "imitation_side_open",
                                  "imitation_face",
                                  "refining_noise_px",
                                  "facing_verdict_start", "facing_verdict_margin")
# the one list of loss-term names: compute_losses returns (and the logs show) ``loss/<name>`` for these
LOSS_TERMS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LossConfig) if f.name not in LOSS_SETTINGS)


@dataclass
class TrainConfig:
    """The optimisation run."""

    seed: int = 0
    steps: int = 2000                  # optimiser steps
    batch_size: int = 16               # pairs per step per process
    grad_accum: int = 1                # micro-batches per optimiser step
    lr: float = 3e-4                   # AdamW learning rate of the pose/appearance/decoder networks
    lr_discriminator: float = 1e-4     # AdamW learning rate of the pose discriminator
    weight_decay: float = 1e-4
    warmup_steps: int = 100            # linear warm-up, then cosine decay to 10 %
    grad_clip: float = 1.0             # gradient-norm clip (0: off)
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # auto: bf16 on GPUs that have it
    compile: bool = False              # torch.compile the networks (inductor): fused kernels, fewer GPU launches
    log_every: int = 10                # steps between log.jsonl / TensorBoard entries
    sample_every: int = 200            # steps between sample grids in RUN/samples/
    checkpoint_every: int = 500        # steps between checkpoints (and one at the end)
    keep_checkpoints: int = 2          # older checkpoints are deleted
    eval_every: int = 0                # steps between held-out evaluations (0: off; needs data.eval_synthetic)
    refiner_fit_iterations: int = 0    # after the last step, fit the refiner this many more batches
    refiner_fit_elevation_min_deg: float | None = None  # that fit's views: camera elevation range, degrees
    refiner_fit_elevation_max_deg: float | None = None  # (+ = above); None: loss.imitation_elevation_*
    refiner_fit_lean_deg: float | None = None  # that fit's body lean, ± degrees; None: loss.imitation_lean_deg
    side_fit_iterations: int = 0       # after the last step, fit the side classifier on this many batches of paintings
    init: str | None = None            # start from this run's (or model.pt's) weights, e.g. a pre-trained run


@dataclass
class Config:
    """Everything one run needs; sections mirror the YAML files in ``configs/``."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# --- conversion -----------------------------------------------------------------------------

def from_dict(cls: type[T], values: dict[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from a nested dict, checking every key and type.

    Args:
        cls: a dataclass type whose fields may themselves be dataclasses.
        values: nested mapping (e.g. parsed YAML); missing keys keep their defaults.
        prefix: dotted path of ``values`` inside the whole config, for messages.
    Raises:
        ConfigError naming the dotted key on an unknown key or a wrong type.
    """
    if not isinstance(values, dict):
        raise ConfigError(f"'{prefix.rstrip('.') or '<root>'}' must be a mapping of keys to values, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if cls is ModelConfig and removed_model_setting(key, value, prefix):
            continue
        if key not in names:
            raise ConfigError(_unknown_key_message(dotted, key, names, prefix))
        kwargs[key] = _convert(value, hints[key], dotted)
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a plain nested dict (YAML-serialisable)."""
    return dataclasses.asdict(config)


def apply_overrides(values: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings to a nested dict (values parsed as YAML scalars).

    Raises:
        ConfigError when an override has no ``=`` or an empty key.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form section.key=value (e.g. data.max_gap=20)")
        parts = key.strip().split(".")
        node = values
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: '{part}' is a value, not a section")
            node = child
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None
    return values


def load_config(path: str | os.PathLike | None = None, overrides: Sequence[str] = (), cls: type[T] = Config) -> T:
    """Read a YAML config (or the defaults when ``path`` is None), apply overrides, validate.

    Raises:
        ConfigError naming the file and the key on any problem.
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ConfigError(f"config file {path} does not exist") from error
        except IsADirectoryError as error:
            raise ConfigError(f"config file {path} is a folder; pass a YAML file such as configs/demo.yaml") from error
        except OSError as error:
            raise ConfigError(f"config file {path} cannot be read ({error.strerror})") from error
        except UnicodeDecodeError as error:
            raise ConfigError(f"config file {path} is not a text file (not UTF-8); pass a YAML file") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"config file {path} is not valid YAML: {error}") from error
        values = loaded or {}
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(values).__name__}")
    values = apply_overrides(values, overrides)
    try:
        config = from_dict(cls, values)
        if isinstance(config, Config):
            check_ranges(config)
        return config
    except ConfigError as error:
        where = f" (in {path})" if path is not None else ""
        raise ConfigError(f"{error}{where}") from None


def save_config(config: Any, path: str | os.PathLike) -> Path:
    """Write the resolved config as YAML (atomically: temp file, then rename). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_resolved_config(config: Any, run_dir: str | os.PathLike) -> Path:
    """Store ``config`` as ``RUN_DIR/config.yaml`` — every run directory gets one."""
    return save_config(config, Path(run_dir) / "config.yaml")


# --- value ranges ---------------------------------------------------------------------------

# Lower bounds (inclusive) of numeric keys; every float must also be finite and every loss.*
# number (a weight or a setting of a term) at least 0.
AT_LEAST: dict[str, float] = {
    "data.poses3d_frame_step": 1, "data.min_gap": 1, "data.max_gap": 1, "data.background_window": 1,
    "data.num_workers": 0, "data.labels_fraction": 0,
    "model.image_size": 8, "model.encoder_width": 1, "model.encoder_stages": 3, "model.appearance_channels": 1,
    "model.appearance_width": 1, "model.decoder_width": 1, "model.decoder_levels": 0,
    "model.discriminator_hidden": 1,
    "train.seed": 0, "train.steps": 1, "train.batch_size": 1, "train.grad_accum": 1, "train.lr": 0,
    "train.lr_discriminator": 0, "train.weight_decay": 0, "train.warmup_steps": 0, "train.grad_clip": 0,
    "train.log_every": 1, "train.sample_every": 1, "train.checkpoint_every": 1, "train.keep_checkpoints": 0,
    "train.eval_every": 0, "train.refiner_fit_iterations": 0,
    "train.side_fit_iterations": 0,
}
# loss.* settings that may be negative (an angle below the horizontal)
SIGNED: tuple[str, ...] = ("loss.imitation_elevation_min_deg", "loss.imitation_elevation_max_deg")
# Keys that must be strictly positive.
POSITIVE: tuple[str, ...] = ("data.margin", "model.focal_ratio", "model.readout_sharpness")


def check_ranges(config: Config) -> None:
    """Check what the types cannot: finite numbers, lower bounds, and relations between keys.

    Raises:
        ConfigError naming the key, the allowed range and the value.
    """
    for key, value in _numbers(config):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"'{key}' must be a finite number, got {value}")
        bound = 0 if key.startswith("loss.") and key not in SIGNED else AT_LEAST.get(key)
        if bound is not None and value < bound:
            raise ConfigError(f"'{key}' must be >= {bound:g}, got {value}")
        if key in POSITIVE and value <= 0:
            raise ConfigError(f"'{key}' must be > 0, got {value}")
    d, m = config.data, config.model
    if d.labels_fraction > 1:
        raise ConfigError(f"'data.labels_fraction' is a share of the frames, in [0, 1]; got {d.labels_fraction}")
    if config.train.refiner_fit_iterations and not m.refiner:
        raise ConfigError("'train.refiner_fit_iterations' fits the refiner after the last step: it needs "
                          "model.refiner=true (and loss.refining > 0)")
    t = config.train
    fit_low, fit_high = t.refiner_fit_elevation_min_deg, t.refiner_fit_elevation_max_deg
    fit_views = {"train.refiner_fit_elevation_min_deg": fit_low, "train.refiner_fit_elevation_max_deg": fit_high,
                 "train.refiner_fit_lean_deg": t.refiner_fit_lean_deg}
    given = [key for key, value in fit_views.items() if value is not None]
    if given and not t.refiner_fit_iterations:
        raise ConfigError(f"'{given[0]}' sets the views of the refiner's fit after the last step: it needs "
                          f"train.refiner_fit_iterations > 0 (the recipe: 3000), or leave it unset")
    if (fit_low is None) != (fit_high is None):
        raise ConfigError("'train.refiner_fit_elevation_min_deg' and 'train.refiner_fit_elevation_max_deg' go "
                          "together: set both (e.g. -5 and 35) or neither (the run's loss.imitation_elevation_*)")
    if fit_low is not None and not -90 <= fit_low <= fit_high <= 90:
        raise ConfigError(f"'train.refiner_fit_elevation_min_deg' ({fit_low}) and "
                          f"'train.refiner_fit_elevation_max_deg' ({fit_high}) are a camera elevation range in "
                          f"degrees: need -90 <= min <= max <= 90")
    if t.refiner_fit_lean_deg is not None and not 0 <= t.refiner_fit_lean_deg <= 90:
        raise ConfigError(f"'train.refiner_fit_lean_deg' is an angle in degrees, in [0, 90]; got "
                          f"{t.refiner_fit_lean_deg}")
    if bool(config.train.side_fit_iterations) != m.side_classifier:
        raise ConfigError("model.side_classifier and train.side_fit_iterations go together: the classifier is fitted "
                          f"after the last step (got model.side_classifier={m.side_classifier}, "
                          f"train.side_fit_iterations={config.train.side_fit_iterations})")
    if m.side_classifier and m.facing_head:
        raise ConfigError("model.side_classifier and model.facing_head both choose the side: keep one")
    if m.side_classifier and config.data.calibration is not None:
        raise ConfigError("model.side_classifier is fitted on single-view pairs: leave data.calibration unset, or "
                          "set model.side_classifier=false and train.side_fit_iterations=0")
    if config.loss.travel_facing and not config.model.facing_head:
        raise ConfigError("'loss.travel_facing' trains the facing head: set model.facing_head=true, or "
                          "loss.travel_facing=0")
    if config.loss.facing_verdict and not config.model.facing_head:
        raise ConfigError("'loss.facing_verdict' trains the facing head: set model.facing_head=true, or "
                          "loss.facing_verdict=0")
    if not config.loss.facing_verdict_margin < 1:
        raise ConfigError(f"'loss.facing_verdict_margin' is a share of the head's reconstruction error, in [0, 1); "
                          f"got {config.loss.facing_verdict_margin}")
    if config.loss.imitation_face and not config.loss.imitation_flat:
        raise ConfigError("'loss.imitation_face' draws faces on the flat imitation paintings, and there are none: "
                          "set loss.imitation_flat above 0 (the recipe uses 0.5) or loss.imitation_face=false")
    if config.loss.imitation_facing and not (config.model.facing_head and config.loss.imitation_face):
        raise ConfigError("'loss.imitation_facing' trains the facing head on paintings that show a face: set "
                          "model.facing_head=true and loss.imitation_face=true, or loss.imitation_facing=0")
    if config.loss.imitation_flat + config.loss.imitation_warped > 1:
        raise ConfigError(f"'loss.imitation_flat' and 'loss.imitation_warped' are shares of the imitation paintings: "
                          f"together at most 1; got {config.loss.imitation_flat} + {config.loss.imitation_warped}")
    low, high = config.loss.imitation_elevation_min_deg, config.loss.imitation_elevation_max_deg
    if not -90 <= low <= high <= 90:
        raise ConfigError(f"'loss.imitation_elevation_min_deg' ({low}) and 'loss.imitation_elevation_max_deg' "
                          f"({high}) are a camera elevation range in degrees: need -90 <= min <= max <= 90")
    if not 0 <= config.loss.imitation_lean_deg <= 90:
        raise ConfigError(f"'loss.imitation_lean_deg' is an angle in degrees, in [0, 90]; got "
                          f"{config.loss.imitation_lean_deg}")
    if d.min_gap > d.max_gap:
        raise ConfigError(f"'data.min_gap' ({d.min_gap}) must be <= 'data.max_gap' ({d.max_gap}): no frame pair "
                          f"could be drawn")
    if m.image_size % 2 ** m.decoder_levels:
        raise ConfigError(f"'model.image_size' ({m.image_size}) must be divisible by 2**model.decoder_levels "
                          f"({2 ** m.decoder_levels}): the decoder halves the crop that many times")
    if m.image_size % 2 ** m.encoder_stages:
        raise ConfigError(f"'model.image_size' ({m.image_size}) must be divisible by 2**model.encoder_stages "
                          f"({2 ** m.encoder_stages}): the pose encoder halves the crop that many times")


def _numbers(config: Any, prefix: str = "") -> list[tuple[str, int | float]]:
    """Every int/float value of a (nested) dataclass config as (dotted key, value); bools excluded."""
    found: list[tuple[str, int | float]] = []
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if dataclasses.is_dataclass(value):
            found += _numbers(value, f"{prefix}{item.name}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append((f"{prefix}{item.name}", value))
    return found


# --- helpers --------------------------------------------------------------------------------

def _convert(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against a type annotation, converting where lossless (int → float, list → tuple)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value if value is not None else {}, prefix=f"{key}.")
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if len(errors) == 1 else f"'{key}': {value!r} matches none of {_type_name(annotation)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"'{key}' must be one of {', '.join(map(repr, args))}; got {value!r}")
        return value
    if origin in (list, tuple, Sequence, typing.Sequence):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{key}' must be a list ({_type_name(annotation)}), got {value!r}")
        item_type = args[0] if args else Any
        items = [_convert(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if annotation is Any:
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"'{key}' must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"'{key}' must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            return float(value)  # PyYAML (YAML 1.1) reads 3e-4 as a string: it needs "3.0e-4"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"'{key}' must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"'{key}' must be a string, got {value!r}")
        return value
    raise ConfigError(f"'{key}': unsupported field type {annotation!r}")  # a schema bug, not a user error


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _unknown_key_message(dotted: str, key: str, names: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" Did you mean '{prefix}{close[0]}'?" if close else ""
    section = prefix.rstrip(".") or "the top level"
    return f"unknown config key '{dotted}'. Valid keys in {section}: {', '.join(names)}.{hint}"
