"""rnnlab.engine: recurrent networks in NumPy, written out by hand (forward and BPTT).

NumPy and the standard library only; no I/O, no printing, no global random state.
Shape legend: B batch, T time, I input, H hidden, V vocabulary, L layers, G gates.
"""

from .config import RecurrentConfig, State, zero_state
from .gradcheck import numerical_gradient, relative_error
from .init import INIT_SCHEMES, init_params, linear_init, orthogonal, spectral_radius_of
from .linear import linear_backward, linear_forward
from .loop import Gradients
from .losses import LossResult, log_softmax, mean_squared_error, softmax, softmax_cross_entropy
from .optim import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    NonFiniteError,
    check_finite,
    clip_grad_norm,
    clip_grad_value,
    global_norm,
    make_optimizer,
)
from .params import CELL_GATES, LayerParams, param_shapes
from .recurrent import ForwardCache, Recurrent, check_params
from .trace import LayerTrace, Trace

__all__ = [name for name in dir() if not name.startswith("_")]
