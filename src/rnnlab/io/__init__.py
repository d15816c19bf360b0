"""rnnlab.io: files on disk (safetensors checkpoints with atomic writes). NumPy + safetensors only."""

from .checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    checkpoint_file,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)

__all__ = [
    "CheckpointError",
    "atomic_write_bytes",
    "checkpoint_file",
    "load_checkpoint",
    "read_metadata",
    "save_checkpoint",
]
