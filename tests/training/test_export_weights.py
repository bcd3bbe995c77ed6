"""export_weights: a run's model.pt in half precision, read back by load_model and train.init."""

import pytest
import torch

from posesynth.models.loading import load_model
from posesynth.models.model import PoseSynthModel
from posesynth.training.checkpoints import export_weights, init_weights

KWARGS = dict(image_size=32, encoder_width=8, encoder_stages=3, appearance_channels=8, appearance_width=8,
              decoder_width=8, lifter=True, facing_head=True)


def test_half_precision_weights_load_back_within_rounding(tmp_path):
    torch.manual_seed(0)
    model = PoseSynthModel(**KWARGS)
    torch.save({"model_kwargs": KWARGS, "state_dict": model.state_dict(), "step": 7}, tmp_path / "model.pt")
    dest = export_weights(tmp_path, tmp_path / "small" / "checkpoint.pt")
    stored = torch.load(dest, weights_only=True)
    assert stored["step"] == 7 and stored["model_kwargs"] == KWARGS
    assert all(v.dtype == torch.float16 for v in stored["state_dict"].values() if v.is_floating_point())
    assert dest.stat().st_size < 0.6 * (tmp_path / "model.pt").stat().st_size
    assert not list(dest.parent.glob("*.tmp"))

    loaded = load_model(dest).state_dict()
    fresh = PoseSynthModel(**KWARGS)
    init_weights(fresh, dest)
    for name, value in model.state_dict().items():
        assert loaded[name].dtype == value.dtype  # back in float32
        if value.is_floating_point():
            torch.testing.assert_close(loaded[name], value, rtol=2 ** -10, atol=1e-7)
            assert torch.equal(fresh.state_dict()[name], loaded[name])
        else:
            assert torch.equal(loaded[name], value)


def test_export_of_a_missing_run_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.pt"):
        export_weights(tmp_path / "nothing", tmp_path / "out.pt")
