"""Automatic bone mapping for rigs without a preset: the tree's shape, confirmed or corrected by names.

How it decides (details in ``docs/rigs.md``):

1. *Shape.* Bone lengths come from the rest offsets (a rotation never changes them, so they hold even for
   rigs that rest lying down, like LAFAN1 and Bandai). A child branch is *major* when it reaches at least
   a fifth of the body's span (the longest bone path between two tips) and holds two joints or more, so
   fingers, toes, twist, face and helper bones never count. Walking down from the root (into the largest
   subtree), the *pelvis* is the first joint with three or more major branches of which one leads to a
   *chest* (a joint with a mirror pair of major branches, the arms) and two others form a mirror pair
   (the legs). The spine is the path pelvis -> chest; the head chain is the chest's largest other branch.
2. *Limbs.* Along each limb's main chain (always into the child reaching farthest) the thigh and shin,
   or upper arm and forearm, are the two consecutive bones with the largest summed length; the joints
   before and after them take collar/toe/wrist. Names then re-place joints where they disagree:
   synonyms such as UpLeg/Thigh/UpperLeg, Leg/Knee/Calf/Shin/LowerLeg, Arm/UpperArm, ForeArm/LowerArm/
   Elbow, Shoulder/Clavicle/Collar, Toe/Ball, Foot/Ankle, Hand/Wrist, found after removing namespaces
   (``mixamorig:``), prefixes (``DEF-``, ``J_Bip_``, ``Bip01``) and side markers. A best ordered
   assignment along the chain maximises name matches plus agreement with the shape.
3. *Sides.* Left/right come from side markers in names (Left/Right, L/R, .L/.R, _l/_r, l_/r_); without
   them from geometry: the side the character's left points to, left = up x forward, with up from pelvis
   to chest and forward from ankle to toe.

Confidence per joint: 0.9 name and shape agree, 0.8 a weak name (``shoulder``) agrees with the shape, 0.7
the name alone, 0.6 the shape alone, 0.4 neither or left/right undecidable.

``place_bones`` gives the placement as plain names; ``bonemap.auto_bone_map`` makes a ``BoneMap`` of it
(this module knows nothing of bone maps, so ``bonemap`` can build on it).
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from . import canonical as C
from .errors import RigMappingError, listing
from .skeleton import Skeleton

MAJOR_FRACTION = 0.2  # a major branch reaches at least this fraction of the body's span

# ---- names ---------------------------------------------------------------------------------------------

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_PREFIX_TOKENS = {"def", "org", "bip", "j", "mixamorig", "cc", "base", "valvebiped", "b", "bn", "jnt",
                  "joint", "bone", "skel", "sk", "c", "m", "ctrl"}
_BODY_WORDS = ("hand", "foot", "arm", "leg", "hip", "thigh", "shin", "knee", "ankle", "toe", "shoulder",
               "clavicle", "collar", "elbow", "wrist", "finger", "thumb", "upperarm", "forearm", "uparm",
               "upleg", "lowarm", "lowleg", "calf", "ball")
_GLUED_SIDE = re.compile(r"^([lr])(" + "|".join(_BODY_WORDS) + r")")
_HELPER = {"ik", "twist", "roll", "corrective", "helper", "pole", "target", "socket", "attach", "weapon",
           "prop", "gun", "interaction", "mass", "dummy", "null", "driver", "mch", "tweak", "aux", "adj",
           "sec", "end", "nub", "tip", "root", "ctrl", "control", "share", "bend"}
_END_MARK = {"end", "nub", "tip", "top"}
_FINGER = re.compile(r"thumb|index|middle|ring|pinky|little|finger|digit|metacarpal|carpal|palm")

# (strong, weak) patterns per slot, searched in the name's stem. Strong scores 1, weak 0.5.
_SLOT_PATTERNS: dict[str, tuple[str, str | None]] = {
    "hip": (r"thigh|upleg|upperleg|legupper|femur|^hip", None),
    "knee": (r"^leg$|lowerleg|lowleg|loleg|leglower|shin|calf|knee|crus|tibia", None),
    "ankle": (r"foot|ankle|tarsal|talus", None),
    "toe": (r"toe|ball", None),
    "collar": (r"clavicle|collar|clav|scapula|thorax", r"shoulder"),
    "shoulder": (r"upperarm|uparm|^arm$|armupper|humerus|bicep", r"shoulder"),
    "elbow": (r"forearm|lowerarm|lowarm|loarm|armlower|elbow|radius|ulna", None),
    "wrist": (r"^hand$|wrist", None),
    "pelvis": (r"hips?$|pelvis|^hip|cog", None),
    "spine": (r"spine|chest|back|torso|abdomen|waist|thorax|lumbar|belly|stomach", None),
    "neck": (r"neck", None),
    "head": (r"head|skull|cranium", r"face"),
}
_SLOT_RE = {k: (re.compile(s), re.compile(w) if w else None) for k, (s, w) in _SLOT_PATTERNS.items()}


@dataclass(frozen=True)
class _Name:
    side: str | None  # "L", "R" or None
    stem: str         # lower case, no namespace, prefixes, side markers, digits or separators
    number: str       # the name's digits ("001" in "upper_arm.L.001"), "" when none
    helper: bool      # names a helper (IK, twist, end marker...) rather than a body joint
    end_mark: bool    # looks like a tip marker (``HeadTop_End``, ``toe_nub``)


def parse_name(name: str) -> _Name:
    """Side, stem and kind of a bone name: ``"mixamorig:LeftUpLeg"`` -> side L, stem ``upleg``."""
    bare = re.split(r"[:|]", name)[-1]
    tokens: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", bare):
        tokens += [t.lower() for t in _CAMEL.findall(part)]
    side = None
    words: list[str] = []
    digits = [t for t in tokens if t.isdigit()]
    for t in tokens:
        if t in ("l", "left"):
            side = side or "L"
        elif t in ("r", "right"):
            side = side or "R"
        elif t.startswith("left") and len(t) > 4:
            side, words = side or "L", words + [t[4:]]
        elif t.startswith("right") and len(t) > 5:
            side, words = side or "R", words + [t[5:]]
        elif (m := _GLUED_SIDE.match(t)) and t not in _BODY_WORDS:
            side, words = side or m.group(1).upper(), words + [t[1:]]
        elif not t.isdigit():
            words.append(t)
    body = [w for w in words if w not in _PREFIX_TOKENS] or words
    helper = any(w in _HELPER for w in body)
    end_mark = any(w in _END_MARK for w in body)
    return _Name(side, "".join(w for w in body if w not in _HELPER), "".join(digits), helper, end_mark)


def name_score(slot: str, name: _Name) -> float:
    """How well a parsed name fits a slot: 1 strong synonym, 0.5 weak (``shoulder``), 0 none."""
    if name.helper and not name.stem or _FINGER.search(name.stem) or name.end_mark:
        return 0.0
    strong, weak = _SLOT_RE[slot]
    if strong.search(name.stem):
        return 1.0
    if weak is not None and weak.search(name.stem):
        return 0.5
    return 0.0


# ---- the tree's shape ------------------------------------------------------------------------------------

class _Tree:
    """Lengths, reaches and sizes of a skeleton's joint tree (lengths in the skeleton's units)."""

    def __init__(self, skeleton: Skeleton, pose: np.ndarray | None):
        self.sk = skeleton
        n = skeleton.num_joints
        self.parents = skeleton.parents
        self.children: list[list[int]] = [[] for _ in range(n)]
        for j in range(1, n):
            self.children[int(self.parents[j])].append(j)
        self.length = np.linalg.norm(skeleton.offsets, axis=1)
        self.length[0] = 0.0
        self.end = np.zeros(n)
        for j, off in skeleton.end_sites.items():
            self.end[j] = float(np.linalg.norm(off))
        self.names = [parse_name(s) for s in skeleton.names]
        self.reach = self.end.copy()      # farthest tip below a joint, along bones
        self.size = np.ones(n, dtype=int)  # joints in the subtree
        self.depth = np.ones(n, dtype=int)  # joints on the longest chain down from the joint
        self.span = np.zeros(n)           # longest tip-to-tip bone path inside the subtree
        for j in range(n - 1, -1, -1):
            branches = sorted([self.end[j]] + [self.branch(c) for c in self.children[j]], reverse=True)
            self.reach[j] = branches[0]
            self.span[j] = max([branches[0] + (branches[1] if len(branches) > 1 else 0.0)]
                               + [self.span[c] for c in self.children[j]])
            for c in self.children[j]:
                self.size[j] += self.size[c]
                self.depth[j] = max(self.depth[j], self.depth[c] + 1)
        self.pos = skeleton.rest_positions() if pose is None else np.asarray(pose, dtype=float)
        self.pose_given = pose is not None

    def branch(self, c: int) -> float:
        """Reach of the branch that starts with the bone into ``c``."""
        return float(self.length[c] + self.reach[c])

    def majors(self, j: int, scale: float) -> list[int]:
        # Helper chains (UE's ik_hand_root -> ik_hand_gun) can be long; they are never limbs.
        return [c for c in self.children[j]
                if self.branch(c) >= MAJOR_FRACTION * scale and self.depth[c] >= 2 and not self.names[c].helper]

    def largest_child(self, j: int) -> int | None:
        kids = self.children[j]
        return max(kids, key=lambda c: (self.size[c], self.branch(c))) if kids else None

    def main_chain(self, start: int) -> tuple[list[int], float]:
        """Joints from ``start`` always into the child reaching farthest; tip markers (``*_End`` leaves)
        are cut off. Returns the chain and the length of the last joint's tip (end site or marker)."""
        chain = [start]
        while self.children[chain[-1]]:
            kids = self.children[chain[-1]]
            chain.append(max(kids, key=lambda c: (not self.names[c].helper, self.branch(c), self.size[c])))
        tip = float(self.end[chain[-1]])
        while len(chain) > 1 and not self.children[chain[-1]] and self.names[chain[-1]].end_mark:
            tip = float(self.length[chain[-1]])
            chain.pop()
        return chain, tip

    def segments(self, chain: list[int], tip: float) -> list[float]:
        """Length of the bone leaving each chain joint: to the next joint, and ``tip`` for the last."""
        return [float(self.length[c]) for c in chain[1:]] + [tip]

    def side_vote(self, joints: list[int]) -> str | None:
        votes = [self.names[j].side for j in joints if self.names[j].side]
        left, right = votes.count("L"), votes.count("R")
        return "L" if left > right else "R" if right > left else None


# ---- assignment along a chain ----------------------------------------------------------------------------

def _assign(tree: _Tree, chain: list[int], slots: tuple[str, ...], struct: dict[str, int | None],
            required: set[str]) -> dict[str, tuple[int | None, float]]:
    """Best strictly ordered placement of ``slots`` on ``chain`` (positions, ``None`` = absent).

    Maximises name score + 0.6 per slot that agrees with the shape (``struct``), earlier joints first on
    ties. Returns slot -> (chain position or None, confidence).
    """
    n = len(chain)
    scores = {s: [name_score(s, tree.names[j]) for j in chain] for s in slots}
    # A numbered repeat of an earlier bone's name is a segment of that bone (Rigify's "DEF-shin.L.001"
    # twist half follows "DEF-shin.L"): the joint is the first one.
    for p, j in enumerate(chain):
        nj = tree.names[j]
        if nj.number and any(tree.names[k].stem == nj.stem and tree.names[k].number < nj.number for k in chain[:p]):
            for s in slots:
                scores[s][p] = 0.0
    best: tuple[float, tuple] | None = None
    options: list[list[int | None]] = [list(range(n)) + ([] if s in required else [None]) for s in slots]
    for combo in itertools.product(*options):
        placed = [p for p in combo if p is not None]
        if any(b <= a for a, b in zip(placed, placed[1:])):
            continue
        total = 0.0
        for s, q in zip(slots, combo):
            total += (scores[s][q] - 1e-3 * q) if q is not None else 0.0
            total += 0.6 if q == struct.get(s) else 0.0
        if best is None or total > best[0] + 1e-9:
            best = (total, combo)
    if best is None:
        return {}
    out: dict[str, tuple[int | None, float]] = {}
    for s, p in zip(slots, best[1]):
        if p is None:
            out[s] = (None, 0.0)
            continue
        named, agrees = scores[s][p], p == struct.get(s)
        conf = 0.9 if named >= 1 and agrees else 0.8 if named > 0 and agrees else 0.7 if named >= 1 \
            else 0.6 if agrees or named > 0 else 0.4
        out[s] = (p, conf)
    return out


def _limb_struct(seg: list[float], kind: str) -> dict[str, int | None]:
    """Shape-only placement on a limb chain with bone lengths ``seg`` (``seg[k]`` leaves joint k)."""
    n = len(seg)
    if kind == "leg":  # hip and knee start the two longest consecutive bones; the ankle is a joint
        cands = range(0, n - 2)
        i = max(cands, key=lambda k: seg[k] + seg[k + 1]) if n >= 3 else 0
        return {"hip": i, "knee": i + 1, "ankle": i + 2, "toe": i + 3 if i + 3 < n else None}
    # arm: the wrist may be a tip. Among near-equal pairs take the later one: a collar bone can be as
    # long as the upper arm (CMU), while what follows the forearm (the hand) is clearly shorter.
    sums = [seg[k] + seg[k + 1] for k in range(n - 1)]
    top = max(sums) if sums else 0.0
    i = max(k for k, s in enumerate(sums) if s >= 0.97 * top) if sums else 0
    return {"collar": i - 1 if i >= 1 else None, "shoulder": i, "elbow": i + 1,
            "wrist": i + 2 if i + 2 < n else None}


# ---- finding the body ------------------------------------------------------------------------------------

@dataclass
class _Body:
    pelvis: int
    spine: list[int]           # pelvis's spine child ... chest, inclusive
    legs: tuple[int, int]      # first joint of each leg branch (sides not yet known)
    arms: tuple[int, int]
    head_start: int | None     # first joint of the neck/head branch at the chest


def _pick_pair(tree: _Tree, cands: list[int]) -> tuple[int, int] | None:
    """The two branches among ``cands`` most alike (a left/right pair): opposite side names first, then
    similar reach, depth and size."""
    best = None
    for a, b in itertools.combinations(cands, 2):
        sa = tree.side_vote(tree.main_chain(a)[0])
        sb = tree.side_vote(tree.main_chain(b)[0])
        named = 1.0 if sa and sb and sa != sb else 0.0
        ra, rb = tree.branch(a), tree.branch(b)
        diff = abs(ra - rb) / max(ra, rb, 1e-9) + abs(tree.depth[a] - tree.depth[b]) / max(tree.depth[a], tree.depth[b]) \
            + abs(tree.size[a] - tree.size[b]) / max(tree.size[a], tree.size[b])
        score = named - diff
        if best is None or score > best[0]:
            best = (score, (a, b))
    return None if best is None else best[1]


def _find_chest(tree: _Tree, start: int, scale: float) -> tuple[int, tuple[int, int]] | None:
    k: int | None = start
    while k is not None:
        majors = tree.majors(k, scale)
        if len(majors) >= 2:
            pair = _pick_pair(tree, majors)
            if pair is not None:
                return k, pair
        k = tree.largest_child(k)
    return None


def _is_above(tree: _Tree, a: int, b: int) -> bool:
    """Whether joint ``a`` is an ancestor of joint ``b``."""
    while b >= 0:
        b = int(tree.parents[b])
        if b == a:
            return True
    return False


def _path(tree: _Tree, top: int, bottom: int) -> list[int]:
    """Joints from ``top``'s child down to ``bottom``, inclusive of ``bottom``."""
    path = [bottom]
    while int(tree.parents[path[-1]]) != top:
        path.append(int(tree.parents[path[-1]]))
    return path[::-1]


def _try_pelvis(tree: _Tree, j: int, majors: list[int], scale: float) -> _Body | str:
    """The body with its pelvis at ``j`` and limbs among ``majors``, or why not."""
    spines = [(m, found) for m in majors if (found := _find_chest(tree, m, scale)) is not None]
    if not spines:
        return f"{tree.sk.names[j]!r} branches, but no branch carries a pair of arms"
    m, (chest, arms) = max(spines, key=lambda x: tree.size[x[0]])
    legs = _pick_pair(tree, [c for c in majors if c != m and not _is_above(tree, c, m)])
    if legs is None:
        return f"{tree.sk.names[j]!r} has a spine with arms but not two legs"
    others = [c for c in tree.children[chest] if c not in arms]
    head = max(others, key=lambda c: (not tree.names[c].helper, tree.branch(c), tree.size[c])) if others else None
    return _Body(j, _path(tree, j, chest), legs, arms, head)


def _find_body(tree: _Tree) -> _Body:
    reasons: list[str] = []
    j: int | None = 0
    while j is not None:
        scale = float(tree.span[j])
        majors = tree.majors(j, scale)
        # Some rigs hang both legs from a hip bone beside the spine: try its two branches as legs too.
        expanded = []
        for c in majors:
            below = tree.majors(c, scale)
            expanded += below if len(below) == 2 else [c]
        for candidates in (majors, expanded) if expanded != majors else (majors,):
            if len(candidates) >= 3:
                found = _try_pelvis(tree, j, candidates, scale)
                if isinstance(found, _Body):
                    return found
                reasons.append(found)
        j = tree.largest_child(j)
    if not reasons:
        reasons.append("no joint has three long branches (two legs and a spine); the tree is a chain or too small")
    raise _fail(tree, "; ".join(dict.fromkeys(reasons)), {})


def _fail(tree: _Tree, reason: str, placed: dict[str, int]) -> RigMappingError:
    missing = tuple(j for j in C.JOINT_NAMES if j not in placed)
    used = set(placed.values())
    unplaced = tuple(n for i, n in enumerate(tree.sk.names) if i not in used)
    return RigMappingError(
        f"cannot map this rig onto the canonical body automatically: {reason}. The canonical body needs "
        f"bones for {', '.join(C.REQUIRED_JOINTS)} (and places {', '.join(C.MERGEABLE_JOINTS + C.OPTIONAL_JOINTS)} "
        f"where it can); not placed: {', '.join(missing)}; bones it could not place: {listing(unplaced)}. "
        f"Write a bone map for this rig (docs/rigs.md) and pass it as the preset",
        missing, unplaced,
    )


# ---- left and right ----------------------------------------------------------------------------------------

def _left_axis(tree: _Tree, pelvis: int, chest: int, feet: list[tuple[int, int | None]]) -> np.ndarray | None:
    """The character's left in the skeleton's world frame, ``up x forward``, or None when degenerate."""
    pos = tree.pos
    up = pos[chest] - pos[pelvis]
    if np.linalg.norm(up) < 1e-9:
        return None
    up = up / np.linalg.norm(up)
    fwd = np.zeros(3)
    for ankle, toe in feet:
        if toe is not None:
            fwd += pos[toe] - pos[ankle]
        elif not tree.pose_given and ankle in tree.sk.end_sites:
            fwd += tree.sk.end_sites[ankle]  # at rest every joint frame is the world's
    along = np.linalg.norm(fwd)
    fwd -= up * (fwd @ up)
    # Feet that point along the spine (LAFAN1's rest pose lies along X) say nothing about facing.
    if np.linalg.norm(fwd) <= 0.3 * along or along == 0:
        # No foot tells where the character faces: the common convention (BVH/SMPL face +Z, Y up;
        # Blender faces -Y, Z up).
        fwd = np.array([0.0, 0.0, 1.0]) if tree.sk.up_axis == "y" else np.array([0.0, -1.0, 0.0])
        fwd -= up * (fwd @ up)
        if np.linalg.norm(fwd) < 0.3:
            return None
    left = np.cross(up, fwd / np.linalg.norm(fwd))
    return left / np.linalg.norm(left)


def _order_sides(tree: _Tree, a: list[int], b: list[int], root_a: int, root_b: int,
                 left_axis: np.ndarray | None) -> tuple[bool, str]:
    """Whether branch ``a`` is the left one, and how that was decided: "names", "geometry" or "guess"."""
    sa, sb = tree.side_vote(a), tree.side_vote(b)
    if sa and sb and sa != sb:
        return sa == "L", "names"
    if left_axis is not None:
        d = tree.pos[root_a] - tree.pos[root_b]
        norm = np.linalg.norm(d)
        if norm > 0 and abs(d @ left_axis) / norm > 0.2:
            return bool(d @ left_axis > 0), "geometry"
    if sa or sb:  # one side named only
        return (sa == "L") if sa else (sb == "R"), "names"
    return True, "guess"


# ---- the mapper ---------------------------------------------------------------------------------------------

_LEG_SLOTS = ("hip", "knee", "ankle", "toe")
_ARM_SLOTS = ("collar", "shoulder", "elbow", "wrist")


@dataclass
class _Placement:
    """What the mapper has decided so far (joint indices, not names)."""

    placed: dict[str, int]
    conf: dict[str, float]
    merged: dict[str, str]
    absent: dict[str, str]
    shared: dict[int, str]


def _filled(j: int | None) -> int:
    """A required slot's joint (``_assign`` always fills required slots)."""
    assert j is not None
    return j


def _place_limbs(tree: _Tree, body: _Body, out: _Placement) -> None:
    """Legs and arms: joints along each chain first, then which chain is the left one."""
    Slots = dict[str, tuple[int | None, float]]  # slot -> (joint index or None, confidence)
    limbs: list[tuple[str, list[int], Slots]] = []
    for kind, roots, slots in (("leg", body.legs, _LEG_SLOTS), ("arm", body.arms, _ARM_SLOTS)):
        required = {"hip", "knee", "ankle"} if kind == "leg" else {"shoulder", "elbow"}
        for root in roots:
            chain, tip = tree.main_chain(root)
            if len(chain) < len(required):
                raise _fail(tree, f"the {kind} starting at {tree.sk.names[root]!r} has {len(chain)} joint(s); a {kind} "
                                  f"needs {' and '.join(sorted(required))} joints", out.placed)
            struct = _limb_struct(tree.segments(chain, tip), kind)
            assigned = _assign(tree, chain, slots, struct, required)
            limbs.append((kind, chain, {s: (chain[p] if p is not None else None, c) for s, (p, c) in assigned.items()}))
    legs, arms = limbs[:2], limbs[2:]
    feet = [(_filled(placed["ankle"][0]), placed["toe"][0]) for _, _, placed in legs]
    left_axis = _left_axis(tree, body.pelvis, body.spine[-1], feet)
    for pair, anchor in ((legs, "hip"), (arms, "shoulder")):
        (_, chain_a, slots_a), (_, chain_b, slots_b) = pair
        anchor_a, anchor_b = _filled(slots_a[anchor][0]), _filled(slots_b[anchor][0])
        a_is_left, how = _order_sides(tree, chain_a, chain_b, anchor_a, anchor_b, left_axis)
        for side, (kind, _, found) in zip(("left", "right"), pair if a_is_left else pair[::-1]):
            for slot, (j, c) in found.items():
                joint = f"{side}_{slot}"
                if j is None:
                    out.absent[joint] = f"no {slot} joint on the {kind} chain"
                else:
                    out.placed[joint] = j
                    out.conf[joint] = min(c, 0.4) if how == "guess" else c


def _place_spine(tree: _Tree, body: _Body, out: _Placement) -> None:
    """The first joint above the pelvis is spine1, the chest spine3, a middle one spine2. Fewer bones merge
    (two: spine2 into spine1; one: both into spine3); more share the mapped spine joint they hang from."""
    spine, n = body.spine, len(body.spine)
    if n == 1:
        out.placed["spine3"] = spine[0]
        out.merged.update(spine1="spine3", spine2="spine3")
    elif n == 2:
        out.placed["spine1"], out.placed["spine3"] = spine
        out.merged["spine2"] = "spine1"
    else:
        out.placed["spine1"], out.placed["spine2"], out.placed["spine3"] = spine[0], spine[(n - 1) // 2], spine[-1]
    holder = None
    for j in spine:
        mapped = next((k for k in ("spine1", "spine2", "spine3") if out.placed.get(k) == j), None)
        if mapped:
            holder = mapped
            out.conf[mapped] = 0.9 if name_score("spine", tree.names[j]) else 0.6
        elif holder is not None:
            out.shared[j] = holder


def _place_head(tree: _Tree, body: _Body, out: _Placement) -> None:
    """The head is a bone named so, else where the chain above the chest first branches (face, eyes, jaw)
    or ends. The neck is the first bone that leaves the chest's pivot; bones on that pivot or between
    neck and head share the neck."""
    if body.head_start is None:
        raise _fail(tree, f"nothing above the chest {tree.sk.names[body.spine[-1]]!r} but the arms: no neck or head",
                    out.placed)
    chain, _ = tree.main_chain(body.head_start)
    kids = [[c for c in tree.children[j] if not tree.names[c].helper] for j in chain]
    h = next((i for i, k in enumerate(kids) if len(k) >= 2), len(chain) - 1)
    named = [name_score("head", tree.names[j]) for j in chain]
    if 1.0 in named:
        head_i = named.index(1.0)
    else:
        head_i = h
        # A "face" bone below a bone that is not a neck is the root of a face rig (Blender's metarig hangs
        # it from the head bone); on top of a neck (ReActIdle) it is the head.
        if named[h] == 0.5 and h >= 1 and name_score("neck", tree.names[chain[h - 1]]) == 0:
            head_i = h - 1
    out.placed["head"] = chain[head_i]
    if head_i == h and named[head_i]:
        out.conf["head"] = 0.9 if named[head_i] == 1.0 else 0.8
    else:
        out.conf["head"] = 0.7 if named[head_i] == 1.0 else 0.6
    tiny = 0.01 * float(tree.span[body.pelvis])
    neck_i = next((i for i in range(head_i) if tree.length[chain[i]] > tiny), 0 if head_i > 0 else None)
    if neck_i is None:
        out.merged["neck"] = "head"
        return
    out.placed["neck"] = chain[neck_i]
    out.conf["neck"] = 0.9 if name_score("neck", tree.names[chain[neck_i]]) else 0.6
    for i in range(head_i):
        if i != neck_i:
            out.shared[chain[i]] = "neck"


@dataclass(frozen=True)
class AutoMapping:
    """Where ``place_bones`` put a rig's bones, names as the skeleton spells them. The fields mean what
    ``bonemap.BoneMap``'s of the same names do; ``bonemap.auto_bone_map`` makes a ``BoneMap`` of them.

    Attributes:
        bones: canonical joint -> rig bone, canonical order; ``confidence``: the same keys -> 0.4 to 0.9.
        merged: canonical joint -> the joint whose bone carries it; ``absent``: canonical joint -> why.
        shared: rig bone -> the canonical joint whose rotation it shares.
        root_bone: the skeleton's root when it lies above the pelvis (root motion), else ``None``.
    """

    bones: dict[str, str]
    confidence: dict[str, float]
    merged: dict[str, str]
    absent: dict[str, str]
    shared: dict[str, str]
    root_bone: str | None


def place_bones(skeleton: Skeleton, pose: np.ndarray | None = None) -> AutoMapping:
    """Place ``skeleton``'s bones on the canonical body from its tree's shape and its bone names.

    Args:
        skeleton: the rig (any units, any rest pose).
        pose: ``(J, 3)`` world joint positions (skeleton units and axes) of a frame where the character
            stands upright, used only to tell left from right when names do not; defaults to the rest pose.

    Raises:
        RigMappingError: no pelvis with two legs and a spine carrying two arms and a head, or a limb too
            short to hold its required joints; the message lists the canonical joints needed and the bones
            that could not be placed.
    """
    if pose is not None and np.shape(pose) != (skeleton.num_joints, 3):
        raise RigMappingError(f"pose must be ({skeleton.num_joints}, 3) joint positions, got {np.shape(pose)}")
    tree = _Tree(skeleton, pose)
    body = _find_body(tree)
    out = _Placement({"pelvis": body.pelvis}, {"pelvis": 0.9 if name_score("pelvis", tree.names[body.pelvis]) else 0.6},
                     {}, {}, {})
    _place_limbs(tree, body, out)
    _place_spine(tree, body, out)
    _place_head(tree, body, out)
    # Above the pelvis: the skeleton's root is the root-motion bone; bones in between share the pelvis.
    root_bone = None
    if body.pelvis != 0:
        root_bone = skeleton.names[0]
        for j in _path(tree, 0, body.pelvis)[:-1]:
            out.shared[j] = "pelvis"
    for joint in C.REQUIRED_JOINTS:
        if joint not in out.placed:
            raise _fail(tree, f"no bone found for {joint!r}", out.placed)
    names = skeleton.names
    return AutoMapping(
        bones={j: names[out.placed[j]] for j in C.JOINT_NAMES if j in out.placed},
        confidence={j: out.conf[j] for j in C.JOINT_NAMES if j in out.placed},
        merged=out.merged,
        absent=out.absent,
        shared={names[j]: joint for j, joint in out.shared.items()},
        root_bone=root_bone,
    )
