"""scripts/diagnose_lifter.py: a lifter learned from unpaired poses, scored on the bundled held-out clips."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from posesynth.models.model import PoseSynthModel
from posesynth.synth.poses import sample_poses

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "diagnose_lifter.py"
HELDOUT = ROOT / "assets" / "demo" / "heldout"


def test_a_run_of_another_crop_size_is_lifted_from_its_own_crops(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "heldout").symlink_to(HELDOUT)
    np.save(data / "poses3d.npy", sample_poses(clips=2, frames=16, seed=7))
    torch.manual_seed(0)
    kwargs = dict(image_size=32, encoder_stages=3)
    model = PoseSynthModel(**kwargs)
    torch.save({"model_kwargs": kwargs, "state_dict": model.state_dict()}, tmp_path / "model.pt")
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--iterations", "3", "--batch", "16",
                             "--refine-2d", "--noise-px", "1", "--run", str(tmp_path / "model.pt")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    baseline = float(re.search(r"mean pose ([\d.]+) mm", result.stdout).group(1))
    own, lifted = map(float, re.search(r"its own 3D PA-MPJPE ([\d.]+) mm; its 2D joints through this lifter "
                                       r"([\d.]+) mm", result.stdout).groups())
    assert 0 < baseline < 200 and own > 0 and lifted > 0
    assert "true 2D + 1 px noise lifted" in result.stdout


def test_2d_of_another_crop_size_maps_box_edges_and_centre():
    sys.path.insert(0, str(SCRIPT.parent))
    from diagnose_lifter import to_lifter_crop
    points = torch.tensor([[-0.5, -0.5], [63.5, 127.5], [63.5, 63.5]])  # edges and centre of a 128 px crop
    assert torch.allclose(to_lifter_crop(points, 128), torch.tensor([[-0.5, -0.5], [31.5, 63.5], [31.5, 31.5]]))
    assert torch.equal(to_lifter_crop(points, 64), points)
