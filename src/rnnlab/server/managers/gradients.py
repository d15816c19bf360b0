"""The gradients resource's work: the vanishing-gradient section's curves and gradient checks.

All the numbers come from ``rnnlab.tasks.gradient_lab``; this only maps requests to its spec and its
errors to HTTP errors.  Stateless: every request builds its small models afresh (float64).
"""

from __future__ import annotations

from ...tasks import gradient_lab as lab
from ...tasks import memory_sequences
from ...tasks.sampling import one_blas_thread
from ..errors import InvalidInput
from ..schemas.gradients import CheckRequest, GradientControls
from ..schemas.limits import RANGES

memory_sequences.register()  # the memory tasks become a Sequence Type of the visualizer too

LIMIT_FIELDS = ("seq_len", "hidden_size", "recurrent_scale", "forget_bias", "clip_threshold", "time_skip", "seed")


def options() -> dict:
    return {"cells": list(lab.CELLS),
            "limits": {k: [float(lo), float(hi)] for k, (lo, hi) in RANGES.items() if k in LIMIT_FIELDS},
            "check_limits": {"seq_len": lab.CHECK_SEQ_LEN_MAX, "hidden_size": lab.CHECK_HIDDEN_MAX},
            "defaults": GradientControls().model_dump()}


def _spec(controls: GradientControls) -> lab.LabSpec:
    try:
        return lab.LabSpec(**controls.model_dump())
    except ValueError as e:
        raise InvalidInput(str(e), "controls") from None


def norms(controls: GradientControls) -> dict:
    spec = _spec(controls)
    with one_blas_thread():  # small matrices: threads only wait on each other
        return lab.gradient_curves(spec)


def check(req: CheckRequest) -> dict:
    spec = _spec(req.controls)
    try:
        with one_blas_thread():
            return lab.gradient_check(spec, req.cell)
    except ValueError as e:
        raise InvalidInput(str(e), "controls") from None
