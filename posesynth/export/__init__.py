"""Exporting predicted motion: fixed bone lengths, smoothing, root track, BVH, CSV."""
