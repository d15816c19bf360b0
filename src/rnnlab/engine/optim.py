"""Optimizers and gradient clipping, updating a ``dict[str, np.ndarray]`` of parameters in place.

The update rules follow PyTorch's ``torch.optim`` (defaults included), so the same gradients give
the same steps (``tests/engine/test_optim.py``):

- SGD (momentum m, dampening 0):   v <- m v + g;  p <- p - lr v
- Adagrad:                         s <- s + g^2;  p <- p - lr g / (sqrt(s) + eps)
- Adam:   g <- g + wd p (L2, when weight_decay > 0);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  p <- p - lr m_hat / (sqrt(v_hat) + eps)
- AdamW:  Adam, plus decoupled weight decay p <- p (1 - lr wd) before the step

Clipping: ``clip_grad_norm`` scales all gradients so their global L2 norm is at most ``max_norm`` and
returns the norm before clipping; ``clip_grad_value`` clamps each element to [-v, v].
``check_finite`` raises ``NonFiniteError`` naming the step and the parameter.
"""

from __future__ import annotations

import math

import numpy as np


class NonFiniteError(FloatingPointError):
    """A loss or gradient became NaN or infinite."""

    def __init__(self, step: int, name: str):
        self.step, self.name = step, name
        super().__init__(f"non-finite value at step {step} in {name}")


def check_finite(step: int, loss: float, grads: dict[str, np.ndarray]) -> None:
    if not math.isfinite(loss):
        raise NonFiniteError(step, "loss")
    for name, g in grads.items():
        if not np.isfinite(g).all():
            raise NonFiniteError(step, f"gradient of {name}")


def global_norm(grads: dict[str, np.ndarray]) -> float:
    return math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads.values()))


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale grads in place so that their global norm <= max_norm; return the norm before."""
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads.values():
            g *= scale
    return norm


def clip_grad_value(grads: dict[str, np.ndarray], max_value: float) -> None:
    for g in grads.values():
        np.clip(g, -max_value, max_value, out=g)


class Optimizer:
    """Base: keeps per-parameter state keyed by name; ``state_dict`` makes a run resumable."""

    def __init__(self, lr: float):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = lr
        self.t = 0
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for name, p in params.items():
            if name in grads:
                self._update(name, p, grads[name].astype(p.dtype, copy=False))

    def _slot(self, name, key, like):
        slots = self.state.setdefault(name, {})
        if key not in slots:
            slots[key] = np.zeros_like(like)
        return slots[key]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat name -> array, for saving beside a checkpoint (safetensors wants flat tensors)."""
        flat = {f"{name}.{key}": value for name, slots in self.state.items() for key, value in slots.items()}
        flat["__t__"] = np.array([self.t], dtype=np.int64)
        return flat

    def load_state_dict(self, flat: dict[str, np.ndarray]) -> None:
        self.t = int(flat["__t__"][0])
        self.state = {}
        for key, value in flat.items():
            if key == "__t__":
                continue
            name, slot = key.rsplit(".", 1)
            self.state.setdefault(name, {})[slot] = value.copy()


class SGD(Optimizer):
    def __init__(self, lr: float = 0.01, momentum: float = 0.0):
        super().__init__(lr)
        self.momentum = momentum

    def _update(self, name, p, g):
        if self.momentum:
            v = self._slot(name, "momentum", p)
            if self.t == 1:
                v[...] = g
            else:
                v *= self.momentum
                v += g
            g = v
        p -= self.lr * g


class Adagrad(Optimizer):
    def __init__(self, lr: float = 0.01, eps: float = 1e-10):
        super().__init__(lr)
        self.eps = eps

    def _update(self, name, p, g):
        s = self._slot(name, "sum", p)
        s += g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr)
        self.b1, self.b2 = betas
        self.eps = eps
        self.weight_decay = weight_decay

    def _decayed(self, p, g):
        """Adam's L2 penalty: the decay joins the gradient (and so the moment estimates)."""
        return g + self.weight_decay * p if self.weight_decay else g

    def _update(self, name, p, g):
        g = self._decayed(p, g)
        m = self._slot(name, "exp_avg", p)
        v = self._slot(name, "exp_avg_sq", p)
        m *= self.b1
        m += (1 - self.b1) * g
        v *= self.b2
        v += (1 - self.b2) * (g * g)
        bias1 = 1 - self.b1**self.t
        bias2 = 1 - self.b2**self.t
        denom = np.sqrt(v) / math.sqrt(bias2) + self.eps
        p -= (self.lr / bias1) * m / denom


class AdamW(Adam):
    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(lr, betas, eps, weight_decay)

    def _decayed(self, p, g):
        """AdamW: decoupled decay, applied to the weights before the step; the gradient is untouched."""
        p *= 1 - self.lr * self.weight_decay
        return g


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam, "adamw": AdamW}


def make_optimizer(name: str, lr: float, **kwargs) -> Optimizer:
    try:
        return OPTIMIZERS[name](lr=lr, **kwargs)
    except KeyError:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}") from None
