"""Reader of mmpose's preprocessed Human3.6M: ``annotation_body3d/fps<k>/h36m_{train,test}.npz``.

Rows: ``imgname`` ``S9/S9_Walking_1.54138969/S9_Walking_1.54138969_000001.jpg`` (the number is
the video frame + 1, mmpose's ``preprocess_h36m.py``), ``S`` (N, 17, 4) camera frame, metres +
visibility (from ``D3_Positions_mono``), ``part`` (N, 17, 3) pixels + visibility (from
``D2_Positions``); the frame images under ``images/``; the cameras in
``annotation_body3d/cameras.pkl``. The ``fps10`` files hold every 5th frame.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from posesynth.datasets.h36m.cameras import PUBLISHED_SUBJECTS, H36MError, published_camera, read_camera_pickle
from posesynth.datasets.h36m.formats import Views, action_or_none, npz_keys
from posesynth.datasets.h36m.types import TEST_SUBJECTS, TRAIN_SUBJECTS, H36MSequence, canonical_action

log = logging.getLogger(__name__)

# images/S9/S9_Walking_1.54138969/S9_Walking_1.54138969_000001.jpg; the number is frame + 1
_MMPOSE_IMAGE = re.compile(r"^(?P<subject>S\d+)_(?P<sequence>.+)\.(?P<camera>\d{8})_(?P<number>\d+)\.\w+$")


def _is_mmpose(path: Path) -> bool:
    return {"imgname", "S"} <= npz_keys(path)


def mmpose_files(root: Path) -> list[Path]:
    """mmpose annotation files: ``root`` itself, or npz files with ``imgname`` and ``S`` in ``root``,
    ``root/fps<k>/`` or ``root/annotation_body3d/fps<k>/``."""
    if root.is_file():
        return [root] if _is_mmpose(root) else []
    patterns = ("*.npz", "fps*/*.npz", "annotation_body3d/fps*/*.npz")
    return [p for pattern in patterns for p in sorted(root.glob(pattern)) if _is_mmpose(p)]


def _mmpose_selection(root: Path, subjects: Sequence[str]) -> list[Path]:
    files = mmpose_files(root)
    if not files:
        raise H36MError(f"{root}: no mmpose annotation npz (with 'imgname' and 'S'); pass mmpose's data/h36m "
                        f"folder or an h36m_test.npz")
    rates = sorted({p.parent for p in files if p.parent.name.startswith("fps")})
    if len(rates) > 1:
        raise H36MError(f"{root}: annotations at several frame rates ({', '.join(str(r) for r in rates)}); "
                        f"pass the one folder to evaluate on")
    # mmpose splits by subject: skip a split file that cannot hold any requested subject
    unwanted = {"h36m_train.npz": not set(subjects) & set(TRAIN_SUBJECTS),
                "h36m_test.npz": not set(subjects) & set(TEST_SUBJECTS)}
    return [p for p in files if not unwanted.get(p.name, False)]


def _image_folder(root: Path, npz: Path, imgname: str) -> tuple[Path, bool] | None:
    """Where the images of ``imgname``'s view are: (folder, names hold the subfolders?) or None."""
    for base in (npz.parent / "images", npz.parent.parent.parent / "images", root / "images", npz.parent, root):
        if (base / imgname).is_file():
            return base, True
        if (base / Path(imgname).name).is_file():
            return base, False
    return None


def _read_mmpose(npz: Path, root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """(imgname (N,), S (N, 17, 3|4) m, part (N, 17, 2|3) px or None); None for a non-17-joint file."""
    with np.load(npz, allow_pickle=False) as data:
        names, S = data["imgname"].astype(str), data["S"]
        part = data["part"] if "part" in data.files else None
    if S.ndim != 3 or S.shape[1] != 17 or S.shape[2] not in (3, 4):
        if npz == root:
            raise H36MError(f"{npz}: 'S' has shape {S.shape}, expected (N, 17, 4) camera-frame metres")
        log.info("%s: 'S' has shape %s, not 17 joints (e.g. an SMPL file): ignored", npz, S.shape)
        return None
    if len(S) != len(names) or (part is not None and part.shape[:2] != (len(names), 17)):
        raise H36MError(f"{npz}: imgname {names.shape}, S {S.shape} and part {None if part is None else part.shape} "
                        f"do not describe the same (N, 17) rows")
    return names, S, part


def _mmpose_groups(names: np.ndarray, npz: Path, subjects: Sequence[str], cameras: Sequence[str],
                   actions: Sequence[str]) -> dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]]:
    """Selected rows by view: (subject, sequence, camera) → (frames, rows), sorted by frame."""
    groups: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for row, imgname in enumerate(names):
        match = _MMPOSE_IMAGE.match(Path(imgname).name)
        if match is None:
            raise H36MError(f"{npz}: imgname[{row}] = {imgname!r} is not mmpose's "
                            f"S<n>_<Action>[_<trial>].<camera>_<frame>.jpg")
        sequence = match["sequence"].replace("_", " ")  # the release's "Walking 1"
        if match["subject"] in subjects and match["camera"] in cameras and action_or_none(sequence) in actions:
            groups.setdefault((match["subject"], sequence, match["camera"]), []).append(
                (int(match["number"]) - 1, row))
    return {view: tuple(np.array(v, np.int64) for v in zip(*sorted(entries)))
            for view, entries in sorted(groups.items())}


def _camera_pickle(npz: Path, root: Path, trust_pickle: bool) -> dict:
    """The cameras of ``cameras.pkl`` beside ``npz`` or one folder up, read only with ``trust_pickle``.

    The file is a pickle; without trust it is left unread (the published calibration, which
    matches mmpose's file to 1e-7, is used instead) and that is logged.
    """
    pickles = [p / "cameras.pkl" for p in (npz.parent, npz.parent.parent, root) if (p / "cameras.pkl").is_file()]
    if not pickles:
        return {}
    if not trust_pickle:
        log.info("%s not read (a Python pickle; pass --trust-pickle to use it): using the published Human3.6M "
                 "calibration", pickles[0])
        return {}
    return read_camera_pickle(pickles[0])


def load_mmpose(root: Path, *, subjects: Sequence[str], cameras: Sequence[str], actions: Sequence[str],
                need_video: bool, trust_pickle: bool = False) -> Views:
    """Views from mmpose's ``h36m_{train,test}.npz`` (``S`` camera frame, metres; ``part`` px).

    Calibration from ``cameras.pkl`` beside the npz or one folder up when ``trust_pickle``
    (it is a pickle), else the published one; frame images looked up under ``images/``
    (mmpose's tree) or beside the npz.
    """
    views, skipped = [], {}
    for npz in _mmpose_selection(root, subjects):
        content = _read_mmpose(npz, root)
        if content is None:
            continue
        names, S, part = content
        calibrations = _camera_pickle(npz, root, trust_pickle)
        for (subject, sequence, camera), (frames, rows) in _mmpose_groups(names, npz, subjects, cameras,
                                                                           actions).items():
            calibration = calibrations.get((subject, camera))
            if calibration is None and subject in PUBLISHED_SUBJECTS:
                calibration = published_camera(subject, camera)
            joints2d = None if part is None else part[rows, :, :2].astype(np.float32)
            view = H36MSequence(subject, sequence, canonical_action(sequence), camera, frames,
                                (S[rows, :, :3] * 1000.0).astype(np.float32), joints2d, calibration, None, None,
                                int(frames[-1]) + 1)
            try:
                views.append(_with_images(view, list(names[rows]), root, npz, need_video))
            except H36MError as error:
                skipped[view.key] = str(error)
    return views, skipped


def _with_images(view: H36MSequence, imgnames: list[str], root: Path, npz: Path, need_video: bool) -> H36MSequence:
    """Attach the frame images; with ``need_video`` keep only the entries whose image exists."""
    found = _image_folder(root, npz, imgnames[0])
    if found is None:
        if need_video:
            raise H36MError(f"frame images missing: {imgnames[0]} is neither under images/ nor beside {npz}")
        return view
    base, nested = found
    view.images = [base / (name if nested else Path(name).name) for name in imgnames]
    if need_video:
        keep = np.array([path.is_file() for path in view.images])
        if not keep.all():
            log.warning("%s: %d of %d frame images missing; those frames are dropped", view.key,
                        int((~keep).sum()), len(keep))
        view.frames, view.joints3d = view.frames[keep], view.joints3d[keep]
        view.joints2d = None if view.joints2d is None else view.joints2d[keep]
        view.images = [p for p, k in zip(view.images, keep) if k]
    return view
