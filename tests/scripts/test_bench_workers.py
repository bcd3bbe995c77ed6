"""scripts/bench_workers.py runs on tiny clips and reports both stages for both process counts."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_workers.py"


def test_bench_workers_tiny(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--videos", "2", "--frames", "4", "--size", "32",
                             "--crop", "16", "--repeats", "1", "--json", str(tmp_path / "r.json")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    for stage in ("render", "cache"):
        assert report[stage]["one_process_s"] > 0 and report[stage]["2_workers_s"] > 0
        assert report[stage]["speed_up"] > 0
    assert "render:" in result.stdout and "cache:" in result.stdout
