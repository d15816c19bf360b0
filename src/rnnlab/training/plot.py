"""The loss-curve picture of a run (``loss.png``): training loss and validation loss, nats per character.

Drawn with matplotlib's Agg backend (no display needed), imported only when a picture is made, and
written atomically so a failure leaves the previous picture.  The training curve is the per-step
loss smoothed by an exponential moving average (the raw steps are drawn faint behind it).
"""

from __future__ import annotations

import io
from pathlib import Path

from ..io.checkpoint import atomic_write_bytes


def smooth(values: list[float], alpha: float = 0.05) -> list[float]:
    out, avg = [], None
    for v in values:
        avg = v if avg is None else (1 - alpha) * avg + alpha * v
        out.append(avg)
    return out


def plot_loss_curve(records: list[dict], path: str | Path, title: str = "training run") -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    steps = [r for r in records if r.get("kind") == "step" and isinstance(r.get("loss"), (int, float))]
    evals = [r for r in records if r.get("kind") == "eval" and isinstance(r.get("val_loss"), (int, float))]
    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.add_subplot()
    if steps:
        x = [r["step"] for r in steps]
        y = [r["loss"] for r in steps]
        ax.plot(x, y, color="#9ecae1", linewidth=0.6, label="_raw")
        ax.plot(x, smooth(y), color="#2171b5", linewidth=1.6, label="training (smoothed)")
    if evals:
        ax.plot([r["step"] for r in evals], [r["val_loss"] for r in evals], "o-", color="#cb181d",
                linewidth=1.6, markersize=4, label="validation")
        best = min(evals, key=lambda r: r["val_loss"])
        ax.annotate(f"best {best['val_loss']:.3f}", (best["step"], best["val_loss"]), textcoords="offset points",
                    xytext=(0, -14), ha="center", fontsize=8, color="#cb181d")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per character)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if steps:
        low = min(min(r["val_loss"] for r in evals) if evals else 9e9, min(smooth([r["loss"] for r in steps])))
        ax.set_ylim(max(0.0, low - 0.1), min(max(r["loss"] for r in steps[: max(1, len(steps) // 50)]) + 0.1, 5.0))
    ax.legend(loc="upper right")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
