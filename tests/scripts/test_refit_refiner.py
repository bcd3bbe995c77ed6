"""scripts/refit_refiner.py: a refiner fitted after a run, scored on the run's held-out set."""

import json
import subprocess
import sys
from pathlib import Path

import torch

from posesynth.models.model import PoseSynthModel

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "refit_refiner.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"
TINY = dict(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8, appearance_width=8,
            decoder_width=8)


def _run_folder(path: Path, eval_synthetic: Path | None = HELDOUT, **legacy) -> Path:
    """A run folder as `posesynth train` leaves it: model.pt and config.yaml (data.eval_synthetic)."""
    path.mkdir()
    torch.manual_seed(0)
    torch.save({"model_kwargs": {**TINY, **legacy}, "state_dict": PoseSynthModel(**TINY).state_dict(), "step": 0},
               path / "model.pt")
    lines = ["model:", "  image_size: 32"]
    if eval_synthetic is not None:
        lines += ["data:", f"  eval_synthetic: {eval_synthetic}"]
    (path / "config.yaml").write_text("\n".join(lines) + "\n")
    return path


def _refit(run: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--run", str(run), *args], capture_output=True, text=True,
                          timeout=600)


def test_a_refitted_refiner_is_scored_beside_the_run(tmp_path):
    run = _run_folder(tmp_path / "run")
    before = (run / "model.pt").read_bytes()
    result = _refit(run, "--iterations", "5", "--json", str(tmp_path / "refit.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "refit.json").read_text())
    assert report["frames"] == 192  # every frame of the two bundled held-out clips
    # no refiner of its own: the run as trained is the run without one
    assert report["as_trained"]["pa_mpjpe"] == report["no_refiner"]["pa_mpjpe"]
    refitted = report["refitted"]
    assert refitted["iterations"] == 5 and refitted["pa_mpjpe"] != report["no_refiner"]["pa_mpjpe"]
    assert refitted["ratio"] == refitted["pa_mpjpe"] / refitted["baseline_pa_mpjpe"]
    assert "refitted (5 batches)" in result.stdout
    assert (run / "model.pt").read_bytes() == before  # the run is only read


def test_the_views_default_to_the_runs_and_can_be_chosen(tmp_path):
    run = _run_folder(tmp_path / "run")
    reports = []
    for name, extra in (("own", ()), ("cameras", ("--elevation", "-5", "35", "--lean", "10"))):
        result = _refit(run, "--iterations", "5", "--json", str(tmp_path / f"{name}.json"), *extra)
        assert result.returncode == 0, result.stderr
        reports.append(json.loads((tmp_path / f"{name}.json").read_text())["refitted"])
    own, cameras = reports
    assert (own["elevation_deg"], own["lean_deg"]) == ([0.0, 0.0], 20.0)   # the config's defaults
    assert (cameras["elevation_deg"], cameras["lean_deg"]) == ([-5.0, 35.0], 10.0)
    assert cameras["pa_mpjpe"] != own["pa_mpjpe"]   # other views, another refiner
    # a run whose own fit after its last step had views of its own: those are the default
    fitted = tmp_path / "fitted"
    _run_folder(fitted)
    with (fitted / "config.yaml").open("a") as config:
        config.write("train:\n  refiner_fit_iterations: 3000\n  refiner_fit_elevation_min_deg: -5\n"
                     "  refiner_fit_elevation_max_deg: 35\n  refiner_fit_lean_deg: 10\n")
    config_text = (fitted / "config.yaml").read_text().replace("model:\n", "model:\n  refiner: true\n")
    (fitted / "config.yaml").write_text(config_text)
    result = _refit(fitted, "--iterations", "5", "--json", str(tmp_path / "fitted.json"))
    assert result.returncode == 0, result.stderr
    refitted = json.loads((tmp_path / "fitted.json").read_text())["refitted"]
    assert (refitted["elevation_deg"], refitted["lean_deg"]) == ([-5.0, 35.0], 10.0)
    assert refitted["pa_mpjpe"] == cameras["pa_mpjpe"]   # the same views, seed and poses: the same refiner


def test_another_labelled_set_is_scored_with_data(tmp_path):
    # a run with no held-out set of its own is scored on the set --data names (e.g. validation people)
    run = _run_folder(tmp_path / "run", eval_synthetic=None)
    result = _refit(run, "--iterations", "2", "--data", str(HELDOUT), "--json", str(tmp_path / "v.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["scored"] == str(HELDOUT) and report["frames"] == 192
    assert f"192 frames of {HELDOUT}" in result.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _refit(run, "--iterations", "1", "--data", str(empty))
    assert result.returncode != 0 and str(empty) in result.stderr and "Traceback" not in result.stderr


def test_views_out_of_range_are_a_one_line_error(tmp_path):
    run = _run_folder(tmp_path / "run")
    for extra, word in ((("--elevation", "35", "-5"), "LOW <= HIGH"), (("--elevation", "0", "95"), "<= 90"),
                        (("--lean", "100"), "--lean")):
        result = _refit(run, "--iterations", "1", *extra)
        assert result.returncode != 0 and word in result.stderr and "Traceback" not in result.stderr


def test_a_kinematic_run_or_a_run_without_a_heldout_set_is_a_one_line_error(tmp_path):
    # the kinematic encoder was removed: its runs no longer load
    for run, word in ((_run_folder(tmp_path / "kin", encoder="kinematic"), "kinematic"),
                      (_run_folder(tmp_path / "none", eval_synthetic=None), "eval_synthetic")):
        result = _refit(run, "--iterations", "1")
        assert result.returncode != 0 and word in result.stderr and "Traceback" not in result.stderr
