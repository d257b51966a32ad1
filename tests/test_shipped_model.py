"""The model shipped in presets/models: size, card, bank, and generation that keeps going (numpy only)."""
from __future__ import annotations

import numpy as np

from lmm_core.model import runtime, segments

MODELS = runtime.DEFAULT_MODEL.parent


def test_shipped_model_fits_and_has_a_card():
    assert runtime.DEFAULT_MODEL.stat().st_size <= 20 * 1000 ** 2  # the limit: at most 20 MB
    card = (MODELS / "MODEL_CARD.md").read_text()
    assert "CC BY-NC 4.0" in card and "LAFAN1 is **not** used" in card
    m = runtime.load()
    assert m.body.is_canonical and m.cfg.baseline == "hermite"


def test_shipped_bank_is_consistent_and_covers_the_common_actions():
    m = runtime.load()
    rot, root, con, starts, lengths = segments._flat(m.bank)
    assert len(rot) == len(root) == len(con) == lengths.sum()
    assert lengths.min() >= segments.TRANSITION + 1 + segments.MIN_PLAY  # every segment can be matched into
    assert {"walk", "run", "idle", "bow", "wave-right-hand"} <= set(m.generatable_actions())


def test_generated_walk_keeps_walking():
    """A network left to continue a walk on its own slowed to a shuffle (0.4-0.5 of the start's speed); the
    chain of recorded segments keeps a walking pace for 20 s, with no jump at any join."""
    m = runtime.load()
    rot, pos, con, made = m.generate(600, m.action_index("walk"), m.style_index("normal"), seed=2)
    assert rot.shape == (600, 22, 4) and con.shape == (600, 4) and np.isfinite(pos).all()
    assert 0.05 < made.mean() < 0.3  # transitions of 10 frames between recorded segments of up to 120
    speed = np.linalg.norm(np.diff(pos[:, [0, 2]], axis=0), axis=1) * 30  # m/s
    for part in np.array_split(speed, 4):
        assert 0.6 < part.mean() < 2.5
    assert speed.max() < 4.0  # a walk never lunges; a join that jumped would

