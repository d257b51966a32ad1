"""``tasks.from_canonical``: the one way a task's canonical result (generation's) reaches any rig."""
from __future__ import annotations

import numpy as np

from lmm_core import canonical as cn
from lmm_core import read_bvh
from lmm_core.bonemap import bone_map_for
from lmm_core.model.tasks import from_canonical, to_canonical
from lmm_core.retarget import bind, retarget


def test_from_canonical_is_the_retarget_from_the_canonical_body(test_data):
    rig = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")  # 3 s at 120 fps
    canon = to_canonical(rig, 30.0)
    assert canon.skeleton.names == cn.JOINT_NAMES and canon.num_frames == 90
    expected = retarget(canon, bone_map_for(cn.canonical_skeleton(), "canonical"), rig.skeleton,
                        bone_map_for(rig.skeleton))
    for target_map in (None, bone_map_for(rig.skeleton), bind(rig.skeleton, bone_map_for(rig.skeleton))):
        out = from_canonical(canon, rig.skeleton, target_map)  # detected, a BoneMap, a Binding
        assert out.skeleton is rig.skeleton and out.rotations.shape == (90, 31, 4) and out.fps == 30.0
        np.testing.assert_allclose(out.rotations, expected.rotations, atol=1e-12)
        np.testing.assert_allclose(out.root_positions, expected.root_positions, atol=1e-12)
    # Root motion and feet as ``retarget`` takes them: in place, the pelvis no longer travels.
    travel = np.ptp(expected.root_positions[:, [0, 2]], axis=0).max()
    in_place = from_canonical(canon, rig.skeleton, root_motion="in_place", fix_feet=False)
    assert travel > 5.0 and np.ptp(in_place.root_positions[:, [0, 2]], axis=0).max() < 1e-9 * travel
