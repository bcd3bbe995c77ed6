"""Human3.6M: the published cameras, its sequence types, and the original / VideoPose3D / mmpose readers."""
