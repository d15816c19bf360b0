"""Specs to Plotly figures: every view is first a plain ``{"data": [...], "layout": {...}}`` dict.

The dict is what the web server sends and what the page renders with ``Plotly.react``; in Python,
``to_figure`` wraps it in a ``plotly.graph_objects.Figure`` (plotly is imported only here, lazily)
that shows in a notebook and writes to HTML (``fig.write_html``) or PNG (``fig.write_image``,
with the optional ``kaleido`` package).
"""

from __future__ import annotations

import numpy as np


def to_figure(spec: dict):
    import plotly.graph_objects as go

    return go.Figure(spec)


def as_list(values) -> list:
    """Array-like -> nested lists of Python floats (what JSON and Plotly.js read)."""
    return np.asarray(values, dtype=np.float64).tolist()


def display_char(char: str) -> str:
    """A character as a visible label: space, newline and tab get symbols (the page does the same)."""
    special = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
    if char in special:
        return special[char]
    if len(char) == 1 and (ord(char) < 32 or ord(char) == 127):
        return f"\\x{ord(char):02x}"
    return char
