"""Bone maps: which bone of a rig plays which joint of the canonical body (``lmm_core.canonical``).

A map sorts every canonical joint into exactly one of three kinds:

- ``bones``: the rig has a bone for it (the bone whose head is that joint's pivot).
- ``merged``: the rig has no bone of its own for it; the bone of another canonical joint of the same
  chain spans its segment too (a rig with two spine bones merges ``spine2`` into ``spine1``).
- ``absent``: the rig has no such joint at all (no toe, collar or hand bones); nothing carries it.

and says what happens to the rig's bones that play no canonical joint: by default they keep their rest
pose (``unmapped_policy = "rest"``: fingers, twist and corrective bones, ``joint_Root``), except bones
listed in ``shared`` that lie in series with a mapped bone of the spine or neck and share its joint's
rotation (a five-bone spine spreads three canonical rotations over five bones).

A *control rig* (Rigify's generated rig) deforms through bones that constraints drive from the
animator's controls. Its map names the deforming bones in ``bones`` (the motion is read from them) and,
in ``controls``, the control that carries each joint (keys go there), plus ``switches``: custom
properties to set so the controls drive the deformation (a limb's IK/FK switch set to FK). Controls and
switches live on the armature, not in the deforming skeleton that ``lmm_core`` sees, so fitting a map to
a skeleton keeps them as they are; ``fit_control_map`` checks them against the armature's bone names.

Presets are TOML files in ``presets/rigs/`` (format in ``docs/rigs.md``), read strictly: an unknown key,
a misspelt canonical joint or a joint left unsorted is an error. ``bone_map_for`` fits a map to a
skeleton: a named preset, a detected preset, or automatic mapping (``auto_bone_map``: the placement
``lmm_core.automap`` finds, as a map).
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np

from . import canonical as C
from .automap import place_bones
from .errors import LMMError, RigMappingError, listing
from .skeleton import Skeleton, find_side_pairs

# Presets ship next to the core: <repo>/presets/rigs in a checkout; build.py stages presets/ beside the
# vendored lmm_core in the add-on, so the same relative path holds there.
PRESET_DIR = Path(__file__).resolve().parent.parent / "presets" / "rigs"

# Other spellings users type for presets.
PRESET_ALIASES = {
    "smplx": "smpl", "smplh": "smpl", "smpl_x": "smpl", "smpl_h": "smpl", "amass": "smpl",
    "ue5": "ue5_mannequin", "manny": "ue5_mannequin", "quinn": "ue5_mannequin",
    "ue4": "ue4_mannequin", "rigify_def": "rigify", "metarig": "blender_metarig",
    "vrm1": "vrm", "vrm0": "vrm", "lafan": "lafan1", "bandai_namco": "bandai",
}

UNMAPPED_POLICIES = ("rest",)
ABSENT = "absent"

_TOP_KEYS = {"rig", "bones", "merged", "absent", "optional", "unmapped", "controls", "switches", "twist"}
_RIG_KEYS = {"name", "description", "root_bone", "source"}
_UNMAPPED_KEYS = {"policy", "notes", "share"}


@dataclass(frozen=True)
class BoneMap:
    """How one rig's bones play the canonical joints.

    Attributes:
        rig: the rig's name (preset name, or ``"auto"``).
        bones: canonical joint -> rig bone name, for the joints the rig has a bone for.
        confidence: canonical joint -> how sure the mapping is, in [0, 1], same keys as ``bones``:
            1.0 from a preset, 0.9 name and structure agree, 0.7 name alone, 0.6 structure alone, 0.4 a
            guess (left/right undecidable from names and pose).
        merged: canonical joint without a bone -> the canonical joint (a key of ``bones``, same chain)
            whose bone spans its segment too. Retargeting onto the rig folds its rotation into that bone;
            reading from the rig gives it the identity (or a share of the bone's rotation).
        absent: canonical joints the rig lacks entirely, with the reason. Onto the rig their rotation is
            dropped (with global-rotation retargeting nothing else changes); from the rig they rest.
        shared: rig bone -> canonical joint (a key of ``bones``) whose rotation the bone shares; such a
            bone sits in series with that joint's bone (extra spine or neck bones).
        unmapped_policy: what every other bone of the rig does: ``"rest"`` keeps it at its rest pose.
        root_bone: a bone above the pelvis (``joint_Root``, UE's ``root``) that engines use for root
            motion; it follows ``unmapped_policy`` unless the retargeter writes root motion into it.
        description: free text (where the rig comes from, quirks).
        notes: free text about unmapped bones.
        source: ``"preset:<name>"``, the map file's path, or ``"auto"``.
        optional: preset only: canonical joint -> ``"absent"`` or the joint to merge into, applied by
            ``bone_map_for`` when the skeleton lacks the joint's bone (VRM's optional ``upperChest``).
        controls: control rigs only: canonical joint (a key of ``bones``) -> the control bone an animator
            keys for it; empty for a rig keyed on the bones themselves.
        switches: control rigs only: bone -> {custom property: value} to set so that the controls drive
            the deforming bones (Rigify: ``{"thigh_parent.L": {"IK_FK": 1.0}}``, the leg in FK).
        twist: control rigs only: mapped bone -> ``(twist bone, share)``: the rig keeps the joint's twist
            about the bone's axis out of the mapped bone; the twist bone, along the same line, turns by
            ``share`` of it (Rigify's ``ORG-upper_arm.L`` by all of it, 1.0), and the joint is read with
            the twist that implies.
    """

    rig: str
    bones: Mapping[str, str]
    confidence: Mapping[str, float]
    merged: Mapping[str, str] = field(default_factory=dict)
    absent: Mapping[str, str] = field(default_factory=dict)
    shared: Mapping[str, str] = field(default_factory=dict)
    unmapped_policy: str = "rest"
    root_bone: str | None = None
    description: str = ""
    notes: str = ""
    source: str = ""
    optional: Mapping[str, str] = field(default_factory=dict)
    controls: Mapping[str, str] = field(default_factory=dict)
    switches: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    twist: Mapping[str, tuple[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)

    # ---- lookups -------------------------------------------------------------------------------------

    def bone(self, joint: str) -> str | None:
        """The rig bone of a canonical joint, or ``None`` when merged or absent."""
        _check_joint(joint, "BoneMap.bone")
        return self.bones.get(joint)

    def joint_of(self, bone: str) -> str | None:
        """The canonical joint a rig bone plays, or ``None``."""
        for joint, b in self.bones.items():
            if b == bone:
                return joint
        return None

    def carrier(self, joint: str) -> str | None:
        """The canonical joint whose bone carries ``joint``: itself when mapped, its merge target when
        merged, ``None`` when absent."""
        _check_joint(joint, "BoneMap.carrier")
        if joint in self.bones:
            return joint
        return self.merged.get(joint)

    @property
    def is_control_rig(self) -> bool:
        """Whether keys go on controls (``controls``) rather than on the mapped bones."""
        return bool(self.controls)

    @property
    def min_confidence(self) -> float:
        return min(self.confidence.values()) if self.confidence else 0.0

    # ---- against a skeleton --------------------------------------------------------------------------

    def missing_bones(self, skeleton: Skeleton) -> tuple[str, ...]:
        """Bones this map names (mapped, shared, root) that ``skeleton`` lacks, exact names."""
        have = set(skeleton.names)
        named = list(self.bones.values()) + list(self.shared) + ([self.root_bone] if self.root_bone else [])
        return tuple(b for b in named if b not in have)

    def check(self, skeleton: Skeleton) -> None:
        """Raise a ``RigMappingError`` naming every bone of the map that ``skeleton`` lacks."""
        missing = self.missing_bones(skeleton)
        if missing:
            joints = tuple(j for j, b in self.bones.items() if b in missing)
            raise RigMappingError(
                f"bone map {self.rig!r} names bones the skeleton lacks: {listing(missing)}; "
                f"the skeleton has: {listing(skeleton.names)}. Fit the map with bone_map_for(), pick "
                f"another preset, or leave the preset out to map automatically",
                joints, missing,
            )

    def indices(self, skeleton: Skeleton) -> np.ndarray:
        """``(22,)`` int: the skeleton joint index of each canonical joint's bone, ``-1`` where the
        joint is merged or absent. Canonical order (``canonical.JOINT_NAMES``)."""
        self.check(skeleton)
        index = {n: i for i, n in enumerate(skeleton.names)}
        return np.array([index[self.bones[j]] if j in self.bones else -1 for j in C.JOINT_NAMES], dtype=np.int64)

    def carrying_bones(self, joint: str, skeleton: Skeleton) -> tuple[int, ...]:
        """Skeleton indices of the bones that carry ``joint``'s rotation: its bone (or, when merged, its
        merge target's bone) and the bones sharing it, parents first. Empty when the joint is absent."""
        carrier = self.carrier(joint)
        if carrier is None:
            return ()
        self.check(skeleton)
        names = {self.bones[carrier]} | {b for b, j in self.shared.items() if j == carrier}
        return tuple(i for i, n in enumerate(skeleton.names) if n in names)

    def unmapped_bones(self, skeleton: Skeleton) -> tuple[str, ...]:
        """Bones of ``skeleton`` that play no canonical joint (shared and root bones included), in
        skeleton order."""
        mapped = set(self.bones.values())
        return tuple(n for n in skeleton.names if n not in mapped)

    def side_pairs(self, skeleton: Skeleton) -> tuple[tuple[int, int], ...]:
        """Left/right skeleton joint index pairs ``(left, right)`` for mirroring: the mapped canonical
        pairs, plus pairs of unmapped bones found from names (fingers, twist bones)."""
        self.check(skeleton)
        index = {n: i for i, n in enumerate(skeleton.names)}
        pairs: list[tuple[int, int]] = []
        used: set[int] = set()
        for left, right in C.SIDE_PAIRS:
            if left in self.bones and right in self.bones:
                pair = (index[self.bones[left]], index[self.bones[right]])
                pairs.append(pair)
                used.update(pair)
        for a, b in find_side_pairs(skeleton.names):
            if a not in used and b not in used:
                pairs.append((a, b))
                used.update((a, b))
        return tuple(pairs)


# ---- validation -------------------------------------------------------------------------------------

_CHAIN_GROUP = {j: "trunk" for j in ("spine1", "spine2", "spine3", "neck", "head", "pelvis")}


def _check_joint(joint: str, where: str) -> None:
    if joint not in C.JOINT_INDEX:
        raise LMMError(f"{where}: {joint!r} is not a canonical joint; they are: {', '.join(C.JOINT_NAMES)}")


def _validate(m: BoneMap) -> None:
    where = f"bone map {m.rig!r}"
    for section in (m.bones, m.merged, m.absent, m.optional, m.confidence):
        for joint in section:
            _check_joint(joint, where)
    for target in list(m.merged.values()) + list(m.shared.values()):
        _check_joint(target, where)
    seen: dict[str, str] = {}
    for joint in C.JOINT_NAMES:
        kinds = [k for k, s in (("bones", m.bones), ("merged", m.merged), ("absent", m.absent)) if joint in s]
        if len(kinds) != 1:
            what = "none of" if not kinds else "more than one of"
            raise LMMError(f"{where}: canonical joint {joint!r} is in {what} [bones], [merged], [absent]; "
                           f"put it in exactly one")
    for joint, bone in m.bones.items():
        if not isinstance(bone, str) or not bone:
            raise LMMError(f"{where}: the bone of {joint!r} must be a non-empty string, got {bone!r}")
        if bone in seen:
            raise LMMError(f"{where}: bone {bone!r} plays both {seen[bone]!r} and {joint!r}; a bone plays one joint")
        seen[bone] = joint
    for joint in C.REQUIRED_JOINTS:
        if joint not in m.bones:
            raise LMMError(f"{where}: {joint!r} needs a bone of its own (required: {', '.join(C.REQUIRED_JOINTS)})")
    for joint, target in m.merged.items():
        if joint not in C.MERGEABLE_JOINTS:
            raise LMMError(f"{where}: only {', '.join(C.MERGEABLE_JOINTS)} can be merged, not {joint!r}")
        if target not in m.bones or _CHAIN_GROUP.get(target) != "trunk" or target == "pelvis":
            raise LMMError(f"{where}: {joint!r} is merged into {target!r}, which must be a mapped spine, neck or head joint")
    for joint in m.absent:
        if joint not in C.OPTIONAL_JOINTS:
            raise LMMError(f"{where}: only {', '.join(C.OPTIONAL_JOINTS)} can be absent, not {joint!r}")
    if set(m.confidence) != set(m.bones) or not all(0.0 <= float(v) <= 1.0 for v in m.confidence.values()):
        raise LMMError(f"{where}: confidence needs one value in [0, 1] per mapped joint")
    for bone, joint in m.shared.items():
        if bone in seen:
            raise LMMError(f"{where}: bone {bone!r} is mapped to {seen[bone]!r} and cannot also share {joint!r}")
        if joint not in m.bones:
            raise LMMError(f"{where}: bone {bone!r} shares {joint!r}, which has no bone")
    controls_seen: dict[str, str] = {}
    for joint, control in m.controls.items():
        _check_joint(joint, where)
        if joint not in m.bones:
            raise LMMError(f"{where}: [controls] {joint!r} has no bone in [bones]; a control carries a mapped joint")
        if not isinstance(control, str) or not control:
            raise LMMError(f"{where}: the control of {joint!r} must be a non-empty string, got {control!r}")
        if control in seen or control in m.shared:
            raise LMMError(f"{where}: control {control!r} is also a deforming bone; name the bone the animator keys")
        if control in controls_seen:
            raise LMMError(f"{where}: control {control!r} carries both {controls_seen[control]!r} and {joint!r}")
        controls_seen[control] = joint
    if m.controls and set(m.bones) - set(m.controls):
        raise LMMError(f"{where}: [controls] names no control for {', '.join(sorted(set(m.bones) - set(m.controls)))}; "
                       f"a control rig's every mapped joint needs the control that moves it")
    for bone, props in m.switches.items():
        if not m.controls:
            raise LMMError(f"{where}: [switches] without [controls]; switches belong to control rigs")
        if not isinstance(props, Mapping) or not props or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in props.items()):
            raise LMMError(f"{where}: switch {bone!r} must be a table of property = number, e.g. {{ IK_FK = 1.0 }}")
    for bone, spec in m.twist.items():
        if bone not in seen:
            raise LMMError(f"{where}: [twist] {bone!r} is not a bone of [bones]")
        if (not isinstance(spec, tuple) or len(spec) != 2 or not isinstance(spec[0], str) or not spec[0]
                or not isinstance(spec[1], (int, float)) or not 0.0 < float(spec[1]) <= 1.0):
            raise LMMError(f"{where}: [twist] {bone!r} must be {{ bone = \"<twist segment>\", share = <0..1> }}, "
                           f"got {spec!r}")
    if m.unmapped_policy not in UNMAPPED_POLICIES:
        raise LMMError(f"{where}: unknown unmapped policy {m.unmapped_policy!r}; use one of {', '.join(UNMAPPED_POLICIES)}")
    for joint, fallback in m.optional.items():
        if joint not in m.bones:
            raise LMMError(f"{where}: [optional] {joint!r} must be a joint listed in [bones]")
        if fallback == ABSENT:
            if joint not in C.OPTIONAL_JOINTS:
                raise LMMError(f"{where}: [optional] {joint!r} cannot be absent; only {', '.join(C.OPTIONAL_JOINTS)} can")
        else:
            _check_joint(fallback, where)
            if joint not in C.MERGEABLE_JOINTS or fallback == joint or _CHAIN_GROUP.get(fallback) != "trunk":
                raise LMMError(f"{where}: [optional] {joint!r} = {fallback!r}: only spine/neck joints can fall "
                               f"back to merging, into another spine, neck or head joint")


# ---- reading presets ----------------------------------------------------------------------------------

def list_rig_presets() -> tuple[str, ...]:
    """Names of the rig presets in ``presets/rigs`` (file stems), sorted."""
    if not PRESET_DIR.is_dir():
        return ()
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.toml")))


def _preset_path(name_or_path: str | Path) -> tuple[Path, str]:
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".toml" or path.is_file() or "/" in text or "\\" in text:
        if not path.is_file():
            raise LMMError(f"bone map file {path} not found")
        return path, str(path)
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    key = PRESET_ALIASES.get(key, key)
    path = PRESET_DIR / f"{key}.toml"
    if not path.is_file():
        raise LMMError(f"no rig preset named {text!r}; presets: {', '.join(list_rig_presets()) or '(none found)'}; "
                       f"or give the path of a .toml bone map")
    return path, f"preset:{key}"


def _table(doc: dict, key: str, path: Path) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise LMMError(f"{path}: [{key}] must be a table")
    return value


def _strings(table: dict, what: str, path: Path) -> dict[str, str]:
    for k, v in table.items():
        if not isinstance(v, str):
            raise LMMError(f"{path}: {what} {k!r} must be a string, got {v!r}")
    return dict(table)


# Bone maps read, by file and its size and modification time: telling a rig's preset apart reads every
# preset (``detect_rig_preset``), which took 9 ms of a 30-frame in-between's 68 (2026-12-07).
_READ: dict[tuple[str, str, int, int], BoneMap] = {}


def load_bone_map(name_or_path: str | Path) -> BoneMap:
    """Read a bone map: a preset name (``"mixamo"``, ``"lafan1"``, see ``list_rig_presets``) or the path
    of a ``.toml`` file in the preset format. Strict: unknown sections or keys, unknown canonical joints
    and joints not sorted into exactly one of bones/merged/absent are ``LMMError``s naming the file. A file
    read before and unchanged since (size, modification time) is not parsed again."""
    path, source = _preset_path(name_or_path)
    try:
        st = path.stat()
    except OSError as exc:
        raise LMMError(f"cannot read bone map {path}: {exc}") from None
    key = (str(path.resolve()), source, st.st_size, st.st_mtime_ns)
    if key not in _READ:
        _READ[key] = _read_bone_map(path, source)
    return _READ[key]


def _read_bone_map(path: Path, source: str) -> BoneMap:
    """``load_bone_map``'s reading and checking of one file."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark (Windows tools) is fine
    except (OSError, UnicodeDecodeError) as exc:
        raise LMMError(f"cannot read bone map {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LMMError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise LMMError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    rig = _table(doc, "rig", path)
    bad = set(rig) - _RIG_KEYS
    if bad:
        raise LMMError(f"{path}: unknown key(s) in [rig]: {', '.join(sorted(bad))}; allowed: {', '.join(sorted(_RIG_KEYS))}")
    unmapped = _table(doc, "unmapped", path)
    bad = set(unmapped) - _UNMAPPED_KEYS
    if bad:
        raise LMMError(f"{path}: unknown key(s) in [unmapped]: {', '.join(sorted(bad))}; allowed: {', '.join(sorted(_UNMAPPED_KEYS))}")
    share = unmapped.get("share", {})
    if not isinstance(share, dict):
        raise LMMError(f"{path}: [unmapped.share] must be a table of bone = canonical joint")
    bones = _strings(_table(doc, "bones", path), "[bones]", path)
    controls = _strings(_table(doc, "controls", path), "[controls]", path)
    switches = _table(doc, "switches", path)
    twist = {}
    for bone, spec in _table(doc, "twist", path).items():
        if not isinstance(spec, dict) or set(spec) != {"bone", "share"}:
            raise LMMError(f"{path}: [twist] {bone!r} must be {{ bone = \"<twist segment>\", share = <0..1> }}")
        twist[bone] = (spec["bone"], spec["share"])
    for section in ("merged", "absent", "optional"):
        _strings(_table(doc, section, path), f"[{section}]", path)
    for k in ("name", "description", "root_bone", "source"):
        if k in rig and not isinstance(rig[k], str):
            raise LMMError(f"{path}: [rig] {k} must be a string")
    for k in ("policy", "notes"):
        if k in unmapped and not isinstance(unmapped[k], str):
            raise LMMError(f"{path}: [unmapped] {k} must be a string")
    try:
        return BoneMap(
            rig=rig.get("name", path.stem),
            bones=bones,
            confidence={j: 1.0 for j in bones},
            merged=dict(_table(doc, "merged", path)),
            absent=dict(_table(doc, "absent", path)),
            shared=_strings(share, "[unmapped.share]", path),
            unmapped_policy=unmapped.get("policy", "rest"),
            root_bone=rig.get("root_bone"),
            description=rig.get("description", ""),
            notes=unmapped.get("notes", ""),
            source=source,
            optional=dict(_table(doc, "optional", path)),
            controls=controls,
            switches={b: dict(v) if isinstance(v, dict) else v for b, v in switches.items()},
            twist=twist,
        )
    except LMMError as exc:
        raise LMMError(f"{path}: {exc}") from None


# ---- fitting a map to a skeleton ----------------------------------------------------------------------

def _bare(name: str) -> str:
    """A bone name without a namespace (``mixamorig1:Hips`` -> ``Hips``), lower case."""
    return re.split(r"[:|]", name)[-1].lower()


def _resolver(skeleton: Skeleton):
    exact = set(skeleton.names)
    by_bare: dict[str, list[str]] = {}
    for n in skeleton.names:
        by_bare.setdefault(_bare(n), []).append(n)

    def resolve(bone: str) -> str | None:
        if bone in exact:
            return bone
        hits = by_bare.get(_bare(bone), [])
        return hits[0] if len(hits) == 1 else None

    return resolve


def fit_bone_map(bone_map: BoneMap, skeleton: Skeleton) -> BoneMap:
    """``bone_map`` with its bone names resolved against ``skeleton``.

    A bone matches exactly, or else when the names agree without namespace and case (``mixamorig:Hips``
    matches ``mixamorig1:Hips`` and ``Hips``). A mapped joint whose bone is missing takes its
    ``optional`` fallback (merged or absent); shared and root bones that are missing are dropped.
    Raises ``RigMappingError`` naming the missing bones when a non-optional bone is missing.
    """
    resolve = _resolver(skeleton)
    bones: dict[str, str] = {}
    merged = dict(bone_map.merged)
    absent = dict(bone_map.absent)
    missing: list[str] = []
    for joint, bone in bone_map.bones.items():
        found = resolve(bone)
        if found is not None:
            bones[joint] = found
        elif joint in bone_map.optional:
            fallback = bone_map.optional[joint]
            if fallback == ABSENT:
                absent[joint] = f"the rig has no {bone!r}"
            else:
                merged[joint] = fallback
        else:
            missing.append(bone)
    if missing:
        joints = tuple(j for j, b in bone_map.bones.items() if b in missing)
        raise RigMappingError(
            f"rig preset {bone_map.rig!r} does not fit this skeleton: it lacks {listing(missing)} "
            f"(for {', '.join(joints)}); the skeleton has: {listing(skeleton.names)}. Pick another preset, "
            f"or leave the preset out to map automatically",
            joints, tuple(missing),
        )
    # A fallback can merge into a joint that itself fell back (VRM without chest and upperChest).
    for joint in list(merged):
        target, hops = merged[joint], 0
        while target not in bones and target in merged and hops < 8:
            target, hops = merged[target], hops + 1
        if target not in bones:
            raise RigMappingError(f"rig preset {bone_map.rig!r}: {joint!r} merges into {target!r}, which has no bone "
                                  f"in this skeleton", (joint,), ())
        merged[joint] = target
    for joint in merged:
        bones.pop(joint, None)
    shared = {}
    for bone, joint in bone_map.shared.items():
        found = resolve(bone)
        if found is not None and joint in bones:
            shared[found] = joint
    root = resolve(bone_map.root_bone) if bone_map.root_bone else None
    return replace(
        bone_map,
        bones=bones,
        confidence={j: bone_map.confidence.get(j, 1.0) for j in bones},
        merged=merged,
        absent=absent,
        shared=shared,
        root_bone=root,
        optional={},
        controls={j: c for j, c in bone_map.controls.items() if j in bones},  # on the armature, not the skeleton
        twist={resolve(b): t for b, t in bone_map.twist.items() if resolve(b) in set(bones.values())},
    )


@dataclass(frozen=True)
class _Names:
    """A stand-in skeleton for name matching: an armature's bone names, with no tree."""

    names: tuple[str, ...]


def fit_control_map(bone_map: BoneMap, bone_names) -> BoneMap:
    """A control rig's map with every name resolved against an armature's bone names (all of them:
    deforming bones, controls and the bones holding switches), matched as ``fit_bone_map`` matches.

    Raises ``RigMappingError`` naming the missing bones and controls when the armature lacks any (a
    Rigify rig generated without some limb, or one whose controls were renamed), or ``LMMError`` when
    ``bone_map`` names no controls.
    """
    if not bone_map.is_control_rig:
        raise LMMError(f"bone map {bone_map.rig!r} names no controls; it is not a control rig's map")
    names = _Names(tuple(bone_names))
    resolve = _resolver(names)
    fitted = fit_bone_map(bone_map, names)  # type: ignore[arg-type]  (only .names is used)
    controls = {j: resolve(c) for j, c in bone_map.controls.items() if j in fitted.bones}
    switches = {resolve(b): dict(v) for b, v in bone_map.switches.items()}
    twist = {resolve(b): (resolve(t), share) for b, (t, share) in bone_map.twist.items()}
    missing = [bone_map.controls[j] for j, c in controls.items() if c is None]
    missing += [b for b in bone_map.switches if resolve(b) is None]
    missing += [t for b, (t, _) in bone_map.twist.items() if resolve(b) is None or resolve(t) is None]
    if missing:
        raise RigMappingError(
            f"control rig preset {bone_map.rig!r} does not fit this armature: it lacks {listing(missing)}; "
            f"pick another preset, or a preset without [controls] to key the deforming bones",
            (), tuple(missing),
        )
    return replace(fitted, controls=controls, switches=switches, twist=twist)


def detect_control_rig(bone_names, extra: tuple[Path, ...] = ()) -> BoneMap | None:
    """The control rig preset (one with ``[controls]``) whose deforming bones, controls and switches an
    armature with ``bone_names`` all has, fitted to those names; ``None`` when none fits (a plain rig).

    ``extra``: more preset files to try first (the user's saved presets)."""
    names = tuple(bone_names)
    for name in (*extra, *list_rig_presets()):
        try:
            preset = load_bone_map(name)
        except LMMError:
            if name in extra:  # a broken user file is the user's to fix in its own place; the shipped ones load
                continue
            raise
        if not preset.is_control_rig:
            continue
        try:
            return fit_control_map(preset, names)
        except RigMappingError:
            continue
    return None


def detect_rig_preset(skeleton: Skeleton) -> BoneMap | None:
    """The preset that fits ``skeleton`` best, fitted to it, or ``None`` when none fits.

    Best: the most canonical joints with a bone of their own, then the fewest optional fallbacks used,
    then the most of the skeleton's bones accounted for (mapped, shared or root).
    """
    best: tuple[tuple[int, int, int], BoneMap] | None = None
    for name in list_rig_presets():
        preset = load_bone_map(name)
        try:
            fitted = fit_bone_map(preset, skeleton)
        except RigMappingError:
            continue
        fallbacks = len(preset.bones) - len(fitted.bones)
        covered = len(fitted.bones) + len(fitted.shared) + (1 if fitted.root_bone else 0)
        score = (len(fitted.bones), -fallbacks, covered)
        if best is None or score > best[0]:
            best = (score, fitted)
    return None if best is None else best[1]


def auto_bone_map(skeleton: Skeleton, pose: np.ndarray | None = None) -> BoneMap:
    """Map ``skeleton`` onto the canonical body from its tree's shape and its bone names
    (``automap.place_bones``).

    Args:
        skeleton: the rig (any units, any rest pose).
        pose: ``(J, 3)`` world joint positions (skeleton units and axes) of a frame where the character
            stands upright, used only to tell left from right when names do not; defaults to the rest pose.

    Returns:
        A ``BoneMap`` with ``rig="auto"``, ``source="auto"`` and a confidence per mapped joint.

    Raises:
        RigMappingError: no pelvis with two legs and a spine carrying two arms and a head, or a limb too
            short to hold its required joints; the message lists the canonical joints needed and the bones
            that could not be placed.
    """
    placed = place_bones(skeleton, pose)
    return BoneMap(
        rig="auto",
        bones=placed.bones,
        confidence=placed.confidence,
        merged=placed.merged,
        absent=placed.absent,
        shared=placed.shared,
        unmapped_policy="rest",
        root_bone=placed.root_bone,
        description="mapped automatically from the tree's shape and bone names",
        notes="bones not mapped or shared stay at rest",
        source="auto",
    )


def bone_map_for(skeleton: Skeleton, preset: str | Path | BoneMap | None = None, *,
                 pose: np.ndarray | None = None) -> BoneMap:
    """The bone map of ``skeleton``, its bone names exactly as the skeleton spells them.

    Args:
        skeleton: the rig.
        preset: a preset name, a bone map file, or a ``BoneMap``; it must fit (every non-optional
            bone present) or a ``RigMappingError`` names the missing bones. ``None``: use the preset that
            fits (``detect_rig_preset``), else map automatically (``auto_bone_map``).
        pose: ``(J, 3)`` world joint positions of a frame where the character stands upright, for
            automatic mapping when names do not tell left from right and the rest pose is not a standing
            pose (e.g. ``motion.global_positions()[0]``); defaults to the rest pose.
    """
    if preset is not None:
        bone_map = preset if isinstance(preset, BoneMap) else load_bone_map(preset)
        return fit_bone_map(bone_map, skeleton)
    detected = detect_rig_preset(skeleton)
    if detected is not None:
        return detected
    return auto_bone_map(skeleton, pose=pose)
