"""2D keypoint files (sidecars, COCO-style annotations), the COCO→H36M map, and the 2D keypoint loss."""

import json

import numpy as np
import pytest
import torch

from posesynth.data.crops import SidecarError, read_sidecar_boxes
from posesynth.data.keypoints2d import (COCO17_NAMES, DERIVED_FROM_COCO, KeypointsError, coco_to_h36m,
                                        find_keypoints, load_coco_keypoints, read_keypoint_arrays, read_keypoints,
                                        to_h36m)
from posesynth.losses.keypoint_reprojection import keypoint_loss


def _coco_pose(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 100, (17, 2)), rng.uniform(0.5, 1.0, 17)


def test_coco_to_h36m_maps_and_derives_joints():
    points, scores = _coco_pose()
    kp, sc, derived = coco_to_h36m(points, scores)
    assert kp.shape == (17, 2) and sc.shape == (17,) and derived.dtype == bool
    assert np.flatnonzero(derived).tolist() == list(DERIVED_FROM_COCO)
    name = {n: i for i, n in enumerate(COCO17_NAMES)}
    np.testing.assert_allclose(kp[1], points[name["right_hip"]], rtol=1e-6)       # H36M 1 = right hip
    np.testing.assert_allclose(kp[13], points[name["left_wrist"]], rtol=1e-6)     # H36M 13 = left wrist
    pelvis = (points[name["left_hip"]] + points[name["right_hip"]]) / 2
    thorax = (points[name["left_shoulder"]] + points[name["right_shoulder"]]) / 2
    np.testing.assert_allclose(kp[0], pelvis, rtol=1e-6)
    np.testing.assert_allclose(kp[8], thorax, rtol=1e-6)
    np.testing.assert_allclose(kp[7], (pelvis + thorax) / 2, rtol=1e-6)
    np.testing.assert_allclose(kp[9], points[name["nose"]], rtol=1e-6)
    np.testing.assert_allclose(kp[10], (points[name["left_eye"]] + points[name["right_eye"]]) / 2, rtol=1e-6)
    assert sc[0] == pytest.approx(min(scores[11], scores[12]))
    assert sc[7] == pytest.approx(min(scores[5], scores[6], scores[11], scores[12]))


def test_missing_joints_get_score_zero_and_finite_coordinates():
    points, scores = _coco_pose()
    points[11] = np.nan  # left hip missing: pelvis, spine and the left hip lose their score
    kp = to_h36m(points[None], scores[None], "coco17")
    assert np.isfinite(kp.keypoints).all()
    assert kp.scores[0, [0, 4, 7]].tolist() == [0, 0, 0] and kp.scores[0, 1] > 0


def test_coco_mapping_on_the_real_coco_sample(realdata):
    people = load_coco_keypoints(realdata / "mmpose" / "coco" / "test_coco.json")
    raw = json.loads((realdata / "mmpose" / "coco" / "test_coco.json").read_text())
    labelled = [a for a in raw["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    assert len(people) == len(labelled) == 12
    first = np.asarray(labelled[0]["keypoints"], np.float64).reshape(17, 3)
    kp = people.keypoints
    np.testing.assert_allclose(kp.keypoints[0, 3], first[16, :2])            # right ankle
    np.testing.assert_allclose(kp.keypoints[0, 0], (first[11, :2] + first[12, :2]) / 2)
    assert people.images[0] == "000000000785.jpg" and people.annotation_ids[0] == labelled[0]["id"]
    np.testing.assert_allclose(people.boxes[0], [280.79, 44.73, 280.79 + 218.7, 44.73 + 346.68])
    # unlabelled COCO joints (v = 0) have score 0; labelled ones 1
    v = np.asarray([np.asarray(a["keypoints"]).reshape(17, 3)[:, 2] for a in labelled])
    assert np.array_equal(kp.scores[:, 3] > 0, v[:, 16] > 0)
    assert set(np.unique(kp.scores).tolist()) <= {0.0, 1.0}


def test_h36m_layout_is_read_from_the_category_names(realdata):
    people = load_coco_keypoints(realdata / "mmpose" / "h36m" / "h36m_coco.json")
    raw = json.loads((realdata / "mmpose" / "h36m" / "h36m_coco.json").read_text())
    first = np.asarray(raw["annotations"][0]["keypoints"]).reshape(17, 3)
    assert not people.keypoints.derived.any()
    np.testing.assert_allclose(people.keypoints.keypoints[0], first[:, :2], rtol=1e-6)


def test_npz_sidecar_of_either_layout(tmp_path):
    points = np.random.default_rng(1).uniform(0, 50, (4, 17, 2))
    np.savez(tmp_path / "a.keypoints.npz", keypoints=points, scores=np.full((4, 17), 0.9), layout="h36m17")
    kp = read_keypoints(tmp_path / "a.keypoints.npz", frames=4)
    np.testing.assert_allclose(kp.keypoints, points, rtol=1e-6)
    assert not kp.derived.any() and np.allclose(kp.scores, 0.9)
    np.savez(tmp_path / "b.keypoints.npz", keypoints=points)  # no scores, no layout: COCO, score 1
    kp = read_keypoints(tmp_path / "b.keypoints.npz", frames=4)
    assert kp.derived.any() and np.allclose(kp.scores, 1.0)


def test_json_sidecar_shapes(tmp_path):
    points, _ = _coco_pose()
    flat = np.concatenate([points, np.full((17, 1), 2.0)], axis=1).ravel().tolist()   # COCO x, y, v
    pairs = points.tolist()                                                           # [[x, y], ...]
    weak = np.concatenate([points + 5, np.full((17, 1), 0.2)], axis=1).ravel().tolist()
    frames = [flat, None, pairs, {"keypoints": flat, "score": 0.9}, [{"keypoints": weak}, {"keypoints": flat}], []]
    path = tmp_path / "clip.keypoints.json"
    path.write_text(json.dumps({"layout": "coco17", "frames": frames}))
    kp = read_keypoints(path, frames=6)
    expected = coco_to_h36m(points, np.ones(17))[0]
    for i in (0, 2, 3, 4):  # the most confident of two people is kept in frame 4
        np.testing.assert_allclose(kp.keypoints[i], expected, rtol=1e-6)
        assert np.allclose(kp.scores[i], 1.0)
    assert (kp.scores[[1, 5]] == 0).all() and (kp.keypoints[[1, 5]] == 0).all()
    raw, scores, layout = read_keypoint_arrays(path)
    assert raw.shape == (6, 17, 2) and np.isnan(raw[1]).all() and layout == "coco17"


@pytest.mark.parametrize("name, content, message", [
    ("c.keypoints.json", "[[1, 2, 1], [1, 2", "cannot read it"),
    ("c.keypoints.json", '{"people": []}', "'frames'"),
    ("c.keypoints.json", '[[1, 2], null, "x"]', "frame 0"),
    ("c.keypoints.json", '[{"points": []}, null, null]', "frame 0 is an object without 'keypoints'"),
    ("c.keypoints.json", "[[1, 2, 1], [1, 2, 1, 3, 4, 1], null]", "different joint counts"),
    ("c.keypoints.npz", {"points": np.zeros((3, 17, 2))}, "no 'keypoints' array"),
    ("c.keypoints.npz", {"keypoints": np.zeros((3, 17, 3))}, r"\(F, J, 2\)"),
    ("c.keypoints.npz", {"keypoints": np.zeros((3, 17, 2)), "scores": np.zeros((3, 5))}, "scores must be"),
    ("c.keypoints.npz", {"keypoints": np.zeros((3, 5, 2))}, "needs 17 joints"),
    ("c.keypoints.npz", {"keypoints": np.zeros((4, 17, 2))}, "keypoints for 4 frames but the video has 3"),
])
def test_malformed_or_wrong_length_files_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        np.savez(path, **content)
    with pytest.raises(KeypointsError, match=message) as error:
        read_keypoints(path, frames=3)
    assert str(path) in str(error.value)


def test_malformed_coco_file_names_the_file_and_annotation(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}],
                                "annotations": [{"id": 7, "image_id": 1, "keypoints": [1, 2, 2]}]}))
    with pytest.raises(KeypointsError, match="annotation 7 has 3 keypoint numbers") as error:
        load_coco_keypoints(path)
    assert str(path) in str(error.value)
    path.write_text("[]")
    with pytest.raises(KeypointsError, match="'images' and 'annotations'"):
        load_coco_keypoints(path)


def test_find_keypoints_beside_the_video_or_in_a_folder(tmp_path):
    video = tmp_path / "clip.mp4"
    assert find_keypoints(video) is None
    (tmp_path / "clip.keypoints.json").write_text("[]")
    assert find_keypoints(video) == tmp_path / "clip.keypoints.json"
    (tmp_path / "kp").mkdir()
    np.savez(tmp_path / "kp" / "clip.keypoints.npz", keypoints=np.zeros((1, 17, 2)))
    assert find_keypoints(video, tmp_path / "kp") == tmp_path / "kp" / "clip.keypoints.npz"
    assert find_keypoints(tmp_path / "other.mp4", tmp_path / "kp") is None


def test_json_keypoint_sidecar_gives_boxes_and_errors_stay_sidecar_errors(tmp_path):
    frames = [[[10, 20, 0.9], [30, 60, 0.8]], None, [[10, 20, 0.9], [30, 60, 0.8]]]
    (tmp_path / "clip.keypoints.json").write_text(json.dumps(frames))
    boxes = read_sidecar_boxes(tmp_path / "clip.keypoints.json", 3, pad=0.0)
    np.testing.assert_allclose(boxes[0], [10, 20, 31, 61])
    assert np.isnan(boxes[1]).all()
    (tmp_path / "bad.keypoints.json").write_text('{"x": 1}')
    with pytest.raises(SidecarError, match="'frames'"):
        read_sidecar_boxes(tmp_path / "bad.keypoints.json", 3)


# --- the 2D keypoint loss -------------------------------------------------------------------------

def test_keypoint_loss_closed_form_and_resolution_independence():
    pred = torch.tensor([[[10.0, 10.0], [0.0, 0.0]]])
    target = torch.tensor([[[13.0, 14.0], [float("nan"), 0.0]]])   # the second joint is missing
    conf = torch.tensor([[0.5, 0.0]])
    # one joint: ‖(3, 4)‖² / 100² = 25e-4
    assert keypoint_loss(pred, target, conf, 100.0).item() == pytest.approx(25e-4)
    # the same pose at twice the resolution gives the same value
    assert keypoint_loss(2 * pred, 2 * target, conf, 200.0).item() == pytest.approx(25e-4)
    zero = keypoint_loss(pred.requires_grad_(), target, torch.zeros(1, 2), 100.0)
    zero.backward()
    assert zero.item() == 0 and torch.isfinite(pred.grad).all() and (pred.grad == 0).all()


def test_keypoint_loss_gradcheck():
    pred = torch.randn(2, 5, 2, dtype=torch.float64, requires_grad=True)
    target, conf = torch.randn(2, 5, 2, dtype=torch.float64), torch.rand(2, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: keypoint_loss(p, target, conf, 3.0), (pred,))
