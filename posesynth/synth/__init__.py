"""The synthetic puppet world: procedural motion, a capsule body, cameras and a ray-cast renderer.

Modules: ``joint_angles`` (joint angles → 17 joints), ``motion_programs`` (procedural motion),
``subject`` (per-subject proportions and clothing), ``body`` (joints → textured capsules),
``raycast`` (ray–capsule renderer), ``backdrop`` (floor and wall), ``camera`` (static
cameras that keep the person in view), ``scene`` (one clip seen by one or more cameras).
``dataset`` is the dataset writer and the ``posesynth synth`` command.
"""
