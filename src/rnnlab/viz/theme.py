"""The colours of every rnnlab figure: the same values as ``web/js/theme.js`` (a test compares them).

Diverging scale for activations, centred on 0: **blue positive, red negative** (ColorBrewer RdBu,
reversed so that blue is high).  Gates in [0, 1] (sigmoids) use the positive half only.
"""

from __future__ import annotations

POSITIVE = "#2166ac"  # strong blue
NEGATIVE = "#b2182b"  # strong red
ZERO = "#f7f7f7"  # the centre of the diverging scale
HIGHLIGHT = "#f59e0b"  # the current step
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
PRIMARY = "#4338ca"  # lines and bars that are not activations
PREDICTION = "#7c3aed"
TARGET = "#1f2937"
SURPRISAL = "#7c3aed"
BANDS = {  # temperature bands on the slider
    "conservative": "#0ea5e9",
    "balanced": "#10b981",
    "creative": "#f97316",
}
FONT_FAMILY = ('system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", '
               'sans-serif')

DIVERGING = [  # (position, colour) from -max (0.0) to +max (1.0)
    [0.0, "#b2182b"],
    [0.125, "#d6604d"],
    [0.25, "#f4a582"],
    [0.375, "#fddbc7"],
    [0.5, "#f7f7f7"],
    [0.625, "#d1e5f0"],
    [0.75, "#92c5de"],
    [0.875, "#4393c3"],
    [1.0, "#2166ac"],
]
SEQUENTIAL = [  # gates in [0, 1]: white (closed) to blue (open)
    [0.0, "#f7f7f7"],
    [0.25, "#d1e5f0"],
    [0.5, "#92c5de"],
    [0.75, "#4393c3"],
    [1.0, "#2166ac"],
]
LEGEND = "Blue: positive activations | Red: negative activations"


def base_layout(**overrides) -> dict:
    """The layout every figure starts from: system fonts, light grid, tight margins."""
    layout = {
        "font": {"family": FONT_FAMILY, "size": 12, "color": INK},
        "margin": {"l": 48, "r": 16, "t": 36, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {"gridcolor": GRID, "zerolinecolor": GRID},
        "yaxis": {"gridcolor": GRID, "zerolinecolor": GRID},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout
