"""Control rig maps (``lmm_core.bonemap``): the ``[controls]``, ``[switches]`` and ``[twist]`` sections of a
rig preset, read strictly, and fitted to an armature's bone names (no Blender needed)."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import bonemap
from lmm_core.errors import LMMError, RigMappingError
from lmm_core.skeleton import Skeleton

RIGIFY = bonemap.load_bone_map("rigify")


def _names(drop: tuple[str, ...] = ()) -> list[str]:
    """The bone names of a Rigify rig as far as the preset goes: DEF, controls, switch and twist bones."""
    names = [*RIGIFY.bones.values(), *RIGIFY.shared, *RIGIFY.controls.values(), *RIGIFY.switches,
             *(seg for seg, _ in RIGIFY.twist.values()), "root", "MCH-torso.parent", "ORG-spine"]
    return [n for n in names if n not in drop]


def test_the_rigify_preset_names_a_control_for_every_joint():
    assert RIGIFY.is_control_rig and set(RIGIFY.controls) == set(RIGIFY.bones)
    assert RIGIFY.controls["left_knee"] == "shin_fk.L" and RIGIFY.controls["spine2"] == "torso"
    assert RIGIFY.switches["thigh_parent.R"] == {"IK_FK": 1.0}
    assert RIGIFY.twist["DEF-upper_arm.L"] == ("ORG-upper_arm.L", 1.0)
    assert not bonemap.load_bone_map("blender_metarig").is_control_rig


def test_a_control_rig_is_detected_from_the_armatures_bone_names():
    found = bonemap.detect_control_rig(_names())
    assert found is not None and found.rig == "rigify" and found.controls == RIGIFY.controls
    # A DEF-only export (the game-engine rig) has no controls: it is a plain rig, keyed on its DEF bones.
    assert bonemap.detect_control_rig([*RIGIFY.bones.values(), *RIGIFY.shared]) is None
    # Namespaced names (an appended or linked rig) still match, and the map carries the rig's spelling.
    spaced = bonemap.detect_control_rig([f"hero:{n}" for n in _names()])
    assert spaced is not None and spaced.controls["left_knee"] == "hero:shin_fk.L"
    assert spaced.switches == {f"hero:{b}": v for b, v in RIGIFY.switches.items()}


def test_an_armature_without_a_control_or_switch_does_not_fit():
    with pytest.raises(RigMappingError, match="it lacks toe_fk.R"):
        bonemap.fit_control_map(RIGIFY, _names(drop=("toe_fk.R",)))
    with pytest.raises(RigMappingError, match="upper_arm_parent.L"):
        bonemap.fit_control_map(RIGIFY, _names(drop=("upper_arm_parent.L",)))
    with pytest.raises(LMMError, match="names no controls"):
        bonemap.fit_control_map(bonemap.load_bone_map("mixamo"), _names())


def test_fitting_to_the_deforming_skeleton_keeps_the_controls():
    names = (*RIGIFY.bones.values(),)
    parents = np.array([-1] + [0] * (len(names) - 1))
    skeleton = Skeleton(names=names, parents=parents, offsets=np.ones((len(names), 3)))
    fitted = bonemap.bone_map_for(skeleton, "rigify")
    assert fitted.controls == RIGIFY.controls and set(fitted.twist) == set(RIGIFY.twist)


def _control_preset(controls: dict[str, str] | None = None, extra: str = "") -> str:
    """A small control rig preset: the metarig's bones, each with a control ``<bone>_ctl``, plus ``extra``."""
    plain = bonemap.load_bone_map("blender_metarig")
    controls = {j: f"{b}_ctl" for j, b in plain.bones.items()} if controls is None else controls
    lines = ["[rig]", 'name = "test"', "[bones]", *(f'{j} = "{b}"' for j, b in plain.bones.items()),
             "[unmapped.share]", '"spine.005" = "neck"', "[controls]", *(f'{j} = "{c}"' for j, c in controls.items())]
    return "\n".join(lines) + "\n" + extra


def test_a_small_control_preset_loads(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(_control_preset(extra='[switches]\n"leg.L" = { IK_FK = 1 }\n'
                                          '[twist]\n"thigh.L" = { bone = "ORG-thigh.L", share = 0.5 }\n'))
    m = bonemap.load_bone_map(path)
    assert m.controls["left_knee"] == "shin.L_ctl" and m.switches == {"leg.L": {"IK_FK": 1}}
    assert m.twist == {"thigh.L": ("ORG-thigh.L", 0.5)}


@pytest.mark.parametrize("change, extra, message", [
    (("left_knee", "shin.L"), "", "is also a deforming bone"),
    (("left_knee", "thigh.L_ctl"), "", "carries both"),
    (("left_knee", None), "", "names no control for left_knee"),
    (None, '[switches]\n"leg.L" = 1.0\n', "must be a table of property = number"),
    (None, '[switches]\n"leg.L" = { IK_FK = "fk" }\n', "must be a table of property = number"),
    (None, '[twist]\n"shin.L" = { bone = "ORG-shin.L" }\n', "[twist] 'shin.L' must be"),
    (None, '[twist]\n"shin.L" = { bone = "ORG-shin.L", share = 2.0 }\n', "share = <0..1>"),
    (None, '[twist]\n"DEF-shin.L" = { bone = "ORG-shin.L", share = 1.0 }\n', "is not a bone of [bones]"),
])
def test_bad_control_sections_name_the_problem(tmp_path, change, extra, message):
    plain = bonemap.load_bone_map("blender_metarig")
    controls = {j: f"{b}_ctl" for j, b in plain.bones.items()}
    if change is not None:
        joint, control = change
        if control is None:
            del controls[joint]
        else:
            controls[joint] = control
    path = tmp_path / "bad.toml"
    path.write_text(_control_preset(controls, extra))
    with pytest.raises(LMMError) as info:
        bonemap.load_bone_map(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_switches_without_controls(tmp_path):
    plain = (bonemap.PRESET_DIR / "blender_metarig.toml").read_text()
    path = tmp_path / "switch.toml"
    path.write_text(plain + '\n[switches]\n"thigh_parent.L" = { IK_FK = 1.0 }\n')
    with pytest.raises(LMMError, match="switches belong to control rigs"):
        bonemap.load_bone_map(path)
