"""Camera calibrations of synchronised views: one :class:`Camera` type, several file formats.

Every loader returns cameras in posesynth's convention (docs/architecture.md): x right, y down,
z forward; ``X_cam = R · X_world + t`` with ``t`` in **metres**; ``K`` in pixels with (0, 0) the
centre of the top-left pixel. ``load_calibration(path)`` reads, by extension and content:

- posesynth JSON (``write_calibration`` writes it; ``docs/multiview.md`` has the schema);
- Pose2Sim / Sports2D TOML: one table per camera with ``name``, ``size``, ``matrix``,
  ``distortions``, ``rotation`` (Rodrigues vector of R) and ``translation`` (t, metres) — OpenCV's
  world→camera extrinsics, which are already ours;
- Qualisys ``.qca.txt`` (XML) as Pose2Sim converts it (``read_qca`` + ``calib_qca_fun``): pixels
  = sensor values / 64 (focal lengths; principal point minus the video window's left/top), size =
  the video window, R = diag(1, −1, −1)·[r_ij] (world→camera, turned by π about the camera's x
  axis), t = −R·(x, y, z)/1000 (the position is the camera centre in mm);
- Human3.6M: 3d-pose-baseline's ``cameras.h5`` (needs h5py) and mmpose's ``cameras.pkl`` with
  ``subject=`` (a Python pickle: read only with ``trust_pickle=True``, ``data.trust_pickle``);
  :func:`h36m_camera` takes published numbers, :func:`camera_from_h36m` the
  Human3.6M readers' cameras (``published_camera`` for the published table);

Lens distortion is kept (OpenCV order k1, k2, p1, p2[, k3]) but never applied (pinhole model).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from posesynth.datasets.h36m.cameras import H36MError, read_camera_pickle
from posesynth.errors import untrusted_pickle
from posesynth.geometry import (axis_angle_to_matrix, project, relative_transform,
                                world_to_camera)

# Human3.6M frame sizes (width, height) by camera id (REFERENCE.md, "The original release")
H36M_IMAGE_SIZES = {"54138969": (1000, 1002), "55011271": (1000, 1000), "58860488": (1000, 1000),
                    "60457274": (1000, 1002)}
ORTHONORMAL_TOLERANCE = 1e-3
# Qualisys stores image quantities in sub-pixel sensor units, 64 per pixel (Pose2Sim's read_qca)
QUALISYS_SUBPIXELS = 64.0


class CalibrationError(ValueError):
    """A calibration file or camera that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated pinhole camera.

    Attributes:
        name: matched against video file stems (see :mod:`posesynth.data.multiview_dataset`).
        K: (3, 3) float64 intrinsics, pixels.
        R: (3, 3) float64 world→camera rotation (checked orthonormal with det +1, then projected
            onto the nearest rotation).
        t: (3,) float64 world→camera translation, metres.
        distortion: (D,) float64 OpenCV-order coefficients, kept but not applied.
        size: (width, height) pixels of the calibrated image, or None if unknown.
        source: the file the camera came from (named in error messages).
    """

    name: str
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    distortion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    size: tuple[int, int] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        where = f"{self.source or '<in memory>'}: camera {self.name!r}"
        K, R, t = (_array(v, shape, f"{where}: {key}") for key, v, shape in
                   (("K", self.K, (3, 3)), ("R", self.R, (3, 3)), ("t", self.t, (3,))))
        if not (K[0, 0] > 0 and K[1, 1] > 0 and np.allclose(K[2], [0, 0, 1])):
            raise CalibrationError(f"{where}: K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0, "
                                   f"got {K.tolist()}")
        error = np.abs(R @ R.T - np.eye(3)).max()
        if error > ORTHONORMAL_TOLERANCE or np.linalg.det(R) < 0:
            raise CalibrationError(f"{where}: R is not a rotation (|R·Rᵀ − I| = {error:.2g}, det = "
                                   f"{np.linalg.det(R):.3f}); expected an orthonormal world→camera matrix")
        u, _, vt = np.linalg.svd(R)  # the nearest rotation, so later algebra is exact
        distortion = _array(self.distortion, None, f"{where}: distortion").reshape(-1)
        size = self.size
        if size is not None:
            size = tuple(int(v) for v in np.asarray(size).reshape(-1))
            if len(size) != 2 or min(size) <= 0:
                raise CalibrationError(f"{where}: size must be [width, height] in pixels, got {self.size!r}")
        for key, value in (("K", K), ("R", u @ vt), ("t", t), ("distortion", distortion), ("size", size)):
            object.__setattr__(self, key, value)

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, metres: C = −Rᵀt."""
        return -self.R.T @ self.t

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pinhole projection (no distortion) of world points.  (..., N, 3) metres → (..., N, 2) pixels."""
        R, t, K = (torch.from_numpy(a) for a in (self.R, self.t, self.K))
        return project(world_to_camera(torch.as_tensor(points, dtype=torch.float64), R, t), K).numpy()


def _array(value, shape: tuple[int, ...] | None, what: str) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape``, else CalibrationError naming ``what``."""
    try:
        array = np.asarray(value, np.float64)
    except (TypeError, ValueError) as error:
        raise CalibrationError(f"{what}: not numeric ({error})") from None
    if shape is not None and array.shape != shape:
        if array.size == int(np.prod(shape)):  # (3, 1) columns and flat 3×3 lists are fine
            array = array.reshape(shape)
        else:
            raise CalibrationError(f"{what}: expected shape {shape}, got {array.shape}")
    if not np.isfinite(array).all():
        raise CalibrationError(f"{what}: has NaN or infinite entries")
    return array


def relative_extrinsics(cam_i: Camera, cam_j: Camera) -> tuple[np.ndarray, np.ndarray]:
    """The rigid map of camera-i coordinates into camera j: ``X_j = R_ij · X_i + t_ij``.

    R_ij = R_j·R_iᵀ, t_ij = t_j − R_ij·t_i (:func:`posesynth.geometry.relative_transform`; Li et al.
    AAAI 2020 print the same map in camera-centre form).

    Returns:
        R_ij (3, 3) and t_ij (3,) metres, float64.
    """
    R, t = relative_transform(*(torch.from_numpy(a) for a in (cam_i.R, cam_i.t, cam_j.R, cam_j.t)))
    return R.numpy(), t.numpy()


# --- the entry point ----------------------------------------------------------------------------

def load_calibration(path: str | Path, *, subject: str | None = None, trust_pickle: bool = False
                     ) -> dict[str, Camera]:
    """Read a calibration file (any format of the module docstring) into ``{name: Camera}``.

    Args:
        path: the file.
        subject: Human3.6M files only: which subject's cameras, e.g. "S1".
        trust_pickle: allow a ``.pkl`` file (unpickling can run code).
    Raises:
        CalibrationError naming the file (and the camera and field) when it is missing,
        unreadable, of an unknown format or holds an invalid camera; UntrustedPickleError for a
        pickle without ``trust_pickle``.
    """
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: calibration file not found")
    name = path.name.lower()
    if name.endswith((".pkl", ".pickle")) and not trust_pickle:
        raise untrusted_pickle(path, "a Human3.6M camera file (cameras.pkl)")
    if name.endswith((".h5", ".hdf5", ".pkl", ".pickle")):
        return _pick_subject(_h36m_h5(path) if name.endswith((".h5", ".hdf5")) else _h36m_pkl(path), subject, path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CalibrationError(f"{path}: cannot read the calibration file ({error})") from None
    if name.endswith(".toml"):
        cameras = _from_toml(text, path)
    elif name.endswith(".json"):
        cameras = _from_json(text, path)
    elif text.lstrip().startswith("<"):
        cameras = _from_qualisys(text, path)
    else:
        raise CalibrationError(f"{path}: unknown calibration format; expected a posesynth .json, a Pose2Sim/Sports2D "
                               f".toml, a Qualisys .qca.txt or a Human3.6M cameras.h5/cameras.pkl")
    if not cameras:
        raise CalibrationError(f"{path}: no camera found in the calibration file")
    return cameras


def write_calibration(path: str | Path, cameras: Mapping[str, Camera]) -> Path:
    """Write cameras as posesynth JSON (``{"cameras": {name: {K, R, t, size, distortion}}}``, t in metres)."""
    entries = {name: {"K": c.K.tolist(), "R": c.R.tolist(), "t": c.t.tolist(),
                      "size": list(c.size) if c.size else None, "distortion": c.distortion.tolist()}
               for name, c in cameras.items()}
    text = json.dumps({"format": "posesynth-calibration/1", "units": "metres", "cameras": entries}, indent=1)
    Path(path).write_text(text, encoding="utf-8")
    return Path(path)


def _field(entry: Mapping, key: str, where: str):
    if key not in entry:
        raise CalibrationError(f"{where}: missing field {key!r} (has {sorted(entry)})")
    return entry[key]


# --- posesynth JSON ------------------------------------------------------------------------------------

def _from_json(text: str, path: Path) -> dict[str, Camera]:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise CalibrationError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a JSON object with a 'cameras' mapping")
    if data.get("format") == "posesynth-synthetic/1":
        raise CalibrationError(f"{path}: a `posesynth synth` scene index holds one rig per scene; pass it to "
                               f"MultiViewDataset(calibration=...) (posesynth.data.multiview_dataset)")
    if data.get("units", "metres") not in ("m", "metre", "metres", "meter", "meters"):
        raise CalibrationError(f"{path}: field 'units' is {data['units']!r}; posesynth JSON stores t in metres")
    cameras = _field(data, "cameras", str(path))
    if not isinstance(cameras, dict):
        raise CalibrationError(f"{path}: field 'cameras' must map camera names to {{K, R, t, size}}")
    out = {}
    for name, entry in cameras.items():
        where = f"{path}: camera {name!r}"
        if not isinstance(entry, dict):
            raise CalibrationError(f"{where}: expected an object with K, R, t, size")
        out[name] = Camera(name, _field(entry, "K", where), _field(entry, "R", where), _field(entry, "t", where),
                           entry.get("distortion") or (), entry.get("size"), str(path))
    return out


# --- Pose2Sim / Sports2D TOML -------------------------------------------------------------------

def _from_toml(text: str, path: Path) -> dict[str, Camera]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise CalibrationError(f"{path}: reading TOML needs Python ≥ 3.11 or `pip install tomli`") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CalibrationError(f"{path}: not valid TOML ({error})") from None
    out = {}
    for section, entry in data.items():
        if section == "metadata" or not isinstance(entry, dict):
            continue
        where = f"{path}: [{section}]"
        name = str(entry.get("name", section))
        rotation = _array(_field(entry, "rotation", where), (3,), f"{where}: rotation")
        R = axis_angle_to_matrix(torch.from_numpy(rotation)).numpy()  # Rodrigues, as cv2.Rodrigues
        if entry.get("fisheye", False):
            raise CalibrationError(f"{where}: fisheye cameras are not supported (pinhole only)")
        out[name] = Camera(name, _field(entry, "matrix", where), R, _field(entry, "translation", where),
                           entry.get("distortions") or (), entry.get("size"), str(path))
    return out


# --- Qualisys .qca.txt ----------------------------------------------------------------------------

def _from_qualisys(text: str, path: Path) -> dict[str, Camera]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise CalibrationError(f"{path}: not a readable Qualisys XML calibration ({error})") from None
    out = {}
    for camera in root.findall("cameras/camera"):
        name = camera.get("serial") or f"camera{len(out) + 1}"
        where = f"{path}: camera {name!r}"
        # like Pose2Sim, keep video cameras ("model" holds "video", or "none" in exported files)
        if not any(key in camera.get("model", "none").lower() for key in ("video", "none")):
            continue
        elements = {tag: camera.find(tag) for tag in ("transform", "intrinsic", "fov_video")}
        missing = [tag for tag, element in elements.items() if element is None]
        if missing:
            raise CalibrationError(f"{where}: missing <{missing[0]}> element")
        parts = {tag: element.attrib for tag, element in elements.items()}

        def number(tag: str, key: str) -> float:
            try:
                return float(_field(parts[tag], key, f"{where}: <{tag}>"))
            except ValueError:
                raise CalibrationError(f"{where}: <{tag}> {key}={parts[tag][key]!r} is not a number") from None

        q = np.array([[number("transform", f"r{i}{j}") for j in (1, 2, 3)] for i in (1, 2, 3)])
        centre = np.array([number("transform", k) for k in "xyz"]) / 1000.0  # mm → m
        R = np.diag([1.0, -1.0, -1.0]) @ q  # Pose2Sim's rotate_cam(ang_x=π) after world_to_camera_persp
        left, top = number("fov_video", "left"), number("fov_video", "top")
        sub = QUALISYS_SUBPIXELS
        K = [[number("intrinsic", "focalLengthU") / sub, 0.0, number("intrinsic", "centerPointU") / sub - left],
             [0.0, number("intrinsic", "focalLengthV") / sub, number("intrinsic", "centerPointV") / sub - top],
             [0.0, 0.0, 1.0]]
        # Pose2Sim divides the distortion coefficients by 64 as well
        distortion = [number("intrinsic", k) / sub for k in ("radialDistortion1", "radialDistortion2",
                                                              "tangentalDistortion1", "tangentalDistortion2")]
        size = (number("fov_video", "right") - left + 1, number("fov_video", "bottom") - top + 1)
        out[name] = Camera(name, K, R, -R @ centre, distortion, size, str(path))
    return out


# --- Human3.6M ----------------------------------------------------------------------------------

def h36m_camera(name: str, R: np.ndarray, T: np.ndarray, f: np.ndarray, c: np.ndarray, k: np.ndarray,
                p: np.ndarray, size: tuple[int, int] | None = None, *, millimetres: bool = True,
                source: str = "") -> Camera:
    """A Human3.6M camera from the parameters of 3d-pose-baseline's cameras.h5 / mmpose's cameras.pkl.

    In both layouts ``R`` is the camera→world rotation (its columns are the camera axes in world
    coordinates) and ``T`` the camera centre: ``X_cam = Rᵀ(X_world − T)`` (3d-pose-baseline loads
    ``R.T`` and projects ``R.T @ (P − T)``). posesynth's extrinsics are therefore ``Rᵀ`` and
    ``−Rᵀ·T``.

    Args:
        name: the camera id, e.g. "54138969" (sets ``size`` from :data:`H36M_IMAGE_SIZES` if None).
        R: (3, 3) camera→world. T: (3,) camera centre, millimetres (``millimetres=False``: metres).
        f, c: (2,) focal lengths and principal point, pixels. k: (3,) radial, p: (2,) tangential.
    """
    where = f"{source or '<Human3.6M parameters>'}: camera {name!r}"
    R_cw = _array(R, (3, 3), f"{where}: R")
    centre = _array(T, (3,), f"{where}: T") / (1000.0 if millimetres else 1.0)
    (fx, fy), (cx, cy) = _array(f, (2,), f"{where}: f"), _array(c, (2,), f"{where}: c")
    k, p = _array(k, (3,), f"{where}: k"), _array(p, (2,), f"{where}: p")
    K = [[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]
    return Camera(name, K, R_cw.T, -R_cw.T @ centre, [k[0], k[1], p[0], p[1], k[2]],
                  size or H36M_IMAGE_SIZES.get(name), source)


def camera_from_h36m(cam, source: str = "") -> Camera:
    """A :class:`Camera` from the Human3.6M readers' ``H36MCamera`` (R world→camera, t in mm).

    ``posesynth.datasets.h36m.cameras.published_camera(subject, camera)`` gives the published
    calibration that way, ``read_camera_pickle`` mmpose's file: one conversion for both.
    """
    (k1, k2, k3), (p1, p2) = cam.k, cam.p
    return Camera(cam.id, cam.K(), cam.R, np.asarray(cam.t) / 1000.0, [k1, k2, p1, p2, k3],
                  (cam.width, cam.height), source)


def h36m_cameras_from_tree(tree: Mapping, source: str = "") -> dict[str, dict[str, Camera]]:
    """Cameras of the 3d-pose-baseline layout ``subject<n>/camera<k>/{R, T (mm), f, c, k, p, Name}``.

    ``tree`` is an open h5py file or any nested mapping of arrays. Returns ``{"S1": {"54138969": Camera}}``.
    """
    out: dict[str, dict[str, Camera]] = {}
    for subject_key in tree:
        if not str(subject_key).startswith("subject"):  # e.g. motionet's "3dtest" array beside the cameras
            continue
        subject = "S" + str(subject_key).removeprefix("subject")
        for camera_key in tree[subject_key]:
            group, where = tree[subject_key][camera_key], f"{source}: {subject_key}/{camera_key}"
            values = {key: np.asarray(_field(group, key, where)[()]) for key in ("R", "T", "f", "c", "k", "p")}
            raw = np.asarray(group["Name"][()]) if "Name" in group else np.asarray(str(camera_key))
            # the name is stored as character codes (integers, or floats in 3d-pose-baseline's file)
            name = ("".join(chr(int(v)) for v in raw.ravel().tolist()) if raw.dtype.kind in "iuf"
                    else str(raw.astype(str)))
            out.setdefault(subject, {})[name] = h36m_camera(name, **values, source=source)
    return out


def _h36m_h5(path: Path) -> dict[str, dict[str, Camera]]:
    try:
        import h5py
        with h5py.File(path, "r") as handle:
            return h36m_cameras_from_tree(handle, str(path))
    except ModuleNotFoundError:
        raise CalibrationError(f"{path}: reading HDF5 needs h5py (`pip install h5py`); mmpose's cameras.pkl holds "
                               f"the same Human3.6M cameras and needs nothing extra") from None
    except OSError as error:
        raise CalibrationError(f"{path}: not a readable HDF5 file ({error})") from None


def _h36m_pkl(path: Path) -> dict[str, dict[str, Camera]]:
    """mmpose's ``cameras.pkl``, read by the Human3.6M readers' own loader (one parser of the file)."""
    try:
        table = read_camera_pickle(path)
    except H36MError as error:
        raise CalibrationError(f"not a readable pickle of Human3.6M cameras: {error}") from None
    out: dict[str, dict[str, Camera]] = {}
    for (subject, name), cam in table.items():
        out.setdefault(subject, {})[name] = camera_from_h36m(cam, str(path))
    return out


def _pick_subject(cameras: dict[str, dict[str, Camera]], subject: str | None, path: Path) -> dict[str, Camera]:
    if subject is None and len(cameras) == 1:
        return next(iter(cameras.values()))
    if subject not in cameras:
        raise CalibrationError(f"{path}: holds the cameras of subjects {sorted(cameras)}; pass subject= one of them"
                               + (f" (got {subject!r})" if subject is not None else ""))
    return cameras[subject]


__all__ = ["Camera", "CalibrationError", "load_calibration", "write_calibration", "relative_extrinsics",
           "h36m_camera", "camera_from_h36m", "h36m_cameras_from_tree", "H36M_IMAGE_SIZES"]
