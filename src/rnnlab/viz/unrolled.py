"""The RNN unrolled through time, as data (boxes and arrows) and as a Plotly figure.

For each step t: the input x_t (bottom) -> the cell (middle, holding h_t) -> the output y_t (top),
and a recurrent arrow from the cell at t-1 to the cell at t.  The web page draws the same layout
as hand-built SVG (``web/js/views/unrolled.js``); this module gives it to Python users.
Proved by ``tests/viz/test_figures.py``.
"""

from __future__ import annotations

import numpy as np

from . import theme
from .figure import display_char, to_figure

STEP_WIDTH, ROW = 1.0, 1.0  # layout units


def unrolled_diagram_data(trace: dict, *, current: int | None = None, max_units: int = 6) -> dict:
    """From ``tasks.visualizer.trace_json``: nodes (x_t, h_t, y_t for each t) and edges."""
    seq = trace["sequence"]
    h = np.asarray(trace["hidden"], dtype=np.float64)  # (T, H)
    T = seq["length"]
    nodes, edges = [], []
    for t in range(T):
        x0 = t * STEP_WIDTH
        units = h[t, :max_units].round(3).tolist()
        nodes.append({"id": f"x{t}", "kind": "input", "t": t, "x": x0, "y": 0.0,
                      "label": display_char(seq["input_labels"][t])})
        nodes.append({"id": f"h{t}", "kind": "cell", "t": t, "x": x0, "y": ROW, "label": f"h{t}",
                      "values": units, "norm": float(np.linalg.norm(h[t]))})
        nodes.append({"id": f"y{t}", "kind": "output", "t": t, "x": x0, "y": 2 * ROW,
                      "label": display_char(trace["predicted_labels"][t]),
                      "target": display_char(seq["target_labels"][t])})
        edges += [{"from": f"x{t}", "to": f"h{t}", "kind": "input"}, {"from": f"h{t}", "to": f"y{t}", "kind": "output"}]
        if t > 0:
            edges.append({"from": f"h{t - 1}", "to": f"h{t}", "kind": "recurrent"})
    return {"cell": trace["network"]["cell"], "steps": T, "current": current, "nodes": nodes, "edges": edges}


def unrolled_diagram(trace: dict, *, current: int | None = None, max_steps: int = 16):
    """A Plotly drawing of the unrolled network (the first `max_steps` steps)."""
    data = unrolled_diagram_data(trace, current=current)
    pos = {n["id"]: n for n in data["nodes"] if n["t"] < max_steps}
    shapes, annotations = [], []
    for n in pos.values():
        is_current = n["t"] == current
        fill = {"input": "#ffffff", "cell": "#eef2ff", "output": "#ffffff"}[n["kind"]]
        shapes.append({"type": "rect", "x0": n["x"] - 0.32, "x1": n["x"] + 0.32, "y0": n["y"] - 0.22,
                       "y1": n["y"] + 0.22, "fillcolor": fill,
                       "line": {"color": theme.HIGHLIGHT if is_current else theme.MUTED, "width": 3 if is_current else 1}})
        annotations.append({"x": n["x"], "y": n["y"], "text": n["label"], "showarrow": False, "font": {"size": 13}})
    for e in data["edges"]:
        a, b = pos.get(e["from"]), pos.get(e["to"])
        if a is None or b is None:
            continue
        if e["kind"] == "recurrent":
            tail, head = (a["x"] + 0.32, a["y"]), (b["x"] - 0.32, b["y"])
        else:
            tail, head = (a["x"], a["y"] + 0.22), (b["x"], b["y"] - 0.22)
        annotations.append({"x": head[0], "y": head[1], "ax": tail[0], "ay": tail[1], "xref": "x", "yref": "y",
                            "axref": "x", "ayref": "y", "showarrow": True, "arrowhead": 2, "arrowwidth": 1.4,
                            "arrowcolor": theme.PRIMARY if e["kind"] == "recurrent" else theme.MUTED, "text": ""})
    n_steps = min(max_steps, data["steps"])
    layout = theme.base_layout(shapes=shapes, annotations=annotations, showlegend=False,
                               xaxis={"visible": False, "range": [-0.6, n_steps - 0.4]},
                               yaxis={"visible": False, "range": [-0.5, 2.5], "scaleanchor": "x"},
                               title={"text": f"{data['cell'].upper()} unrolled through time", "x": 0},
                               height=320, width=max(360, 90 * n_steps))
    return to_figure({"data": [], "layout": layout})
