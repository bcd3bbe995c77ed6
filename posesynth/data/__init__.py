"""Training data: frame-pair and multi-view datasets, cache, crops, augmentation, sidecar readers
(2D keypoints, 3D labels, calibration, unpaired poses, BVH) and depth-order labels."""
