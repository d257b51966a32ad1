"""Bone maps: preset files, fitting them to skeletons, and automatic mapping by names and tree shape.

Synthetic rigs are built on the canonical body's geometry (T-pose, metres) with each rig's bone names,
its extra bones (twist, fingers, IK, end bones) and, for Blender rigs, Blender's axes (Z up, facing -Y).
Real skeletons come from ``../shared/data``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmm_core import canonical as C
from lmm_core.automap import parse_name
from lmm_core.bonemap import (
    BoneMap, RigMappingError, auto_bone_map, bone_map_for, detect_rig_preset, list_rig_presets, load_bone_map,
)
from lmm_core.errors import LMMError
from lmm_core.io.bvh import read_bvh
from lmm_core.skeleton import Skeleton

P = dict(zip(C.JOINT_NAMES, C.rest_positions()))


def mid(a: str, b: str, t: float = 0.5) -> np.ndarray:
    return P[a] + t * (P[b] - P[a])


def humanoid(names: dict[str, str], insert=None, extras=(), root: str | None = None, z_up: bool = False,
             tips=None) -> Skeleton:
    """A rig on the canonical geometry.

    names: canonical joint -> bone. insert: canonical joint -> [(bone, position)] placed in series just
    above that joint. extras: (bone, parent bone, position) rows appended. root: a bone at the origin above
    the pelvis. z_up: Blender axes (x, y, z) -> (x, -z, y), character facing -Y. tips: bone -> end-site
    offset (canonical axes).
    """
    insert = insert or {}
    rows: list[tuple[str, str | None, np.ndarray]] = []
    if root:
        rows.append((root, None, np.zeros(3)))
    last: dict[str, str] = {}
    for j, cj in enumerate(C.JOINT_NAMES):
        parent = last[C.JOINT_NAMES[C.PARENTS[j]]] if C.PARENTS[j] >= 0 else root
        for bone, pos in insert.get(cj, []):
            rows.append((bone, parent, np.asarray(pos)))
            parent = bone
        rows.append((names[cj], parent, P[cj]))
        last[cj] = names[cj]
    rows += [(b, p, np.asarray(x)) for b, p, x in extras]
    index = {r[0]: i for i, r in enumerate(rows)}
    pos = np.array([r[2] for r in rows], dtype=float)
    parents = [-1 if r[1] is None else index[r[1]] for r in rows]
    offsets = pos.copy()
    for i, p in enumerate(parents):
        if p >= 0:
            offsets[i] = pos[i] - pos[p]
    ends = {index[b]: np.asarray(v, dtype=float) for b, v in (tips or {}).items()}
    if z_up:
        to_z = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
        offsets = offsets @ to_z.T
        ends = {k: to_z @ v for k, v in ends.items()}
    return Skeleton([r[0] for r in rows], parents, offsets, units="m", up_axis="z" if z_up else "y", end_sites=ends)


def sided(fmt_left: str, fmt_right: str, stems: dict[str, str]) -> dict[str, str]:
    """Left and right bone names for limb joints: stems maps 'hip' -> 'UpLeg' etc."""
    out = {}
    for stem, bone in stems.items():
        out[f"left_{stem}"] = fmt_left.format(bone)
        out[f"right_{stem}"] = fmt_right.format(bone)
    return out


def fingers(wrist_bone: str, side: str, fmt: str, fingers=("Thumb", "Index", "Middle", "Ring", "Pinky"), n=4,
            start=1):
    """Finger chains under a wrist bone, bones named ``fmt.format(finger, k)``."""
    sign = 1.0 if side == "left" else -1.0
    wrist = P[f"{side}_wrist"]
    rows = []
    for f, finger in enumerate(fingers):
        parent = wrist_bone
        for k in range(n):
            name = fmt.format(finger, k + start)
            pos = wrist + np.array([sign * (0.05 + 0.025 * k), -0.005, 0.035 - 0.018 * f])
            rows.append((name, parent, pos))
            parent = name
    return rows


# ---- synthetic rigs, one per preset --------------------------------------------------------------------

def mixamo_rig(ns: str = "mixamorig1:") -> Skeleton:
    names = {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head"}
    names |= sided("Left{}", "Right{}", {"hip": "UpLeg", "knee": "Leg", "ankle": "Foot", "toe": "ToeBase",
                                          "collar": "Shoulder", "shoulder": "Arm", "elbow": "ForeArm", "wrist": "Hand"})
    names = {k: ns + v for k, v in names.items()}
    extras = [(ns + "HeadTop_End", ns + "Head", P["head"] + [0, 0.19, 0])]
    for side, s in (("left", "Left"), ("right", "Right")):
        extras.append((f"{ns}{s}Toe_End", f"{ns}{s}ToeBase", P[f"{side}_toe"] + [0, -0.02, 0.05]))
        extras += fingers(f"{ns}{s}Hand", side, ns + s + "Hand{}{}")
    return humanoid(names, extras=extras)


def ue5_rig() -> Skeleton:
    names = {"pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_03", "spine3": "spine_05", "neck": "neck_01",
             "head": "head"}
    names |= sided("{}_l", "{}_r", {"hip": "thigh", "knee": "calf", "ankle": "foot", "toe": "ball",
                                     "collar": "clavicle", "shoulder": "upperarm", "elbow": "lowerarm", "wrist": "hand"})
    insert = {"spine2": [("spine_02", mid("spine1", "spine2"))], "spine3": [("spine_04", mid("spine2", "spine3"))],
              "head": [("neck_02", mid("neck", "head"))]}
    extras = []
    for side, s in (("left", "l"), ("right", "r")):
        extras += [
            (f"upperarm_twist_01_{s}", f"upperarm_{s}", mid(f"{side}_shoulder", f"{side}_elbow", 0.3)),
            (f"upperarm_twist_02_{s}", f"upperarm_{s}", mid(f"{side}_shoulder", f"{side}_elbow", 0.6)),
            (f"lowerarm_twist_01_{s}", f"lowerarm_{s}", mid(f"{side}_elbow", f"{side}_wrist", 0.5)),
            (f"thigh_twist_01_{s}", f"thigh_{s}", mid(f"{side}_hip", f"{side}_knee", 0.3)),
            (f"calf_twist_01_{s}", f"calf_{s}", mid(f"{side}_knee", f"{side}_ankle", 0.5)),
        ]
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            parts = ["01", "02", "03"] if finger == "thumb" else ["metacarpal", "01", "02", "03"]
            for k, part in enumerate(parts):
                parent = f"hand_{s}" if k == 0 else f"{finger}_{parts[k - 1]}_{s}"
                sign = 1 if s == "l" else -1
                extras.append((f"{finger}_{part}_{s}", parent, P[f"{side}_wrist"] + [sign * 0.03 * (k + 1), 0, 0.01]))
    extras += [
        ("ik_foot_root", "root", np.zeros(3)), ("ik_foot_l", "ik_foot_root", P["left_ankle"]),
        ("ik_foot_r", "ik_foot_root", P["right_ankle"]), ("ik_hand_root", "root", np.zeros(3)),
        ("ik_hand_gun", "ik_hand_root", P["right_wrist"]), ("ik_hand_l", "ik_hand_gun", P["left_wrist"]),
        ("ik_hand_r", "ik_hand_gun", P["right_wrist"]), ("interaction", "root", np.zeros(3)),
    ]
    return humanoid(names, insert=insert, extras=extras, root="root")


def ue4_rig() -> Skeleton:
    names = {"pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_02", "spine3": "spine_03", "neck": "neck_01",
             "head": "head"}
    names |= sided("{}_l", "{}_r", {"hip": "thigh", "knee": "calf", "ankle": "foot", "toe": "ball",
                                     "collar": "clavicle", "shoulder": "upperarm", "elbow": "lowerarm", "wrist": "hand"})
    extras = [(f"lowerarm_twist_01_{s}", f"lowerarm_{s}", mid(f"{side}_elbow", f"{side}_wrist"))
              for side, s in (("left", "l"), ("right", "r"))]
    return humanoid(names, extras=extras, root="root")


def rigify_rig() -> Skeleton:
    names = {"pelvis": "DEF-spine", "spine1": "DEF-spine.001", "spine2": "DEF-spine.002", "spine3": "DEF-spine.003",
             "neck": "DEF-spine.004", "head": "DEF-spine.006"}
    limbs = {"hip": "thigh", "knee": "shin", "ankle": "foot", "toe": "toe", "collar": "shoulder",
             "shoulder": "upper_arm", "elbow": "forearm", "wrist": "hand"}
    names |= sided("DEF-{}.L", "DEF-{}.R", limbs)
    insert = {"head": [("DEF-spine.005", mid("neck", "head"))]}
    extras = []
    for side, s in (("left", "L"), ("right", "R")):
        # Rigify's limbs have two deform segments each: the ".001" half sits in series in the middle.
        insert[f"{side}_knee"] = [(f"DEF-thigh.{s}.001", mid(f"{side}_hip", f"{side}_knee"))]
        insert[f"{side}_ankle"] = [(f"DEF-shin.{s}.001", mid(f"{side}_knee", f"{side}_ankle"))]
        insert[f"{side}_elbow"] = [(f"DEF-upper_arm.{s}.001", mid(f"{side}_shoulder", f"{side}_elbow"))]
        insert[f"{side}_wrist"] = [(f"DEF-forearm.{s}.001", mid(f"{side}_elbow", f"{side}_wrist"))]
        extras += [(f"DEF-pelvis.{s}", "DEF-spine", P["pelvis"]), (f"DEF-breast.{s}", "DEF-spine.003",
                                                                    P["spine3"] + [0.1 if s == "L" else -0.1, -0.05, 0.1])]
        extras += fingers(f"DEF-hand.{s}", side, "DEF-f_{}.0{}." + s, fingers=("index", "middle", "ring", "pinky"), n=3)
    tips = {"DEF-spine.006": (0, 0.19, 0), "DEF-toe.L": (0, 0, 0.06), "DEF-toe.R": (0, 0, 0.06),
            "DEF-pelvis.L": (0.11, 0.1, 0.1), "DEF-pelvis.R": (-0.11, 0.1, 0.1)}
    return humanoid(names, insert=insert, extras=extras, z_up=True, tips=tips)


def metarig_rig() -> Skeleton:
    names = {"pelvis": "spine", "spine1": "spine.001", "spine2": "spine.002", "spine3": "spine.003",
             "neck": "spine.004", "head": "spine.006"}
    names |= sided("{}.L", "{}.R", {"hip": "thigh", "knee": "shin", "ankle": "foot", "toe": "toe",
                                     "collar": "shoulder", "shoulder": "upper_arm", "elbow": "forearm", "wrist": "hand"})
    extras = [("face", "spine.006", P["head"] + [0, 0.05, 0.05]), ("eye.L", "face", P["head"] + [0.03, 0.08, 0.09]),
              ("eye.R", "face", P["head"] + [-0.03, 0.08, 0.09])]
    for side, s in (("left", "L"), ("right", "R")):
        extras += [(f"pelvis.{s}", "spine", P["pelvis"]),
                   (f"heel.02.{s}", f"foot.{s}", P[f"{side}_ankle"] + [0, -0.07, -0.05])]
        extras += fingers(f"hand.{s}", side, "f_{}.0{}." + s, fingers=("index", "middle", "ring", "pinky"), n=3)
    return humanoid(names, insert={"head": [("spine.005", mid("neck", "head"))]}, extras=extras, z_up=True,
                    tips={"spine.006": (0, 0.19, 0), "pelvis.L": (0.11, 0.1, 0.1), "pelvis.R": (-0.11, 0.1, 0.1)})


def vrm_rig(upper_chest: bool = True) -> Skeleton:
    names = {"pelvis": "hips", "spine1": "spine", "spine2": "chest", "spine3": "upperChest", "neck": "neck",
             "head": "head"}
    names |= sided("left{}", "right{}", {"hip": "UpperLeg", "knee": "LowerLeg", "ankle": "Foot", "toe": "Toes",
                                          "collar": "Shoulder", "shoulder": "UpperArm", "elbow": "LowerArm",
                                          "wrist": "Hand"})
    extras = [("leftEye", "head", P["head"] + [0.03, 0.08, 0.09]), ("rightEye", "head", P["head"] + [-0.03, 0.08, 0.09])]
    for side in ("left", "right"):
        extras += fingers(f"{side}Hand", side, side + "{}{}", fingers=("Index", "Middle"), n=3, start=1)
    skeleton = humanoid(names, extras=extras)
    if upper_chest:
        return skeleton
    # Drop upperChest: its children hang from chest, offsets composed.
    i = skeleton.names.index("upperChest")
    keep = [k for k in range(skeleton.num_joints) if k != i]
    parents = [int(skeleton.parents[k]) for k in keep]
    offsets = skeleton.offsets.copy()
    for k in keep:
        if parents[keep.index(k)] == i:
            offsets[k] = offsets[k] + offsets[i]
    parents = [skeleton.parents[i] if p == i else p for p in parents]
    remap = {old: new for new, old in enumerate(keep)}
    return Skeleton([skeleton.names[k] for k in keep], [remap.get(p, -1) if p >= 0 else -1 for p in parents],
                    offsets[keep], units="m")


def vroid_rig() -> Skeleton:
    names = {"pelvis": "J_Bip_C_Hips", "spine1": "J_Bip_C_Spine", "spine2": "J_Bip_C_Chest",
             "spine3": "J_Bip_C_UpperChest", "neck": "J_Bip_C_Neck", "head": "J_Bip_C_Head"}
    names |= sided("J_Bip_L_{}", "J_Bip_R_{}", {"hip": "UpperLeg", "knee": "LowerLeg", "ankle": "Foot",
                                                 "toe": "ToeBase", "collar": "Shoulder", "shoulder": "UpperArm",
                                                 "elbow": "LowerArm", "wrist": "Hand"})
    # A long hair strand and the eyes hang from the head; a skirt strand from the hips.
    extras = [("J_Sec_Hair1_01", "J_Bip_C_Head", P["head"] + [0, 0.15, -0.1]),
              ("J_Sec_Hair1_02", "J_Sec_Hair1_01", P["head"] + [0, 0.0, -0.15]),
              ("J_Sec_Hair1_03", "J_Sec_Hair1_02", P["head"] + [0, -0.2, -0.15]),
              ("J_Adj_L_FaceEye", "J_Bip_C_Head", P["head"] + [0.03, 0.08, 0.09]),
              ("J_Adj_R_FaceEye", "J_Bip_C_Head", P["head"] + [-0.03, 0.08, 0.09]),
              ("J_Sec_L_Skirt_01", "J_Bip_C_Hips", P["left_hip"] + [0.05, 0, 0.05]),
              ("J_Sec_L_Skirt_02", "J_Sec_L_Skirt_01", P["left_hip"] + [0.07, -0.25, 0.07])]
    for side, s in (("left", "L"), ("right", "R")):
        extras += fingers(f"J_Bip_{s}_Hand", side, "J_Bip_" + s + "_{}{}", fingers=("Thumb", "Index", "Little"), n=3)
    return humanoid(names, extras=extras, root="Root")


def smpl_rig() -> Skeleton:
    names = {n: n for n in C.JOINT_NAMES} | {"left_toe": "left_foot", "right_toe": "right_foot"}
    extras = [("left_hand", "left_wrist", P["left_wrist"] + [0.0843, -0.007, -0.0126]),
              ("right_hand", "right_wrist", P["right_wrist"] + [-0.0843, -0.007, -0.0126])]
    return humanoid(names, extras=extras)


SYNTHETIC = {
    "mixamo": mixamo_rig, "ue5_mannequin": ue5_rig, "ue4_mannequin": ue4_rig, "rigify": rigify_rig,
    "blender_metarig": metarig_rig, "vrm": vrm_rig, "vroid": vroid_rig, "smpl": smpl_rig,
    "canonical": C.canonical_skeleton,
}
REAL = {
    "lafan1": "lafan1/walk4_subject1.bvh.xz",
    "bandai": "bandai/dataset-1/dataset-1_bow_active_001.bvh.xz",
    "reactidle": "reactidle/acted/001_acted.bvh.xz",
    "cmu": "cmu/131_01.bvh.xz",
}


def same_map(a: BoneMap, b: BoneMap) -> None:
    assert dict(a.bones) == dict(b.bones)
    assert dict(a.merged) == dict(b.merged)
    assert set(a.absent) == set(b.absent)
    assert dict(a.shared) == dict(b.shared)
    assert a.root_bone == b.root_bone


# ---- presets ------------------------------------------------------------------------------------------

def test_every_preset_loads_and_is_tested():
    names = list_rig_presets()
    assert set(names) == set(SYNTHETIC) | set(REAL)
    for name in names:
        m = load_bone_map(name)
        assert m.source == f"preset:{name}" and m.rig == name
        assert all(v == 1.0 for v in m.confidence.values())
        sorted_joints = set(m.bones) | set(m.merged) | set(m.absent)
        assert sorted_joints == set(C.JOINT_NAMES)


def test_preset_contents_that_matter():
    bandai = load_bone_map("bandai")
    assert bandai.merged == {"spine2": "spine1"} and bandai.bones["spine3"] == "Chest"
    assert bandai.root_bone == "joint_Root"
    react = load_bone_map("reactidle")
    assert set(react.absent) == {"left_wrist", "right_wrist", "left_toe", "right_toe"}
    assert react.bones["head"] == "face" and react.bones["spine1"] == "spine"
    cmu = load_bone_map("cmu")  # CMU's "Shoulder" is the upper arm, "Collar" the clavicle
    assert cmu.bones["left_shoulder"] == "LeftShoulder" and cmu.bones["left_collar"] == "LeftCollar"
    assert cmu.shared == {"lowerneck": "neck"}
    ue5 = load_bone_map("ue5")  # alias
    assert ue5.rig == "ue5_mannequin"
    assert ue5.shared == {"spine_02": "spine1", "spine_04": "spine2", "neck_02": "neck"}
    assert load_bone_map("smplx").bones["left_toe"] == "left_foot"
    assert load_bone_map("mixamo").bone("left_collar") == "mixamorig:LeftShoulder"


def test_load_by_path_and_strictness(tmp_path: Path):
    good = (Path(__file__).resolve().parents[1] / "presets" / "rigs" / "lafan1.toml").read_text()
    p = tmp_path / "mine.toml"
    p.write_text(good)
    m = load_bone_map(p)
    assert m.source == str(p) and m.bones["pelvis"] == "Hips"

    def bad(text: str, match: str) -> None:
        p.write_text(text)
        with pytest.raises(LMMError, match=match):
            load_bone_map(p)

    bad(good + "\n[extras]\nx = 1\n", "unknown section")
    bad(good.replace('[rig]\n', '[rig]\ncolour = "red"\n'), "unknown key.*colour")
    bad(good.replace('left_toe = "LeftToe"', 'left_toes = "LeftToe"'), "'left_toes' is not a canonical joint")
    bad(good.replace('left_toe = "LeftToe"\n', ''), "'left_toe' is in none of")
    bad(good + '\n[absent]\nleft_toe = "gone"\n', "'left_toe' is in more than one")
    bad(good.replace('"LeftToe"', '"LeftFoot"'), "plays both")
    bad(good.replace('spine2 = "Spine1"\n', '') + '\n[merged]\nspine2 = "left_hip"\n', "must be a mapped spine")
    bad(good.replace('left_knee = "LeftLeg"\n', '') + '\n[merged]\nleft_knee = "left_hip"\n', "needs a bone")
    bad(good.replace('left_wrist = "LeftHand"\n', '') + '\n[absent]\nleft_wrist = 3\n', "must be a string")
    bad(good.replace('policy = "rest"', 'policy = "wiggle"'), "unknown unmapped policy")
    bad(good + '\n[unmapped.share]\nSpine = "spine1"\n', "cannot also share")
    bad("[bones\n", "not valid TOML")
    with pytest.raises(LMMError, match="no rig preset named 'nope'.*mixamo"):
        load_bone_map("nope")
    with pytest.raises(LMMError, match="not found"):
        load_bone_map(tmp_path / "missing.toml")


# ---- fitting presets to skeletons -------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_rig_fits_its_preset_and_is_detected(name):
    skeleton = SYNTHETIC[name]()
    fitted = bone_map_for(skeleton, name)
    assert fitted.missing_bones(skeleton) == ()
    idx = fitted.indices(skeleton)
    assert idx.shape == (22,) and (idx >= 0).sum() == len(fitted.bones)
    detected = bone_map_for(skeleton)
    assert detected.source == f"preset:{name}"


def test_fitting_ignores_namespaces_and_names_missing_bones():
    rig = mixamo_rig("mixamorig7:")
    m = bone_map_for(rig, "mixamo")
    assert m.bones["pelvis"] == "mixamorig7:Hips" and m.bones["left_toe"] == "mixamorig7:LeftToeBase"
    bare = mixamo_rig("")
    assert bone_map_for(bare, "mixamo").bones["left_wrist"] == "LeftHand"
    with pytest.raises(RigMappingError, match="lacks mixamorig:Hips") as err:
        bone_map_for(ue5_rig(), "mixamo")
    assert "pelvis" in err.value.missing_joints and "mixamorig:LeftUpLeg" in err.value.unplaced_bones
    with pytest.raises(RigMappingError, match="names bones the skeleton lacks: Hips"):
        load_bone_map("lafan1").check(ue5_rig())


def test_optional_bones_fall_back():
    without = vrm_rig(upper_chest=False)
    m = bone_map_for(without, "vrm")
    assert m.merged == {"spine3": "spine2"} and m.bones["spine2"] == "chest" and "spine3" not in m.bones
    # Mixamo without toes: toes become absent.
    rig = mixamo_rig("mixamorig:")
    keep = [i for i, n in enumerate(rig.names) if "Toe" not in n]
    remap = {o: k for k, o in enumerate(keep)}
    no_toes = Skeleton([rig.names[i] for i in keep], [remap.get(int(rig.parents[i]), -1) for i in keep],
                       rig.offsets[keep])
    m = bone_map_for(no_toes, "mixamo")
    assert set(m.absent) == {"left_toe", "right_toe"}


def test_detection_prefers_the_fuller_fit():
    # Every UE4 bone exists in UE5, but the UE5 preset accounts for more bones.
    assert detect_rig_preset(ue5_rig()).rig == "ue5_mannequin"
    assert detect_rig_preset(ue4_rig()).rig == "ue4_mannequin"
    assert detect_rig_preset(C.canonical_skeleton()).rig == "canonical"
    assert detect_rig_preset(smpl_rig()).rig == "smpl"


def test_indices_side_pairs_and_unmapped():
    rig = ue5_rig()
    m = bone_map_for(rig, "ue5_mannequin")
    idx = m.indices(rig)
    assert rig.names[idx[C.JOINT_INDEX["left_elbow"]]] == "lowerarm_l"
    pairs = {(rig.names[a], rig.names[b]) for a, b in m.side_pairs(rig)}
    assert ("thigh_l", "thigh_r") in pairs and ("upperarm_twist_01_l", "upperarm_twist_01_r") in pairs
    assert ("index_01_l", "index_01_r") in pairs
    assert len({a for p in m.side_pairs(rig) for a in p}) == 2 * len(m.side_pairs(rig))  # disjoint
    un = m.unmapped_bones(rig)
    assert "root" in un and "spine_02" in un and "pelvis" not in un
    assert m.carrier("spine2") == "spine2" and load_bone_map("bandai").carrier("spine2") == "spine1"
    assert load_bone_map("reactidle").carrier("left_wrist") is None
    assert m.joint_of("calf_r") == "right_knee"
    assert [rig.names[k] for k in m.carrying_bones("spine1", rig)] == ["spine_01", "spine_02"]
    assert [rig.names[k] for k in m.carrying_bones("neck", rig)] == ["neck_01", "neck_02"]
    react = load_bone_map("reactidle")
    assert react.carrying_bones("left_toe", C.canonical_skeleton()) == ()


# ---- automatic mapping ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_automap_agrees_with_preset_on_synthetic_rigs(name):
    skeleton = SYNTHETIC[name]()
    auto = auto_bone_map(skeleton)
    same_map(auto, bone_map_for(skeleton, name))
    assert auto.source == "auto" and min(auto.confidence.values()) >= 0.6


@pytest.mark.parametrize("name", sorted(REAL))
def test_automap_agrees_with_preset_on_real_data(name, shared_data):
    motion = read_bvh(shared_data / REAL[name])
    skeleton = motion.skeleton
    preset = bone_map_for(skeleton, name)
    assert bone_map_for(skeleton).source == f"preset:{name}"  # detected
    auto = auto_bone_map(skeleton)
    same_map(auto, preset)
    # Names agree with the shape everywhere on real data (weak "Shoulder" names score 0.8).
    assert min(auto.confidence.values()) >= 0.8
    # The first frame stands upright: geometry agrees with names on left and right.
    pos = motion.global_positions()[0]
    idx = auto.indices(skeleton)
    left = pos[idx[C.JOINT_INDEX["left_hip"]]] - pos[idx[C.JOINT_INDEX["right_hip"]]]
    assert np.linalg.norm(left) > 0
    same_map(auto_bone_map(skeleton, pose=pos), preset)


def test_automap_confidence_reflects_evidence():
    rig = rigify_rig()  # twist halves: names must overrule the two-longest-bones rule
    m = auto_bone_map(rig)
    assert m.bones["left_knee"] == "DEF-shin.L" and m.confidence["left_knee"] == 0.7
    assert m.bones["left_hip"] == "DEF-thigh.L" and m.confidence["left_hip"] == 0.7
    assert m.bones["left_ankle"] == "DEF-foot.L" and m.confidence["left_ankle"] == 0.9
    assert m.confidence["spine2"] == 0.9 and m.confidence["head"] == 0.6  # DEF-spine.006: shape only
    assert m.confidence["pelvis"] == 0.6  # DEF-spine is not named like a pelvis
    mix = auto_bone_map(mixamo_rig())
    assert mix.confidence["left_collar"] == 0.8  # weak "Shoulder" name, shape agrees


def test_name_parsing():
    cases = {
        "mixamorig:LeftUpLeg": ("L", "upleg"), "LHipJoint": ("L", "hip"), "rhand": ("R", "hand"),
        "DEF-upper_arm.L.001": ("L", "upperarm"), "J_Bip_R_LowerArm": ("R", "lowerarm"),
        "Bip01 L Thigh": ("L", "thigh"), "thigh_l": ("L", "thigh"), "l_elbow": ("L", "elbow"),
        "rightUpperLeg": ("R", "upperleg"), "Spine2": (None, "spine"), "UpperArm_R": ("R", "upperarm"),
        "lowerback": (None, "lowerback"),
    }
    for raw, (side, stem) in cases.items():
        n = parse_name(raw)
        assert (n.side, n.stem) == (side, stem), raw
    assert parse_name("HeadTop_End").end_mark and parse_name("ik_foot_l").helper
    assert not parse_name("LeftHand").helper


def test_automap_maps_a_biped_named_rig_with_spaces():
    names = {"pelvis": "Bip01 Pelvis", "spine1": "Bip01 Spine", "spine2": "Bip01 Spine1", "spine3": "Bip01 Spine2",
             "neck": "Bip01 Neck", "head": "Bip01 Head"}
    names |= sided("Bip01 L {}", "Bip01 R {}", {"hip": "Thigh", "knee": "Calf", "ankle": "Foot", "toe": "Toe0",
                                                 "collar": "Clavicle", "shoulder": "UpperArm", "elbow": "Forearm",
                                                 "wrist": "Hand"})
    m = auto_bone_map(humanoid(names, root="Bip01"))
    assert m.bones == names and m.root_bone == "Bip01"
    assert min(m.confidence.values()) == 0.9


def renamed(skeleton: Skeleton, names: list[str]) -> Skeleton:
    return Skeleton(names, skeleton.parents, skeleton.offsets, units=skeleton.units, up_axis=skeleton.up_axis,
                    end_sites=skeleton.end_sites)


@pytest.mark.parametrize("z_up", [False, True])
def test_automap_by_structure_alone(z_up):
    base = C.canonical_skeleton()
    if z_up:  # Blender axes: Z up, facing -Y; left is still found from the toes
        base = humanoid({n: n for n in C.JOINT_NAMES}, z_up=True, tips=C.END_SITES)
    meaningless = [f"bone_{i:02d}" for i in range(22)]
    m = auto_bone_map(renamed(base, meaningless))
    assert m.bones == {n: f"bone_{i:02d}" for i, n in enumerate(C.JOINT_NAMES)}
    assert set(m.confidence.values()) == {0.6}


def test_structure_alone_on_lafan1_needs_a_standing_pose(shared_data):
    motion = read_bvh(shared_data / REAL["lafan1"])
    skeleton = renamed(motion.skeleton, [f"j{i}" for i in range(22)])
    expected = {j: f"j{motion.skeleton.names.index(b)}" for j, b in load_bone_map("lafan1").bones.items()}
    # LAFAN1's rest pose lies along X: the shape places every joint, but left/right is a guess...
    guess = auto_bone_map(skeleton)
    assert guess.confidence["left_hip"] == 0.4 and guess.confidence["spine2"] == 0.6
    # ...which a standing frame settles.
    m = auto_bone_map(skeleton, pose=motion.global_positions()[0])
    assert m.bones == expected and min(m.confidence.values()) == 0.6


def test_automap_handles_a_hip_bone_and_a_tail():
    names = {n: n for n in C.JOINT_NAMES}
    # Both legs hang from a "hips" bone beside the spine (not from the pelvis directly).
    sk = humanoid(names, insert={"left_hip": [("hipbone", P["pelvis"])]})
    i, h = sk.names.index("right_hip"), sk.names.index("hipbone")
    parents, offsets = sk.parents.copy(), sk.offsets.copy()
    parents[i], offsets[i] = h, P["right_hip"] - P["pelvis"]
    m = auto_bone_map(Skeleton(sk.names, parents, offsets))
    assert m.bones == names and "hipbone" not in m.shared
    # A tail from the pelvis is a long branch too, but it is no leg.
    tail = [("tail1", "pelvis", P["pelvis"] + [0, 0, -0.2]), ("tail2", "tail1", P["pelvis"] + [0, -0.1, -0.5]),
            ("tail3", "tail2", P["pelvis"] + [0, -0.3, -0.8])]
    sk = humanoid(names, extras=tail)
    m = auto_bone_map(renamed(sk, [f"b{k}" for k in range(sk.num_joints)]))
    assert m.bones == {n: f"b{k}" for k, n in enumerate(C.JOINT_NAMES)}


def test_unmappable_rigs_fail_clearly():
    n = 10
    snake = Skeleton([f"seg{i}" for i in range(n)], [-1] + list(range(n - 1)), np.tile([0.0, 0.0, 0.1], (n, 1)))
    with pytest.raises(RigMappingError, match="cannot map this rig.*chain.*needs bones for pelvis, left_hip") as err:
        auto_bone_map(snake)
    assert err.value.unplaced_bones == snake.names and "pelvis" in err.value.missing_joints
    with pytest.raises(RigMappingError, match="Write a bone map"):
        bone_map_for(snake)

    # No legs: a torso with arms and a head only.
    body = C.canonical_skeleton()
    keep = [i for i, nm in enumerate(body.names) if not any(k in nm for k in ("hip", "knee", "ankle", "toe"))]
    remap = {o: k for k, o in enumerate(keep)}
    torso = Skeleton([body.names[i] + "_x" for i in keep], [remap.get(int(body.parents[i]), -1) for i in keep],
                     body.offsets[keep])
    with pytest.raises(RigMappingError, match="cannot map this rig"):
        auto_bone_map(torso)
    with pytest.raises(RigMappingError, match=r"pose must be \(14, 3\)"):
        auto_bone_map(torso, pose=np.zeros((3, 3)))
