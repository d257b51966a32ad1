"""In-betweening benchmarks: the LAFAN1 protocol (Harvey et al. 2020), reproduced, for any in-betweener.

- ``windows``: cutting clips into windows and framing them (centred, facing +X at frame 9).
- ``baselines``: zero-velocity and interpolation, as in-betweeners.
- ``metrics``: L2Q, L2P, NPSS and the position statistics L2P is normalised by.
- ``harness``: scoring in-betweeners on windows; the results table.
- ``lafan1``: the benchmark on LAFAN1's own files and skeleton.
- ``inbetween``: the protocol on any clips on the canonical body; loading our model.
- ``cli``: ``lmm bench lafan1`` and ``lmm bench inbetween``.

An in-betweener is any callable ``inbetween(rotations (T, J, 4), root (T, 3), known (T,) bool) ->
(rotations, root)`` on the data's skeleton that fills the frames where ``known`` is False.
"""
from .baselines import interpolation, zero_velocity
from .harness import Inbetweener, evaluate, format_table, training_stats
from .inbetween import load_model_inbetweener, run_inbetween
from .lafan1 import run_lafan1

__all__ = ["Inbetweener", "evaluate", "format_table", "interpolation", "load_model_inbetweener", "run_inbetween",
           "run_lafan1", "training_stats", "zero_velocity"]
