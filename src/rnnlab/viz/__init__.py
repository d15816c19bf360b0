"""rnnlab.viz: the web app's views as Plotly figures for Python and notebooks.

    from rnnlab.viz import hidden_heatmap
    out, state, cache = net.forward(x, record=True)
    hidden_heatmap(cache.trace).show()            # or .write_html("h.html")

Every view is a plain ``*_spec`` dict first (what the web server sends to the page), wrapped in a
``plotly.graph_objects.Figure`` by the function without ``_spec``.  plotly is imported lazily.
"""

from .charts import (
    TEMPERATURE_BANDS,
    distribution_chart,
    distribution_spec,
    entropy_curve,
    entropy_curve_spec,
    loss_curve,
    loss_curve_spec,
    prediction_chart,
    prediction_spec,
)
from .figure import display_char, to_figure
from .heatmap import gate_heatmap, heatmap_spec, hidden_heatmap, hidden_heatmap_spec
from .unrolled import unrolled_diagram, unrolled_diagram_data

__all__ = [
    "TEMPERATURE_BANDS", "display_char", "to_figure",
    "heatmap_spec", "hidden_heatmap_spec", "hidden_heatmap", "gate_heatmap",
    "distribution_spec", "distribution_chart", "entropy_curve_spec", "entropy_curve",
    "loss_curve_spec", "loss_curve", "prediction_spec", "prediction_chart",
    "unrolled_diagram_data", "unrolled_diagram",
]
