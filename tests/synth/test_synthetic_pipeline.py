"""The data pipeline on the synthetic generator's videos: crops contain the rendered person."""

from pathlib import Path

import numpy as np
import pytest

from posesynth.data.pairs import FramePairDataset
from posesynth.synth.dataset import generate_dataset, load_labels


@pytest.fixture(scope="module")
def walking(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("walk")
    generate_dataset(root, videos=2, frames=40, size=96, seed=5, motions=["walking", "turning"], progress=False)
    return root


def _contains(outer, inner, slack: float = 1.0) -> bool:
    return (outer[0] <= inner[0] + slack and outer[1] <= inner[1] + slack
            and outer[2] >= inner[2] - slack and outer[3] >= inner[3] - slack)


def _labels_of(dataset, video: int) -> dict:
    path = Path(dataset.videos[video]["path"])
    return load_labels(path.parent.parent / "labels" / f"{path.stem}.npz")


def test_sidecar_crops_contain_the_whole_person(walking):
    dataset = FramePairDataset(videos=walking / "videos", size=48, min_gap=2, max_gap=10, seed=0, box_source="sidecar")
    for i in range(12):
        item = dataset[i]
        person = _labels_of(dataset, item["video"])["boxes"][item["target_index"]]
        assert _contains(item["box"].numpy(), person), (i, item["box"], person)
        # the crop shows the person: the target differs from the clean background in its centre
        assert (item["target"] - item["background"]).abs().amax(0)[12:36, 12:36].max() > 0.2


def test_foreground_crops_find_a_moving_person(walking):
    dataset = FramePairDataset(videos=walking / "videos", size=48, min_gap=2, max_gap=10, seed=0,
                               box_source="foreground")
    inside, scale = [], []
    for i in range(16):
        item = dataset[i]
        labels = _labels_of(dataset, item["video"])
        person, joints = labels["boxes"][item["target_index"]], labels["joints2d"][item["target_index"]]
        box = item["box"].numpy()
        inside.append(((joints[:, 0] >= box[0]) & (joints[:, 0] < box[2])
                       & (joints[:, 1] >= box[1]) & (joints[:, 1] < box[3])).mean())
        scale.append((box[2] - box[0]) / max(person[2] - person[0], person[3] - person[1]))
    # every joint inside the crop, and the crop about margin (1.25) x the person's height
    assert np.median(inside) == 1.0 and min(inside) > 0.8, inside
    assert 0.9 < np.median(scale) < 1.8, scale


def test_background_plate_replaces_the_median(walking):
    """With the plate the background crop is the empty scene, not a median with a ghost."""
    from posesynth.data.crops import crop_and_resize

    dataset = FramePairDataset(videos=walking / "videos", size=48, min_gap=2, max_gap=10, seed=0, box_source="sidecar")
    item = dataset[3]
    clean = _labels_of(dataset, item["video"])["background"]
    expected = crop_and_resize(clean, item["box"].numpy().astype(int), 48)
    got = (item["background"].permute(1, 2, 0).numpy() * 255).round()
    assert np.abs(got - expected).mean() < 1.0
