"""The synthetic puppet world: procedural motion, a capsule body, cameras and a ray-cast renderer.

Modules: ``kinematics`` (joint angles → 17 joints), ``motion`` (procedural motion programs),
``subject`` (per-subject proportions and clothing), ``body`` (joints → textured capsules),
``render`` (ray–capsule renderer), ``background`` (floor and wall), ``camera`` (static
cameras that keep the person in view), ``scene`` (one clip seen by one or more cameras).
The dataset writer and the ``posesynth synth`` command live in ``posesynth.synth.dataset``.
"""
