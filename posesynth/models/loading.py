"""A trained model back from its run: ``RUN/model.pt`` (weights and constructor arguments) and the
run's resolved ``config.yaml``. What sampling, evaluation and the apps need, without training code.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from posesynth.config import Config, ConfigError, load_config, removed_model_setting
from posesynth.models.model import PoseSynthModel

log = logging.getLogger(__name__)

MODEL_FILE = "model.pt"  # a run's weights and constructor arguments (written by training/checkpoints.py)
KINEMATIC_HEADS = ("pose_encoder.pose_head.", "pose_encoder.camera_head.")  # the removed encoder's weights


def model_file(path: str | os.PathLike) -> Path:
    """The weights file of ``path``: ``RUN/model.pt`` for a run directory, else ``path`` itself."""
    path = Path(path)
    return path / MODEL_FILE if path.is_dir() else path


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> PoseSynthModel:
    """A trained model from ``RUN`` (its ``model.pt``) or a ``model.pt`` file, in eval mode."""
    file = model_file(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist: pass a run directory written by `posesynth train` "
                                f"(it holds model.pt) or a model.pt file")
    weights = torch.load(file, map_location=map_location, weights_only=True)
    model = PoseSynthModel(**stored_model_kwargs(weights, file))
    model.load_state_dict(weights["state_dict"])
    return model.eval()


def stored_model_kwargs(weights: dict, file: str | os.PathLike) -> dict:
    """The :class:`PoseSynthModel` keyword arguments stored with a checkpoint (``weights["model_kwargs"]``).

    A file written before the kinematic encoder was removed also names its settings
    (``config.REMOVED_MODEL_SETTINGS``): they are dropped, or a one-line ConfigError naming ``file``
    if the file is a kinematic encoder's (the oldest runs name no encoder: their weights tell).
    """
    if any(key.startswith(KINEMATIC_HEADS) for key in weights.get("state_dict", {})):
        raise ConfigError(f"{file} holds a kinematic pose encoder (bone directions + camera heads), which was "
                          f"removed (the 2.5D encoder beat it wherever both were measured, BENCHMARKS.md); "
                          f"retrain with the 2.5D encoder")
    return {key: value for key, value in weights["model_kwargs"].items()
            if not removed_model_setting(key, value, f"{file}: ")}


def run_config(run: str | os.PathLike) -> Config:
    """The resolved config of a run (``RUN/config.yaml``, or the one beside a ``model.pt``); defaults if none."""
    path = Path(run)
    folder = path if path.is_dir() else path.parent
    file = folder / "config.yaml"
    if not file.is_file():
        log.warning("%s has no config.yaml: using the default crop settings", folder)
        return load_config(None)
    return load_config(file)


__all__ = ["MODEL_FILE", "model_file", "load_model", "stored_model_kwargs", "run_config"]
