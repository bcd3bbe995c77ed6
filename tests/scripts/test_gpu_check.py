"""scripts/gpu_check.sh and gpu_check.py, the one-call GPU check, run end to end on a CPU in tiny mode.

The check is run on a lent GPU only now and then, with minutes of device time; a path that was
never executed would waste them. Here the same wrapper and script run every step (throughput,
data generation in worker processes, cache, the loop timing, self-supervised training with the
imitation cycle, held-out evaluation, two seeds) at tiny sizes, and the wrapper's flat copy of the
results for the device tool is checked.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from posesynth.models.loading import load_model

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.sh"


def test_gpu_check_tiny_two_seeds_through_the_wrapper(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    env = {**os.environ, "OUT": str(out), "GPU_CHECK_DIR": str(work), "PYTHON": sys.executable,
           "GPU_CHECK_WHEELS": str(tmp_path / "none"), "GPU_CHECK_SECONDS": "550"}
    result = subprocess.run(["bash", str(SCRIPT), "--tiny", "--seeds", "0", "1", "--set", "train.log_every=1"],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, (out / "gpu_check.log").read_text()[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.json", "gpu_check.log", "learning_s0.log.jsonl",
                                                     "learning_s1.log.jsonl", "model_s0.pt.part-00"]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["tiny"] and report["device"].startswith("CPU")
    assert [row["size"] for row in report["throughput"]] == [32]
    assert all(row["pairs_per_s"] > 0 for row in report["throughput"])
    assert [learning["seed"] for learning in report["learning"]] == [0, 1]
    for learning in report["learning"]:
        assert learning["steps"] == 2 and learning["curve"][-1]["step"] == 2
        assert learning["curve"][-1]["pa_mpjpe"] > 0 and "train.mixed_precision=auto" in learning["overrides"]
        assert learning["curve"][-1]["joints2d_px"] > 0 and learning["curve"][-1]["constant_joints2d_px"] > 0
        assert f"train.seed={learning['seed']}" in learning["overrides"] and "train.log_every=1" in learning["overrides"]
    logs = [[json.loads(line) for line in (out / f"learning_s{s}.log.jsonl").read_text().splitlines()] for s in (0, 1)]
    assert all("loss/imitation" in log[-1] for log in logs)
    assert logs[0][-1]["loss/total"] != logs[1][-1]["loss/total"]  # two seeds, two runs
    assert (work / "data" / "train" / "scenes.json").is_file()  # one data set for both
    # the parts rebuild the first seed's model, in half precision, which load_model reads
    rebuilt = tmp_path / "model.pt"
    rebuilt.write_bytes(b"".join(p.read_bytes() for p in sorted(out.glob("model_s0.pt.part-*"))))
    model, trained = load_model(rebuilt), load_model(work / "learning_s0" / "run")
    for (name, a), b in zip(model.state_dict().items(), trained.state_dict().values()):
        assert torch.allclose(a, b, rtol=2e-3, atol=1e-4), name
