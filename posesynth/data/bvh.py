"""Biovision BVH motion files: parse the hierarchy and motion, forward kinematics to positions.

Format (Meredith & Maddock, "Motion Capture File Formats Explained", 2001; the Biovision spec):
a HIERARCHY of ``ROOT``/``JOINT`` blocks, each with an ``OFFSET`` (the joint's position in its
parent's frame at rest) and ``CHANNELS`` (any of X/Y/Zposition and X/Y/Zrotation, in any
order), ``End Site`` blocks with an OFFSET only, then ``MOTION`` with ``Frames:``,
``Frame Time:`` and one line of channel values per frame, joints in hierarchy order.

Semantics used here (those of common readers, e.g. Blender's importer):
- rotations are in degrees; a joint's local rotation is the product of elementary rotations in
  the order the channels are listed, R = R_a(θ_a)·R_b(θ_b)·R_c(θ_c) for channels "a b c";
- a joint's local translation is OFFSET plus its position channels (only the root has them
  in most files), so world positions follow
  ``p_j = p_parent + R_parent_world · t_j`` and ``R_j_world = R_parent_world · R_j``;
- coordinates are in the file's own unit and axes (BVH is conventionally y up).

End sites are named ``<parent>_End`` (``_End2``, ... if a joint has several).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

_AXES = {"Xrotation": "x", "Yrotation": "y", "Zrotation": "z"}
_POSITIONS = {"Xposition": 0, "Yposition": 1, "Zposition": 2}


class BVHError(ValueError):
    """A BVH file that cannot be read; the message names the file and, where known, the line."""


@dataclass(frozen=True)
class BVH:
    """A parsed BVH file.

    Attributes:
        names: (J,) joint names in hierarchy order, end sites included (``<parent>_End``).
        parents: (J,) parent index per joint, −1 for a root; parents precede children.
        offsets: (J, 3) rest offsets from the parent, file units.
        channels: per joint, its channel names in file order (empty for end sites).
        motion: (F, C) channel values per frame, C = total number of channels; degrees for
            rotations, file units for positions.
        frame_time: seconds per frame.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    motion: np.ndarray
    frame_time: float

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time


def _tokens(lines: list[str]) -> list[tuple[str, int, str]]:
    """Split hierarchy lines into (token, 1-based line number, rest of the line after it)."""
    out = []
    for number, line in enumerate(lines, start=1):
        words = line.replace("{", " { ").replace("}", " } ").split()
        for k, word in enumerate(words):
            out.append((word, number, " ".join(words[k + 1:])))
    return out


def _parse_hierarchy(lines: list[str], source: str
                     ) -> tuple[list[str], list[int], list[list[float]], list[tuple[str, ...]]]:
    """Parse HIERARCHY lines into names, parents, offsets (file units) and channel names."""
    tokens = _tokens(lines)
    pos = 0
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []

    def fail(message: str, line: int | None = None) -> BVHError:
        where = f" (line {line})" if line is not None else ""
        return BVHError(f"{source}{where}: {message}")

    def take(expected: str | None = None) -> tuple[str, int, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise fail(f"hierarchy ends early, expected {expected or 'more'} (unbalanced braces?)")
        token = tokens[pos]
        pos += 1
        if expected is not None and token[0].upper() != expected.upper():
            raise fail(f"expected {expected!r}, found {token[0]!r}", token[1])
        return token

    def number() -> float:
        word, line, _ = take()
        try:
            return float(word)
        except ValueError:
            raise fail(f"expected a number, found {word!r}", line) from None

    def joint_name(rest: str, line: int) -> str:
        # the name runs to the end of the line (or to a '{'), so names with spaces survive
        nonlocal pos
        words = rest.split("{")[0].split()
        if not words:
            raise fail("ROOT/JOINT without a name", line)
        pos += len(words)
        return " ".join(words)

    def block(name: str, parent: int, end_site: bool) -> None:
        index = len(names)
        names.append(name)
        parents.append(parent)
        take("{")
        take("OFFSET")
        offsets.append([number(), number(), number()])
        if end_site:
            channels.append(())
            take("}")
            return
        _, line, _ = take("CHANNELS")
        count = number()
        if count != int(count) or count < 0:
            raise fail(f"CHANNELS count must be a non-negative integer, got {count}", line)
        listed = tuple(take()[0] for _ in range(int(count)))
        unknown = [c for c in listed if c not in _AXES and c not in _POSITIONS]
        if unknown:
            raise fail(f"unknown channel(s) {unknown} for joint {name!r}; expected X/Y/Zposition, "
                       f"X/Y/Zrotation", line)
        channels.append(listed)
        ends = 0
        while True:
            word, line, rest = take()
            if word == "}":
                return
            if word.upper() == "JOINT":
                block(joint_name(rest, line), index, end_site=False)
            elif word.upper() == "END":
                take("Site")
                ends += 1
                block(f"{name}_End" + (str(ends) if ends > 1 else ""), index, end_site=True)
            else:
                raise fail(f"expected JOINT, End Site or '}}' in joint {name!r}, found {word!r}", line)

    take("HIERARCHY")
    while pos < len(tokens):
        _, line, rest = take("ROOT")
        block(joint_name(rest, line), -1, end_site=False)
    if not names:
        raise fail("no ROOT joint in HIERARCHY")
    return names, parents, offsets, channels


def _parse_motion(lines: list[str], first_line: int, n_channels: int, source: str) -> tuple[np.ndarray, float]:
    """Parse the lines after MOTION; ``first_line`` is the 1-based number of ``lines[0]``."""
    body = [(first_line + i, line.strip()) for i, line in enumerate(lines) if line.strip()]
    if len(body) < 2 or not body[0][1].lower().startswith("frames:") \
            or not body[1][1].lower().replace(" ", "").startswith("frametime:"):
        raise BVHError(f"{source}: MOTION must start with 'Frames: <n>' and 'Frame Time: <seconds>'")
    try:
        n_frames = int(body[0][1].split(":", 1)[1])
        frame_time = float(body[1][1].split(":", 1)[1])
    except ValueError:
        raise BVHError(f"{source}: cannot read the frame count / frame time in "
                       f"{body[0][1]!r} / {body[1][1]!r}") from None
    rows = body[2:]
    if len(rows) != n_frames:
        raise BVHError(f"{source}: header says {n_frames} frames but {len(rows)} motion lines follow")
    if frame_time <= 0:
        raise BVHError(f"{source}: Frame Time must be positive, got {frame_time}")
    table = [line.split() for _, line in rows]
    for (number, _), values in zip(rows, table):
        if len(values) != n_channels:
            raise BVHError(f"{source} (line {number}): {len(values)} values, but the hierarchy declares "
                           f"{n_channels} channels")
    try:
        motion = np.array(table, dtype=np.float64).reshape(n_frames, n_channels)  # numpy parses the text
    except ValueError:
        # slow path, only to say where: the first value that is not a number
        number, bad = next((number, v) for (number, _), values in zip(rows, table) for v in values
                           if not _is_float(v))
        raise BVHError(f"{source} (line {number}): non-numeric value {bad!r}") from None
    if not np.isfinite(motion).all():
        raise BVHError(f"{source}: motion contains NaN or infinite values")
    return motion, frame_time


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_bvh(text: str, source: str = "<bvh>") -> BVH:
    """Parse BVH text. ``source`` names the file in error messages. Raises :class:`BVHError`."""
    lines = text.splitlines()
    motion_at = next((i for i, line in enumerate(lines) if line.strip().upper() == "MOTION"), None)
    if motion_at is None:
        raise BVHError(f"{source}: no MOTION section (is the file truncated?)")
    names, parents, offsets, channels = _parse_hierarchy(lines[:motion_at], source)
    n_channels = sum(len(c) for c in channels)
    motion, frame_time = _parse_motion(lines[motion_at + 1:], motion_at + 2, n_channels, source)
    return BVH(tuple(names), tuple(parents), np.asarray(offsets, dtype=np.float64), tuple(channels),
               motion, frame_time)


def read_bvh(path: str | Path) -> BVH:
    """Read and parse a BVH file. Raises :class:`BVHError` naming the file on malformed input."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise BVHError(f"{path}: cannot read ({error.strerror})") from error
    return parse_bvh(text, source=str(path))


def elementary_rotations(degrees: np.ndarray, axis: str) -> np.ndarray:
    """Rotations by ``degrees`` (F,) about one coordinate axis ("x", "y", "z") → (F, 3, 3)."""
    theta = np.deg2rad(degrees)
    c, s = np.cos(theta), np.sin(theta)
    R = np.zeros(theta.shape + (3, 3))
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]  # the plane the rotation turns
    k = 3 - i - j
    R[..., k, k] = 1.0
    R[..., i, i], R[..., i, j] = c, -s
    R[..., j, i], R[..., j, j] = s, c
    return R


def bvh_joint_positions(bvh: BVH, frame_step: int = 1) -> np.ndarray:
    """World positions of every joint and end site, vectorised over frames.

    Args:
        bvh: a parsed file.
        frame_step: keep every ``frame_step``-th frame (e.g. 4 turns CMU's 120 fps into 30).
    Returns:
        (F', J, 3) positions in the file's unit and axes, joints ordered like ``bvh.names``.
    """
    motion = bvh.motion[::frame_step]
    n = len(motion)
    world_R = np.empty((len(bvh.names), n, 3, 3))
    world_p = np.empty((len(bvh.names), n, 3))
    column = 0
    for j, (parent, joint_channels) in enumerate(zip(bvh.parents, bvh.channels)):
        local_R = np.broadcast_to(np.eye(3), (n, 3, 3))
        local_t = np.broadcast_to(bvh.offsets[j], (n, 3)).copy()
        for name in joint_channels:
            values = motion[:, column]
            column += 1
            if name in _AXES:
                local_R = local_R @ elementary_rotations(values, _AXES[name])
            else:
                local_t[:, _POSITIONS[name]] += values
        if parent < 0:
            world_R[j], world_p[j] = local_R, local_t
        else:
            world_R[j] = world_R[parent] @ local_R
            world_p[j] = world_p[parent] + (world_R[parent] @ local_t[..., None])[..., 0]
    return world_p.transpose(1, 0, 2)
