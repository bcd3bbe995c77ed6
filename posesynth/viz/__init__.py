"""Pictures: sample grids, part-map overlays, skeleton drawings."""
