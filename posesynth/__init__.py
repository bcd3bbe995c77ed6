"""posesynth: learn 3D human pose from unlabeled video by part-guided novel image synthesis."""

__version__ = "0.1.0"
