"""Fit the joint-definition correction's numbers on Human3.6M motion capture (never on images).

Forward kinematics of the S1 exp-map recordings in ``../shared/realdata/dmgnn`` (Walking 1, and
Directions 1 from row 250 on: the S1 test frame is frame 1 of Directions 1), then the geometry of
:func:`posesynth.detect.reference.fit_correction`. Paste the printed dictionary into
``posesynth.detect.mapping.FITTED`` (a test checks that they agree).

    python scripts/fit_keypoint_correction.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from posesynth.detect.reference import FIT_SOURCES, fit_correction, load_fit_poses

DMGNN = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "dmgnn"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dmgnn", type=Path, default=DMGNN, help="the realdata/dmgnn folder")
    args = parser.parse_args()
    fitted = fit_correction(load_fit_poses(args.dmgnn))
    print("fitted on", ", ".join(f"{name} from row {first}" for name, first in FIT_SOURCES))
    print(json.dumps(fitted, indent=4))


if __name__ == "__main__":
    main()
