"""Line and bar charts: next-character distribution, entropy against temperature, loss curves,
and the visualizer's prediction against target.

Each ``*_spec`` returns the plain dict the web page renders; the function without ``_spec`` returns
a Plotly figure.  Proved by ``tests/viz/test_figures.py``.
"""

from __future__ import annotations

import numpy as np

from . import theme
from .figure import as_list, display_char, to_figure


def _title(text: str) -> dict:
    return {"text": text, "x": 0, "xanchor": "left", "font": {"size": 14}}


# ---- next-character distribution ---------------------------------------------------------------
def distribution_spec(chars, probs, *, sampled: str | None = None, top: int = 10,
                      title: str = "Top 10 next characters") -> dict:
    """Bars of the `top` most likely characters (given in any order), the sampled one highlighted."""
    probs = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-probs, kind="stable")[:top]
    chosen = [chars[i] for i in order]
    colours = [theme.HIGHLIGHT if c == sampled else theme.PRIMARY for c in chosen]
    trace = {
        "type": "bar",
        "x": [display_char(c) for c in chosen],
        "y": as_list(probs[order]),
        "marker": {"color": colours},
        "hovertemplate": "%{x}: %{y:.3f}<extra></extra>",
        "text": [f"{p:.2f}" for p in probs[order]],
        "textposition": "outside",
        "cliponaxis": False,
    }
    layout = theme.base_layout(
        title=_title(title),
        xaxis={"type": "category", "tickfont": {"size": 14, "family": "ui-monospace, SFMono-Regular, Menlo, monospace"}},
        yaxis={"title": {"text": "probability"}, "range": [0, 1.08], "tickformat": ".1f"},
        bargap=0.25,
        margin={"l": 60, "r": 8, "t": 32, "b": 32},
    )
    return {"data": [trace], "layout": layout}


def distribution_chart(chars, probs, **kw):
    return to_figure(distribution_spec(chars, probs, **kw))


def entropy_curve_spec(temperatures, entropies, *, current: float | None = None, max_bits: float | None = None,
                       title: str = "Entropy of the next-character distribution") -> dict:
    """Entropy (bits) against temperature, with a marker at the current temperature."""
    temps = np.asarray(temperatures, dtype=np.float64)
    ent = np.asarray(entropies, dtype=np.float64)
    data = [{"type": "scatter", "mode": "lines", "x": as_list(temps), "y": as_list(ent), "name": "entropy",
             "line": {"color": theme.PRIMARY, "width": 2}, "hovertemplate": "T = %{x:.2f}: %{y:.2f} bits<extra></extra>"}]
    if current is not None and len(temps):
        y = float(np.interp(current, temps, ent))
        data.append({"type": "scatter", "mode": "markers", "x": [current], "y": [y], "name": "current",
                     "marker": {"color": theme.HIGHLIGHT, "size": 11, "line": {"color": theme.INK, "width": 1}},
                     "hovertemplate": "T = %{x:.2f}: %{y:.2f} bits<extra></extra>"})
    shapes = [{"type": "rect", "xref": "x", "yref": "paper", "x0": lo, "x1": hi, "y0": 0, "y1": 1,
               "fillcolor": theme.BANDS[name], "opacity": 0.10, "line": {"width": 0}, "layer": "below"}
              for name, (lo, hi) in TEMPERATURE_BANDS.items()]
    yaxis = {"title": {"text": "bits"}, "rangemode": "tozero"}
    if max_bits is not None:
        yaxis["range"] = [0, max_bits * 1.05]
    layout = theme.base_layout(title=_title(title), xaxis={"title": {"text": "temperature"}, "range": [0, 2.05]},
                               yaxis=yaxis, showlegend=False, shapes=shapes,
                               margin={"l": 52, "r": 8, "t": 32, "b": 40})
    return {"data": data, "layout": layout}


TEMPERATURE_BANDS = {"conservative": (0.1, 0.5), "balanced": (0.8, 1.2), "creative": (1.5, 2.0)}


def entropy_curve(temperatures, entropies, **kw):
    return to_figure(entropy_curve_spec(temperatures, entropies, **kw))


# ---- training ----------------------------------------------------------------------------------
# A log axis whose labels are the numbers in full ("0.05", "20"): Plotly's default labels the 2s and 5s
# between decades as bare "2" and "5", which read as two and five.  The tick spacing stays Plotly's own
# (decades over a wide range, 1-2-5 steps over a narrow one), so a small chart is never crowded.
LOG_TICKS = {"type": "log", "tickformat": "~g"}


def loss_curve_spec(steps=(), losses=(), *, title: str = "Training loss", log_y: bool = True,
                    name: str = "loss", extra: dict | None = None) -> dict:
    """A loss curve; `extra` adds more curves, e.g. {"validation": (steps, losses)}."""
    palette = [theme.PRIMARY, theme.HIGHLIGHT, theme.PREDICTION, theme.MUTED]
    curves = {name: (steps, losses), **(extra or {})}
    data = [{"type": "scatter", "mode": "lines", "name": label, "x": as_list(s), "y": as_list(v),
             "line": {"color": palette[i % len(palette)], "width": 2},
             "hovertemplate": "step %{x}: %{y:.4f}<extra>" + label + "</extra>"}
            for i, (label, (s, v)) in enumerate(curves.items())]
    layout = theme.base_layout(title=_title(title), xaxis={"title": {"text": "step"}},
                               yaxis={"title": {"text": "loss"}, **(LOG_TICKS if log_y else {"type": "linear"})},
                               showlegend=len(curves) > 1, margin={"l": 52, "r": 8, "t": 32, "b": 40})
    return {"data": data, "layout": layout}


def loss_curve(steps, losses, **kw):
    return to_figure(loss_curve_spec(steps, losses, **kw))


# ---- the visualizer's output -------------------------------------------------------------------
def prediction_spec(trace: dict, *, title: str = "Prediction against target") -> dict:
    """From ``tasks.visualizer.trace_json``: regression -> two lines; classification -> p(target)."""
    seq, out = trace["sequence"], trace["outputs"]
    steps = list(range(seq["length"]))
    if seq["kind"] == "regression":
        data = [
            {"type": "scatter", "mode": "lines+markers", "name": "target", "x": steps, "y": out["target"],
             "line": {"color": theme.TARGET, "width": 2, "dash": "dot"}, "marker": {"size": 5}},
            {"type": "scatter", "mode": "lines+markers", "name": "prediction", "x": steps, "y": out["prediction"],
             "line": {"color": theme.PREDICTION, "width": 2}, "marker": {"size": 5}},
        ]
        yaxis = {"title": {"text": "value"}}
    else:
        labels = [f"{p} (target {t})" if t else "no target" for p, t in
                  zip(trace["predicted_labels"], seq["target_labels"])]
        probs = [p if m else None for p, m in zip(out["target_prob"], seq["mask"])]
        data = [{"type": "bar", "name": "p(target)", "x": steps, "y": probs, "customdata": labels,
                 "marker": {"color": theme.PREDICTION},
                 "hovertemplate": "step %{x}: p(target) = %{y:.3f}<br>predicted %{customdata}<extra></extra>"}]
        yaxis = {"title": {"text": "p(target)"}, "range": [0, 1]}
    layout = theme.base_layout(title=_title(title), xaxis={"title": {"text": "time step t"}}, yaxis=yaxis,
                               legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.12},
                               margin={"l": 52, "r": 8, "t": 36, "b": 40})
    return {"data": data, "layout": layout}


def prediction_chart(trace: dict, **kw):
    return to_figure(prediction_spec(trace, **kw))
