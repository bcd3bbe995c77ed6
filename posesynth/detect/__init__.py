"""The bundled 2D keypoint detector (the optional extra ``posesynth[detect]``): MediaPipe Pose,
its landmarks mapped onto the Human3.6M 17 joints, written as keypoint sidecars."""
