"""The networks of posesynth and the parameter-free functions that wire them (back-projection, derived bone directions)."""
