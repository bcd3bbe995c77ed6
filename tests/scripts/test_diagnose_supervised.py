"""scripts/diagnose_supervised.py: the supervised learnability curve, on the bundled labelled clips."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_supervised.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"


def test_the_curve_has_3d_and_2d_errors_with_their_baselines(tmp_path):
    (tmp_path / "train").symlink_to(HELDOUT)
    (tmp_path / "heldout").symlink_to(HELDOUT)
    out = tmp_path / "curve.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path), "--steps", "4", "--evals", "2",
                             "--batch", "4", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert [p["samples"] for p in report["curve"]] == [8, 16]
    last = report["curve"][-1]
    for key in ("pa_mpjpe", "n_mpjpe", "baseline_pa_mpjpe", "joints2d_px", "constant_joints2d_px",
                "joints2d_either_side_px", "constant_joints2d_either_side_px"):
        assert np.isfinite(last[key]) and last[key] > 0, key
    # left and right left open can only lower an error
    assert last["joints2d_either_side_px"] <= last["joints2d_px"] + 1e-6
    # the baseline does not depend on training, the best constant pose beats the mean pose
    assert report["curve"][0]["baseline_pa_mpjpe"] == last["baseline_pa_mpjpe"]
    assert report["best_constant_pa_mpjpe"] < last["baseline_pa_mpjpe"]
    assert report["heldout_frames"] > 0 and "held-out PA-MPJPE" in result.stdout
