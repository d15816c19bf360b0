"""Heatmaps of a recurrent layer over time: hidden units (rows) x time steps (columns).

Hidden states and cell states use the diverging scale centred on 0 (blue positive, red negative);
sigmoid gates (values in [0, 1]) use its positive half.  ``hidden_heatmap`` accepts an engine
``Trace`` (from ``Recurrent.forward(..., record=True)``) or an array (T, H).
Proved by ``tests/viz/test_figures.py``.
"""

from __future__ import annotations

import numpy as np

from . import theme
from .figure import as_list, to_figure

SIGMOID_GATES = {"i", "f", "o", "r", "z"}  # values in [0, 1]
GATE_NAMES = {
    "i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o",
    "r": "reset gate r", "z": "update gate z", "n": "candidate n", "c": "cell state c", "h": "hidden state h",
}


def _steps_by_units(values, layer: int = 0, batch: int = 0, name: str = "h") -> np.ndarray:
    """A Trace or array-like (T, H) -> ndarray (T, H)."""
    if hasattr(values, "layers"):  # engine Trace
        lt = values.layers[layer]
        arr = lt.c if name == "c" else (lt.h if name == "h" else lt.gates[name])
        return np.asarray(arr[:, batch], dtype=np.float64)  # (T, H)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected an array of shape (T, H), got shape {arr.shape}")
    return arr


def symmetric_range(values: np.ndarray) -> float:
    """The colour range [-m, m]: at least 1 (tanh units fill it), wider for unbounded units (ReLU)."""
    m = float(np.max(np.abs(values))) if values.size else 0.0
    return max(1.0, m) if np.isfinite(m) else 1.0


def heatmap_spec(values, name: str = "h", *, step_labels=None, title: str | None = None,
                 zmax: float | None = None) -> dict:
    """values (T, H) -> a heatmap spec with z (H, T): one row per unit, one column per step."""
    v = _steps_by_units(values, name=name)  # (T, H)
    T, H = v.shape
    gate = name in SIGMOID_GATES
    if gate:
        zmin, zmax_, scale, mid = 0.0, 1.0, theme.SEQUENTIAL, None
    else:
        zmax_ = symmetric_range(v) if zmax is None else float(zmax)
        zmin, scale, mid = -zmax_, theme.DIVERGING, 0.0
    trace = {
        "type": "heatmap",
        "z": as_list(v.T),  # (H, T)
        "x": list(range(T)),
        "y": list(range(H)),
        "zmin": zmin, "zmax": zmax_,
        "colorscale": scale,
        "xgap": 1 if T <= 60 else 0, "ygap": 1 if H <= 40 else 0,
        "colorbar": {"thickness": 10, "len": 0.9, "outlinewidth": 0, "title": {"text": name, "side": "top"}},
        "hovertemplate": f"step %{{x}}<br>unit %{{y}}<br>{name} = %{{z:.3f}}<extra></extra>",
    }
    if mid is not None:
        trace["zmid"] = mid
    xaxis = {"title": {"text": "time step t"}, "showgrid": False, "zeroline": False}
    if step_labels is not None and T <= 48:
        xaxis.update(tickmode="array", tickvals=list(range(T)), ticktext=[str(s) for s in step_labels])
    layout = theme.base_layout(
        title={"text": title or GATE_NAMES.get(name, name), "x": 0, "xanchor": "left", "font": {"size": 14}},
        xaxis=xaxis,
        yaxis={"title": {"text": "unit"}, "autorange": "reversed", "showgrid": False, "zeroline": False,
               "dtick": 1 if H <= 16 else None},
        margin={"l": 44, "r": 8, "t": 32, "b": 40},
    )
    return {"data": [trace], "layout": layout}


def hidden_heatmap_spec(h, *, step_labels=None, title: str = "Hidden state h<sub>t</sub>", zmax=None) -> dict:
    spec = heatmap_spec(h, "h", step_labels=step_labels, title=title, zmax=zmax)
    spec["layout"]["annotations"] = [{
        "text": theme.LEGEND, "showarrow": False, "xref": "paper", "yref": "paper", "x": 1, "y": 1.0,
        "xanchor": "right", "yanchor": "bottom", "font": {"size": 11, "color": theme.MUTED},
    }]
    return spec


def hidden_heatmap(trace_or_h, layer: int = 0, batch: int = 0, **kw):
    """A Plotly figure of h_t: units x time, blue positive, red negative."""
    return to_figure(hidden_heatmap_spec(_steps_by_units(trace_or_h, layer, batch, "h"), **kw))


def gate_heatmap(trace, gate: str, layer: int = 0, batch: int = 0, **kw):
    """A Plotly figure of one gate (i, f, g, o / r, z, n) or the LSTM cell state (c) over time."""
    return to_figure(heatmap_spec(_steps_by_units(trace, layer, batch, gate), gate, **kw))
