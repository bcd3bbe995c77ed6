"""scripts/gpu_check.py, the one-call GPU check, runs end to end on a CPU in its tiny mode.

The check is run on a lent GPU only now and then, with minutes of device time; a path that was
never executed would waste them. Here the same script runs every step (throughput,
data generation, cache, self-supervised training with the imitation cycle, held-out
evaluation) at tiny sizes and writes its JSON.
"""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"


def test_gpu_check_tiny_writes_one_json(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "check"), "--tiny"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "check" / "gpu_check.json").read_text())
    assert report["tiny"] and report["device"].startswith("CPU")
    assert [row["size"] for row in report["throughput"]] == [32]
    assert all(row["pairs_per_s"] > 0 for row in report["throughput"])
    learning = report["learning"]
    assert learning["steps"] == 2 and learning["curve"][-1]["step"] == 2
    assert learning["curve"][-1]["pa_mpjpe"] > 0 and "train.mixed_precision=auto" in learning["overrides"]
    assert learning["curve"][-1]["joints2d_px"] > 0 and learning["curve"][-1]["constant_joints2d_px"] > 0
    log = (tmp_path / "check" / "learning" / "run" / "log.jsonl").read_text().splitlines()
    assert "loss/imitation" in json.loads(log[-1])
