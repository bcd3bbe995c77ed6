"""Human3.6M camera calibration: the published parameters, mmpose's ``cameras.pkl``, projection.

Every Human3.6M subject was filmed by the same four cameras (ids below); the intrinsics are one
set per camera, the extrinsics were recalibrated per subject. The numbers are the dataset's own
(``metadata.xml`` of the release), as republished by VideoPose3D (Pavllo et al., CVPR 2019,
``common/h36m_dataset.py``: orientation quaternions and camera centres), 3d-pose-baseline
(Martinez et al., ICCV 2017, ``cameras.h5``) and mmpose (``cameras.pkl``); tests check this table
against the real ``cameras.h5`` and ``cameras.pkl``. Only the subjects with released poses (S1,
S5-S11) are listed.

Conventions (posesynth's, docs/architecture.md): ``X_cam = R @ X_world + t`` with ``R``
world→camera and ``t`` in millimetres; the camera frame has x right, y down, z forward.
Sources store the *camera→world* rotation and the camera centre ``C`` instead:
- VideoPose3D: quaternion (w, x, y, z) rotating camera→world, ``C`` in mm (m after loading);
- cameras.h5 / cameras.pkl: the same rotation as a matrix ``R_c2w`` (mmpose applies it to row
  vectors, ``X_row @ R`` = ``R_c2w.T @ X``; 3d-pose-baseline transposes it after reading), ``C``
  in mm (h5) or metres (pkl). Nothing varies per camera: all 28 matrices of both files agree
  with the quaternions below to 1e-7.
so ``R = R_c2w.T`` and ``t = -R @ C``.

Lens distortion is OpenCV's model with ``k = (k1, k2, k3)`` radial and ``p = (p1, p2)``
tangential, in the order cameras.h5 and cameras.pkl store them (VideoPose3D lists the two
tangential coefficients in the reverse order). With it, projecting mmpose's real camera-frame
joints lands on its 2D joints within 0.22 px (up to 3.4 px without it).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from kornia.geometry.calibration import distort_points

from posesynth.geometry import quaternion_to_matrix

CAMERAS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")


class H36MError(ValueError):
    """Bad or missing Human3.6M input; the message names the file or key and what to do."""


@dataclass(frozen=True, eq=False)
class H36MCamera:
    """One calibrated Human3.6M camera view of one subject.

    Attributes:
        id: camera id, e.g. "54138969".
        R: (3, 3) rotation world → camera.
        t: (3,) translation, millimetres: ``X_cam = R @ X_world + t``.
        f: (2,) focal lengths fx, fy, pixels.
        c: (2,) principal point cx, cy, pixels.
        k: (3,) radial distortion k1, k2, k3.
        p: (2,) tangential distortion p1, p2 (OpenCV order).
        width, height: image size, pixels.
    """

    id: str
    R: np.ndarray
    t: np.ndarray
    f: np.ndarray
    c: np.ndarray
    k: np.ndarray
    p: np.ndarray
    width: int
    height: int

    def K(self) -> np.ndarray:
        """(3, 3) float64 pinhole intrinsics, pixels."""
        return np.array([[self.f[0], 0.0, self.c[0]], [0.0, self.f[1], self.c[1]], [0.0, 0.0, 1.0]])

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, millimetres."""
        return -self.R.T @ self.t


# Per camera: focal (fx, fy) px, principal point (cx, cy) px, radial (k1, k2, k3),
# tangential (p1, p2), width, height.
_INTRINSICS: dict[str, tuple] = {
    "54138969": ((1145.0494384765625, 1143.7811279296875), (512.54150390625, 515.4514770507812),
                 (-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043),
                 (-0.00142447161488235, -0.0009756988729350269), 1000, 1002),
    "55011271": ((1149.6756591796875, 1147.5916748046875), (508.8486328125, 508.0649108886719),
                 (-0.1942136287689209, 0.2404085397720337, 0.006819975562393665),
                 (-0.0027408944442868233, -0.0016190266469493508), 1000, 1000),
    "58860488": ((1149.1407470703125, 1148.7989501953125), (519.8158569335938, 501.40264892578125),
                 (-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427),
                 (-0.0007599993259645998, 0.0014843869721516967), 1000, 1000),
    "60457274": ((1145.5113525390625, 1144.77392578125), (514.9682006835938, 501.88201904296875),
                 (-0.198384091258049, 0.21832367777824402, -0.008947807364165783),
                 (-0.0018133620033040643, -0.0005872055771760643), 1000, 1002),
}

# Per subject, one row per camera in CAMERAS order: quaternion (w, x, y, z) rotating
# camera → world, then the camera centre in world coordinates, millimetres.
_EXTRINSICS: dict[str, tuple[tuple[float, ...], ...]] = {
    "S1": ((0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088,
            1841.1070556640625, 4955.28466796875, 1563.4454345703125),
           (0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205,
            1761.278564453125, -5078.0068359375, 1606.2650146484375),
           (0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696,
            -1846.7777099609375, 5215.04638671875, 1491.972412109375),
           (0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435,
            -1794.7896728515625, -3722.698974609375, 1574.8927001953125)),
    "S5": ((0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332,
            2097.3916015625, 4880.94482421875, 1605.732421875),
           (0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915,
            2031.7008056640625, -5167.93310546875, 1612.923095703125),
           (0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576,
            -1620.5948486328125, 5171.65869140625, 1496.43701171875),
           (0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092,
            -1637.1737060546875, -3867.3173828125, 1547.033203125)),
    "S6": ((0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938,
            1935.4517822265625, 4950.24560546875, 1618.0838623046875),
           (0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428,
            1969.803955078125, -5128.73876953125, 1632.77880859375),
           (0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334,
            -1769.596435546875, 5185.361328125, 1476.993408203125),
           (0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802,
            -1721.668701171875, -3884.13134765625, 1540.4879150390625)),
    "S7": ((0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778,
            1974.512939453125, 4926.3544921875, 1597.8326416015625),
           (0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508,
            1937.0584716796875, -5119.7900390625, 1631.5665283203125),
           (0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278,
            -1741.8111572265625, 5208.24951171875, 1464.8245849609375),
           (0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523,
            -1734.7105712890625, -3832.42138671875, 1548.5830078125)),
    "S8": ((0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773,
            2150.65185546875, 4896.1611328125, 1611.9046630859375),
           (0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615,
            2219.965576171875, -5148.453125, 1613.0440673828125),
           (0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755,
            -1571.2215576171875, 5137.0185546875, 1498.1761474609375),
           (0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708,
            -1476.913330078125, -3896.7412109375, 1547.97216796875)),
    "S9": ((0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243,
            2044.45849609375, 4935.1171875, 1481.2275390625),
           (0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801,
            1990.959716796875, -5123.810546875, 1568.8048095703125),
           (0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915,
            -1670.9921875, 5211.98583984375, 1528.387939453125),
           (0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822,
            -1696.04345703125, -3827.099853515625, 1591.4127197265625)),
    "S11": ((0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467,
             2098.440185546875, 4926.5546875, 1500.278564453125),
            (0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085,
             2083.182373046875, -4912.1728515625, 1561.07861328125),
            (0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407,
             -1609.8153076171875, 5177.3359375, 1537.896728515625),
            (0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809,
             -1590.738037109375, -3854.1689453125, 1578.017578125)),
}
PUBLISHED_SUBJECTS: tuple[str, ...] = tuple(_EXTRINSICS)


def _camera(camera: str, R_c2w: np.ndarray, center_mm: np.ndarray, f, c, k, p, width: int, height: int
            ) -> H36MCamera:
    """Build an H36MCamera from a camera→world rotation and a camera centre (mm)."""
    R = np.asarray(R_c2w, np.float64).T
    t = -R @ np.asarray(center_mm, np.float64).reshape(3)
    return H36MCamera(camera, R, t, _vector(f, 2), _vector(c, 2), _vector(k, 3), _vector(p, 2),
                      int(width), int(height))


def _vector(values, size: int) -> np.ndarray:
    return np.asarray(values, np.float64).reshape(size)


def published_camera(subject: str, camera: str) -> H36MCamera:
    """The published calibration of one subject's camera view.

    Args:
        subject: "S1", "S5" ... "S11" (the subjects with released poses).
        camera: one of ``CAMERAS``.
    Raises:
        H36MError for an unknown subject or camera.
    """
    if camera not in _INTRINSICS:
        raise H36MError(f"unknown Human3.6M camera {camera!r}; the cameras are {CAMERAS}")
    if subject not in _EXTRINSICS:
        raise H36MError(f"no published calibration for subject {subject!r}; it exists for {PUBLISHED_SUBJECTS}")
    row = np.asarray(_EXTRINSICS[subject][CAMERAS.index(camera)], np.float64)
    R_c2w = quaternion_to_matrix(torch.from_numpy(row[:4])).numpy()
    f, c, k, p, width, height = _INTRINSICS[camera]
    return _camera(camera, R_c2w, row[4:], f, c, k, p, width, height)


def read_camera_pickle(path: str | Path) -> dict[tuple[str, str], H36MCamera]:
    """mmpose's ``cameras.pkl``: ``{(subject, camera_id): {R, T, f, c, k, p, w, h, ...}}``.

    ``R`` is the camera→world rotation and ``T`` (3, 1) the camera centre in metres (see the
    module docstring). The file is a Python pickle: unpickling can run code, load trusted files only.

    Returns:
        ``{(subject, camera_id): H36MCamera}`` in posesynth's convention (R world→camera, t mm).
    Raises:
        H36MError naming the file and the key when an entry lacks a field or has a wrong shape.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            table = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError) as error:
        raise H36MError(f"{path}: cannot read the camera pickle ({error}); re-create it with mmpose's "
                        f"preprocess_h36m.py or remove it to use the published cameras") from error
    if not isinstance(table, dict):
        raise H36MError(f"{path}: expected a dict keyed (subject, camera_id), got {type(table).__name__}")
    cameras = {}
    for key, entry in table.items():
        try:
            subject, camera = str(key[0]), str(key[1])
            R_c2w = np.asarray(entry["R"], np.float64).reshape(3, 3)
            center_mm = np.asarray(entry["T"], np.float64).reshape(3) * 1000.0
            cameras[subject, camera] = _camera(camera, R_c2w, center_mm, entry["f"], entry["c"], entry["k"],
                                               entry["p"], entry["w"], entry["h"])
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise H36MError(f"{path}: entry {key!r} is not an mmpose camera (needs R (3, 3), T (3, 1) m, f, c, "
                            f"k, p, w, h): {error}") from error
    return cameras


def world_to_camera_mm(points: np.ndarray, camera: H36MCamera) -> np.ndarray:
    """World → camera frame, ``X_cam = R @ X + t``.

    Args:
        points: (..., 3) world coordinates, millimetres.
    Returns:
        (..., 3) float64 camera frame, millimetres.
    """
    return np.asarray(points, np.float64) @ camera.R.T + camera.t


def project_to_image(points: np.ndarray, camera: H36MCamera, distort: bool = True) -> np.ndarray:
    """Camera-frame points → pixels, with the camera's lens distortion (kornia, OpenCV model).

    Args:
        points: (..., 3) camera frame, any unit (z > 0).
        distort: apply ``k``/``p``; False gives the pinhole projection.
    Returns:
        (..., 2) float64 pixels (u, v).
    """
    points = np.asarray(points, np.float64)
    pixels = points[..., :2] / points[..., 2:3] * camera.f + camera.c
    if not distort:
        return pixels
    flat = torch.from_numpy(pixels.reshape(1, -1, 2))
    dist = torch.from_numpy(np.concatenate([camera.k[:2], camera.p, camera.k[2:]]))[None]  # k1, k2, p1, p2, k3
    K = torch.from_numpy(camera.K())[None]
    return distort_points(flat, K, dist).numpy().reshape(pixels.shape)
