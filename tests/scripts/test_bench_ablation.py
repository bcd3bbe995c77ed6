"""scripts/bench_ablation.py: one-signal variants trained on synthetic multi-view scenes, scored held out."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bench_ablation.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=900,
                          cwd=ROOT)


def test_the_heatmap_recipe_with_and_without_the_multiview_terms_on_a_given_heldout_set(tmp_path):
    out = tmp_path / "mv"
    done = _bench("--out", str(out), "--scenes", "2", "--views", "2", "--frames", "20", "--subjects", "2",
                  "--heldout", str(HELDOUT), "-c", "configs/heatmap_selfsup.yaml", "--steps", "2",
                  "--only", "selfsup,multiview_self2d")
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"selfsup", "multiview_self2d"}
    for name, result in results.items():
        assert result["config"].endswith("heatmap_selfsup.yaml") and result["heldout"] == str(HELDOUT)
        assert result["videos"] == 2 and result["model"]["pa_mpjpe"] > 0 and result["baseline"]["pa_mpjpe"] > 0
    assert "loss.multiview_consistency=1.0" in results["multiview_self2d"]["overrides"]
    # one new person per scene, and no held-out set of its own when one is given
    scenes = json.loads((out / "train" / "scenes.json").read_text())
    assert len({scene["subject"] for scene in scenes["scenes"]}) == 2
    assert not (out / "heldout").exists()
    # the multi-view run logged the pair terms
    rows = [json.loads(line) for line in (out / "runs" / "multiview_self2d" / "log.jsonl").read_text().splitlines()]
    assert any("loss/multiview_consistency" in row for row in rows)


def test_a_heldout_folder_without_scenes_gets_a_one_line_error(tmp_path):
    done = _bench("--out", str(tmp_path / "out"), "--heldout", str(tmp_path))
    assert done.returncode != 0
    assert "--heldout" in done.stderr and "scenes.json" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
