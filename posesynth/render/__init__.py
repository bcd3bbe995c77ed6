"""Differentiable 2D rendering of the pose: the part-based puppet (``puppet``)."""
