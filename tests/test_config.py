import re
from dataclasses import dataclass, field

import pytest
import yaml

from posesynth.cli import main
from posesynth.config import Config, ConfigError, apply_overrides, from_dict, load_config, to_dict, write_resolved_config


def test_defaults_round_trip_through_yaml(tmp_path):
    config = Config()
    path = write_resolved_config(config, tmp_path / "run")
    assert path == tmp_path / "run" / "config.yaml"
    assert load_config(path) == config
    assert yaml.safe_load(path.read_text())["data"]["max_gap"] == config.data.max_gap


def test_file_plus_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  videos: /some/folder with spaces\n  max_gap: 30\nmodel:\n  image_size: 96\n")
    config = load_config(path, ["data.max_gap=12", "data.margin=1.5", "data.cache=null"])
    assert config.data.videos == "/some/folder with spaces"
    assert config.data.max_gap == 12 and config.model.image_size == 96
    assert config.data.margin == 1.5 and config.data.cache is None


def test_int_and_exponent_strings_are_accepted_for_float():
    assert load_config(None, ["train.lr=1e-3"]).train.lr == 1e-3  # PyYAML reads 1e-3 as a string
    with pytest.raises(ConfigError, match="must be a number"):
        load_config(None, ["train.lr=fast"])
    assert load_config(None, ["data.margin=2"]).data.margin == 2.0


def test_the_removed_kinematic_settings_load_as_the_2p5d_encoder_or_say_what_happened(capsys):
    # a run's config.yaml from before the removal names them with the 2.5D encoder's values
    assert load_config(None, ["model.encoder=heatmap", "model.bone_scaling=false", "model.spatial_head=false"]) == Config()
    for override in ("model.encoder=kinematic", "model.bone_scaling=true", "model.spatial_head=true"):
        key = override.split("=")[0]
        with pytest.raises(ConfigError, match=rf"{key}=.* belongs to the kinematic pose encoder, which was removed"):
            load_config(None, [override])
    assert main(["config", "model.encoder=kinematic"]) == 2  # one line, no traceback
    assert capsys.readouterr().err.strip().count("\n") == 0


@pytest.mark.parametrize("override, message", [
    ("data.vidoes=/x", r"unknown config key 'data\.vidoes'.*Did you mean 'data\.videos'"),
    ("nope.key=1", r"unknown config key 'nope'.*Valid keys in the top level: data, model, loss, train"),
    ("data.max_gap=2.5", r"'data\.max_gap' must be an integer, got 2\.5"),
    ("data.box_source=magic", r"'data\.box_source' must be one of 'auto', 'foreground', 'sidecar', 'center'"),
    ("model.image_size=big", r"'model\.image_size' must be an integer"),
    ("train.seed=true", r"'train\.seed' must be an integer, got True"),
    ("data=3", r"'data' must be a mapping"),
    ("data.max_gap", r"not of the form section\.key=value"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_bad_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  max_gapp: 3\n")
    with pytest.raises(ConfigError, match=r"max_gapp.*bad\.yaml"):
        load_config(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_nested_lists_and_optional():
    @dataclass
    class Inner:
        sizes: list[int] = field(default_factory=lambda: [1, 2])
        name: str | None = None

    @dataclass
    class Outer:
        inner: Inner = field(default_factory=Inner)

    assert from_dict(Outer, {"inner": {"sizes": [3, 4], "name": "x"}}).inner.sizes == [3, 4]
    with pytest.raises(ConfigError, match=r"'inner\.sizes\[1\]' must be an integer"):
        from_dict(Outer, {"inner": {"sizes": [3, "a"]}})
    assert to_dict(Outer()) == {"inner": {"sizes": [1, 2], "name": None}}


def test_override_into_scalar_is_an_error():
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_overrides({"data": 3}, ["data.max_gap=1"])


def test_cli_config_command(capsys):
    assert main(["config", "data.max_gap=7"]) == 0
    assert "max_gap: 7" in capsys.readouterr().out
    assert main(["config", "data.maxgap=7"]) == 2
    assert "unknown config key 'data.maxgap'" in capsys.readouterr().err


def test_shipped_base_config_matches_the_defaults():
    from pathlib import Path
    assert load_config(Path(__file__).parents[1] / "configs" / "base.yaml") == Config()


@pytest.mark.parametrize("name", ["base.yaml", "demo.yaml", "h36m_selfsup.yaml", "h36m_semi.yaml", "h36m_weak.yaml",
                                  "wild_videos.yaml", "multiview.yaml", "depth_pretrain.yaml", "heatmap_selfsup.yaml"])
def test_every_shipped_config_loads(name):
    from pathlib import Path
    config = load_config(Path(__file__).parents[1] / "configs" / name)
    assert config.model.image_size % (2 ** config.model.decoder_levels) == 0


@pytest.mark.parametrize("override, message", [
    ("train.steps=-5", r"'train\.steps' must be >= 1, got -5"),
    ("train.batch_size=0", r"'train\.batch_size' must be >= 1, got 0"),
    ("train.grad_accum=0", r"'train\.grad_accum' must be >= 1"),
    ("train.lr=.nan", r"'train\.lr' must be a finite number, got nan"),
    ("train.lr=-1e-3", r"'train\.lr' must be >= 0"),
    ("train.log_every=0", r"'train\.log_every' must be >= 1"),
    ("train.checkpoint_every=0", r"'train\.checkpoint_every' must be >= 1"),
    ("model.image_size=63", r"'model\.image_size' \(63\) must be divisible by 2\*\*model\.decoder_levels \(8\)"),
    ("model.image_size=0", r"'model\.image_size' must be >= 8"),
    ("data.min_gap=100", r"'data\.min_gap' \(100\) must be <= 'data\.max_gap' \(50\)"),
    ("data.margin=0", r"'data\.margin' must be > 0"),
    ("data.labels_fraction=1.5", r"'data\.labels_fraction' is a share of the frames, in \[0, 1\]"),
    ("loss.ssim=-1", r"'loss\.ssim' must be >= 0"),
    ("loss.l1=.inf", r"'loss\.l1' must be a finite number"),
    ("loss.imitation_elevation_min_deg=40", r"'loss\.imitation_elevation_min_deg' \(40\.0\) and "
     r"'loss\.imitation_elevation_max_deg' \(0\.0\) are a camera elevation range"),
    ("loss.imitation_elevation_max_deg=95", r"need -90 <= min <= max <= 90"),
    ("loss.imitation_lean_deg=-3", r"'loss\.imitation_lean_deg' must be >= 0"),
])
def test_out_of_range_values_are_errors_naming_the_key(override, message, capsys, tmp_path):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])
    assert main(["config", override]) == 2
    assert re.search(message, capsys.readouterr().err)
    path = tmp_path / "c.yaml"  # in a file, the message also names the file
    section, key = override.split("=")[0].split(".")
    path.write_text(yaml.safe_dump({section: {key: yaml.safe_load(override.split("=")[1])}}))
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_config(path)


@pytest.mark.parametrize("overrides, message", [
    (["train.refiner_fit_lean_deg=10"], r"'train\.refiner_fit_lean_deg' sets the views .* needs "
                                        r"train\.refiner_fit_iterations > 0"),
    (["model.refiner=true", "train.refiner_fit_iterations=10", "train.refiner_fit_elevation_min_deg=-5"],
     r"'train\.refiner_fit_elevation_min_deg' and 'train\.refiner_fit_elevation_max_deg' go together"),
    (["model.refiner=true", "train.refiner_fit_iterations=10", "train.refiner_fit_elevation_min_deg=40",
      "train.refiner_fit_elevation_max_deg=-5"], r"need -90 <= min <= max <= 90"),
    (["model.refiner=true", "train.refiner_fit_iterations=10", "train.refiner_fit_lean_deg=100"],
     r"'train\.refiner_fit_lean_deg' is an angle in degrees, in \[0, 90\]; got 100"),
])
def test_the_refiners_fit_views_are_checked(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)
    config = load_config(None, ["model.refiner=true", "train.refiner_fit_iterations=10",
                                "train.refiner_fit_elevation_min_deg=-5", "train.refiner_fit_elevation_max_deg=35"])
    assert (config.train.refiner_fit_elevation_min_deg, config.train.refiner_fit_lean_deg) == (-5.0, None)


def test_ranges_admit_the_edges():
    config = load_config(None, ["train.lr=0", "train.keep_checkpoints=0", "train.eval_every=0", "data.min_gap=50",
                                "data.num_workers=0", "data.labels_fraction=0", "model.image_size=8",
                                "model.encoder_stages=3", "model.decoder_levels=3",
                                "loss.imitation_elevation_min_deg=-90", "loss.imitation_elevation_max_deg=-90"])
    assert config.train.lr == 0 and config.data.min_gap == config.data.max_gap
