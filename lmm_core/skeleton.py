"""The skeleton: a joint tree with rest offsets, plus what it takes to read it (units, up axis, sides).

A skeleton is parents plus names plus rest offsets; everything else is derived. Joints are stored in
topological order (every parent before its children), so forward kinematics is one pass.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import LMMError

# "cmu" is the CMU mocap database's ASF length unit, 1/0.45 inch (its BVH conversions keep it).
UNITS_TO_METRES = {"m": 1.0, "dm": 0.1, "cm": 0.01, "mm": 0.001, "in": 0.0254, "cmu": 0.0254 / 0.45}
UP_AXES = ("y", "z")

# Side markers in joint names, tried in order; each is (left pattern, right pattern) around the stem.
_SIDE_PATTERNS = (
    (r"^(.*)Left(.*)$", r"\1Right\2"),
    (r"^(.*)left(.*)$", r"\1right\2"),
    (r"^(.*)LEFT(.*)$", r"\1RIGHT\2"),
    (r"^(.*)([._\-\s])L$", r"\1\2R"),
    (r"^(.*)([._\-\s])l$", r"\1\2r"),
    (r"^L([._\-\s])(.*)$", r"R\1\2"),
    (r"^l([._\-\s])(.*)$", r"r\1\2"),
    (r"^(.*)([._\-\s])L([._\-\s].*)$", r"\1\2R\3"),
    (r"^(.*)([._\-\s])l([._\-\s].*)$", r"\1\2r\3"),
    (r"^L([A-Z].*)$", r"R\1"),
    (r"^(.*[a-z])L$", r"\1R"),
)


def find_side_pairs(names: tuple[str, ...] | list[str]) -> tuple[tuple[int, int], ...]:
    """Left/right joint pairs ``(left_index, right_index)`` found from joint names.

    Understands ``Left/Right`` anywhere in the name (``LeftUpLeg``), suffixes and prefixes with a
    separator (``hand.L``, ``thigh_l``, ``l_arm``), Blender-style ``shoulder.L.001`` and CMU-style
    ``LHipJoint``. A name counts only if its mirrored name exists too.
    """
    index = {n: i for i, n in enumerate(names)}
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for i, name in enumerate(names):
        if i in used:
            continue
        for left, right in _SIDE_PATTERNS:
            if re.match(left, name):
                other = re.sub(left, right, name)
                j = index.get(other)
                if j is not None and j != i and j not in used:
                    pairs.append((i, j))
                    used.update((i, j))
                    break
    return tuple(pairs)


def guess_units(length: float, typical_m: float = 1.7) -> str:
    """Best guess of length units from a body measure in file units: the unit that makes ``length`` closest
    (by ratio) to ``typical_m`` metres, the measure on an adult. The default is standing height; the BVH
    reader passes the leg's length (hip to ankle along the bones, ``lmm_core.io.bvh.guess_motion_units``),
    which floor-heavy clips do not shrink."""
    if length <= 0 or not np.isfinite(length):
        return "m"
    best = min(("m", "cm", "mm", "in", "cmu"), key=lambda u: abs(np.log(length * UNITS_TO_METRES[u] / typical_m)))
    return best


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A joint tree with its rest pose.

    Attributes:
        names: joint names, ``J`` of them, unique.
        parents: ``(J,)`` int, parent index of each joint, ``-1`` for the root (only joint 0).
        offsets: ``(J, 3)`` rest translation of each joint from its parent, in ``units``, in the
            parent's frame. The root's offset is its rest position.
        units: length unit of offsets and positions: ``m``, ``dm``, ``cm``, ``mm``, ``in`` or ``cmu``.
        up_axis: ``y`` or ``z``, the world axis that points up.
        pairs: left/right joint index pairs ``(left, right)``, found from names when not given.
        end_sites: joint index -> ``(3,)`` offset of a leaf end point (BVH ``End Site``).
        rotation_orders: preferred Euler order per joint for writers (BVH channels), e.g. ``"zyx"``.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    units: str = "m"
    up_axis: str = "y"
    pairs: tuple[tuple[int, int], ...] | None = None
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)
    rotation_orders: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        offsets = np.asarray(self.offsets, dtype=np.float64)
        n = len(names)
        if n == 0:
            raise LMMError("a skeleton needs at least one joint")
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise LMMError(f"duplicate joint name {name!r}: joint names must be unique")
            seen.add(name)
        if parents.shape != (n,) or offsets.shape != (n, 3):
            raise LMMError(f"skeleton arrays disagree: {n} names, parents {parents.shape}, offsets {offsets.shape}")
        if parents[0] != -1 or np.any(parents[1:] < 0) or np.any(parents[1:] >= np.arange(1, n)):
            raise LMMError("skeleton joints must be in topological order with one root at index 0")
        if not np.all(np.isfinite(offsets)):
            raise LMMError("skeleton offsets must be finite")
        if self.units not in UNITS_TO_METRES:
            raise LMMError(f"unknown units {self.units!r}; use one of {', '.join(UNITS_TO_METRES)}")
        if self.up_axis not in UP_AXES:
            raise LMMError(f"unknown up axis {self.up_axis!r}; use 'y' or 'z'")
        orders = tuple(self.rotation_orders) if self.rotation_orders is not None else ("zyx",) * n
        if len(orders) != n:
            raise LMMError(f"{len(orders)} rotation orders for {n} joints")
        parents.setflags(write=False)
        offsets.setflags(write=False)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "rotation_orders", tuple(o.lower() for o in orders))
        pairs = find_side_pairs(names) if self.pairs is None else tuple((int(a), int(b)) for a, b in self.pairs)
        object.__setattr__(self, "pairs", pairs)
        ends = {int(k): np.asarray(v, dtype=np.float64).reshape(3) for k, v in self.end_sites.items()}
        object.__setattr__(self, "end_sites", ends)

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of a joint by name; an ``LMMError`` listing the joints when it is missing."""
        try:
            return self.names.index(name)
        except ValueError:
            raise LMMError(f"no joint named {name!r}; the skeleton has: {', '.join(self.names)}") from None

    def children(self, j: int) -> list[int]:
        return [int(c) for c in np.nonzero(self.parents == j)[0]]

    @property
    def up_index(self) -> int:
        return 1 if self.up_axis == "y" else 2

    def rest_positions(self) -> np.ndarray:
        """Global rest-pose joint positions ``(J, 3)`` in ``units`` (identity rotations)."""
        pos = np.zeros((self.num_joints, 3))
        for j, p in enumerate(self.parents):
            pos[j] = self.offsets[j] if p < 0 else pos[p] + self.offsets[j]
        return pos

    def height(self) -> float:
        """Rest-pose extent along the up axis, joints and end sites included, in ``units``.

        Meaningful for rigs that rest standing (T- or A-pose); for the height of a performer use
        ``Motion.height()``.
        """
        pos = self.rest_positions()
        pts = [pos] + [pos[j][None] + off[None] for j, off in self.end_sites.items()]
        up = np.concatenate(pts)[:, self.up_index]
        return float(up.max() - up.min())

    def scaled(self, factor: float, units: str | None = None) -> "Skeleton":
        """The same skeleton with every length multiplied by ``factor`` (and optionally new units)."""
        return replace(
            self,
            offsets=self.offsets * factor,
            end_sites={j: o * factor for j, o in self.end_sites.items()},
            units=self.units if units is None else units,
        )
