"""rnnlab: watch a recurrent neural network think.

The engine (``rnnlab.engine``) is NumPy only; everything heavier is imported lazily, so
``import rnnlab`` stays fast.  ``rnnlab.load()`` returns the bundled character model.
"""

from __future__ import annotations

__version__ = "0.1.0"


def load(path=None):
    """Load a character-level language model: a checkpoint, a run folder of ``rnnlab train``, or
    (path None) the bundled default model."""
    from .tasks.charlm import load_model

    return load_model(path)


__all__ = ["__version__", "load"]
