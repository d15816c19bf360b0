"""rnnlab.backends: optional training backends; today PyTorch (``pip install 'rnnlab[torch]'``).

The same models and files as the NumPy engine, trained with ``torch.nn.LSTM/GRU/RNN`` on a CPU, a
GPU, or many processes and machines (``torchrun`` + DistributedDataParallel):

- ``torch_charlm.py``  the char-LM as a torch module with rnnlab's state_dict keys; conversion both ways
- ``torch_train.py``   the training loop with ``training.loop.fit``'s semantics and files
- ``ddp.py``           the process group (gloo / NCCL), stream sharding, ``python -m rnnlab.backends.ddp``

Above ``training`` (it reuses the batches, schedule, config, checkpoint format) and below ``cli``.
torch is imported inside functions only, so importing this package never needs it.
"""

from __future__ import annotations

import functools
import importlib.util


class BackendError(RuntimeError):
    """A backend cannot run here (torch missing, no GPU): the message says what to install or change."""


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def torch_trainer(device: str = "cpu", threads: int | None = None):
    """``training.train_charlm``'s twin on PyTorch (same arguments and files) for ``device`` "cpu" or "cuda";
    ``threads`` sets ``torch.set_num_threads`` (None: torch's default).

    Raises BackendError when torch is not installed or the device is not there."""
    if not torch_installed():
        raise BackendError("--backend torch needs PyTorch: pip install 'rnnlab[torch]'")
    if device not in ("cpu", "cuda"):
        raise BackendError(f"device must be cpu or cuda, got {device!r}")
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    if device == "cuda":
        if not torch.cuda.is_available():
            raise BackendError("--device cuda: PyTorch sees no CUDA GPU (torch.cuda.is_available() is False; "
                               "install a CUDA build of torch, or use --device cpu)")
    from .torch_train import train_charlm_torch

    return functools.partial(train_charlm_torch, device=device)


__all__ = ["BackendError", "torch_installed", "torch_trainer"]
