"""``python -m posesynth`` (also what ``accelerate launch -m posesynth`` runs)."""

import sys

from posesynth.cli import main

sys.exit(main())
