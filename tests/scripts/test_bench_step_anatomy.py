"""scripts/bench_step_anatomy.py: operators and time per step of the recipe's loop, by variant, at toy sizes."""

import json
import math
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bench_step_anatomy.py"
TINY = ["model.image_size=32", "model.encoder_stages=3", "train.batch_size=2", "data.min_gap=2", "data.max_gap=6",
        "data.num_workers=0", "train.warmup_steps=1"]


def _tiny_data(root: Path) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from bench_learning import make_data

    from posesynth.data.cache import crop_settings
    from posesynth.data.prepare import prepare_cache
    from posesynth.video.index import index_videos
    make_data(root, 2, 8, 64, heldout_videos=1)
    prepare_cache(index_videos(root / "train" / "videos", min_frames=3), root / "cache",
                  crop_settings(size=32, margin=1.25))


def test_the_operator_counter_counts_forward_and_backward():
    sys.path.insert(0, str(SCRIPT.parent))
    from bench_step_anatomy import OperatorCounter
    x = torch.ones(3, requires_grad=True)
    with OperatorCounter() as counter:
        (x * 2).sum().backward()
    forward_only = OperatorCounter()
    with forward_only:
        (x * 2).sum()
    assert forward_only.count >= 2 and counter.count > forward_only.count


def test_every_variant_runs_the_real_loop(tmp_path):
    data = tmp_path / "data"
    _tiny_data(data)
    out = tmp_path / "anatomy.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--steps", "4", "--json", str(out),
                             "--set", *TINY], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["variant"]: row for row in json.loads(out.read_text())["rows"]}
    assert list(rows) == ["whole loop", "no imitation cycle", "no lifter or refiner batches", "no discriminator",
                          "model step only"]
    assert all(row["seconds_per_step"] > 0 for row in rows.values())
    # removing a part removes its operators; the model step alone is the smallest loop
    whole = rows["whole loop"]["operators_per_step"]
    assert all(row["operators_per_step"] < whole for name, row in rows.items() if name != "whole loop")
    assert rows["model step only"]["operators_per_step"] == min(r["operators_per_step"] for r in rows.values())
    assert "of the operators" in result.stdout


def test_timing_only_skips_the_operator_counts(tmp_path):
    data = tmp_path / "data"
    _tiny_data(data)
    out = tmp_path / "anatomy.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--steps", "2", "--no-operators",
                             "--json", str(out), "--set", *TINY], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 5 and all(math.isnan(r["operators_per_step"]) and r["seconds_per_step"] > 0 for r in rows)


def test_a_folder_that_is_not_benchmark_data_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "bench_learning" in result.stderr
