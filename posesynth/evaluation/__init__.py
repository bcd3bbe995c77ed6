"""Evaluation: metrics, per-sequence scores, Human3.6M, MPI-INF-3DHP, synthetic sets, reports, ``posesynth eval``."""
