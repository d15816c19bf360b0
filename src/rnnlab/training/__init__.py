"""rnnlab.training: a generic training loop (``loop.fit``) and the character-LM task it trains.

Above ``tasks`` and below ``cli``/``server``: NumPy, the standard library and, for the loss-curve
picture only, matplotlib (imported when a picture is drawn).
"""

from .charlm import train_charlm
from .config import PRESETS, ConfigError, TrainConfig, preset
from .loop import METRICS_FILE, MODEL_FILE, PLOT_FILE, RESUME_FILE, TrainingError, TrainResult, fit, read_resume

__all__ = [
    "METRICS_FILE",
    "MODEL_FILE",
    "PLOT_FILE",
    "PRESETS",
    "RESUME_FILE",
    "ConfigError",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "fit",
    "preset",
    "read_resume",
    "train_charlm",
]
