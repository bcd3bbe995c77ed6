"""scripts/bench_depth_pretrain.py: depth pre-training's weight table, on the bundled labelled clips."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bench_depth_pretrain.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"


def test_depth_order_closed_forms():
    sys.path.insert(0, str(SCRIPT.parent))
    from bench_depth_pretrain import depth_order

    truth = np.zeros((1, 17, 3))
    truth[0, :, 2] = np.arange(17) * 0.2           # every pair ordered, joint j farther than j − 1
    assert depth_order(truth, truth) == 1.0
    assert depth_order(-truth, truth) == 0.0       # every order reversed
    assert depth_order(np.zeros_like(truth), truth) == 0.0   # flat depth orders nothing
    swapped = truth.copy()
    swapped[0, [0, 1], 2] = swapped[0, [1, 0], 2]  # one of the 136 pairs reversed
    assert depth_order(swapped, truth) == 135 / 136


def test_the_table_has_both_sets_and_the_baseline(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train").symlink_to(HELDOUT)
    (data / "heldout").symlink_to(HELDOUT)
    poses = [np.load(path)["joints3d"] for path in sorted((HELDOUT / "labels").glob("*.npz"))]
    np.save(data / "poses3d.npy", np.concatenate(poses))
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--out", str(out), "--videos", "1",
                             "--steps", "2", "--weights", "1:1", "0:1", "--eval-stride", "8",
                             "--lifter", str(ROOT / "assets" / "demo" / "checkpoint.pt")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "results.json").read_text())
    assert [(r["depth_weight"], r["keypoint_weight"]) for r in report["rows"]] == [(1.0, 1.0), (0.0, 1.0)]
    for row in report["rows"]:
        for where in ("train", "heldout"):
            assert np.isfinite(row[where]["pa_mpjpe"]) and 0 <= row[where]["order"] <= 1
            assert row[where]["joints2d_px"] > 0 and row[where]["constant_joints2d_px"] > 0
            # the demo's lifter turns the same 2D joints into another 3D pose
            assert np.isfinite(row[where]["lifted_pa_mpjpe"]) and row[where]["lifted_pa_mpjpe"] != row[where]["pa_mpjpe"]
    # the keypoint sidecars are the clip's exact 2D joints, written beside the linked video
    sidecar = next((out / "train" / "videos").glob("*.keypoints.npz"))
    label = next((HELDOUT / "labels").glob(f"{sidecar.name.split('.')[0]}.npz"))
    np.testing.assert_array_equal(np.load(sidecar)["keypoints"], np.load(label)["joints2d"])
    assert "| 1 | 1 |" in result.stdout and "| mean-pose baseline; best constant 2D pose |" in result.stdout
    assert "held-out PA-MPJPE, lifter |" in result.stdout
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert len({line.count("|") for line in table}) == 1  # every row has the header's columns
