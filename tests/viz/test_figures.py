"""rnnlab.viz: valid Plotly figures, the same colours as the page, blue positive and red negative."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab import viz
from rnnlab.engine import Recurrent, RecurrentConfig
from rnnlab.tasks import visualizer as vis
from rnnlab.viz import theme

THEME_JS = Path(rnnlab.__file__).parent / "web" / "js" / "theme.js"


def js_constant(name: str) -> str:
    match = re.search(rf'export const {name} = "([^"]+)";', THEME_JS.read_text())
    assert match, f"{name} not found in theme.js"
    return match.group(1)


@pytest.mark.parametrize("name", ["POSITIVE", "NEGATIVE", "ZERO", "HIGHLIGHT", "INK", "MUTED", "GRID", "PRIMARY",
                                  "PREDICTION", "TARGET", "SURPRISAL", "LEGEND"])
def test_python_theme_and_theme_js_agree(name):
    assert js_constant(name) == getattr(theme, name)


def test_diverging_scales_agree_and_run_from_red_through_white_to_blue():
    stops = re.findall(r"\[([0-9.]+), \"(#[0-9a-f]{6})\"\]", THEME_JS.read_text().split("export const DIVERGING")[1].split("];")[0])
    assert [[float(p), c] for p, c in stops] == theme.DIVERGING
    assert theme.DIVERGING[0][1] == theme.NEGATIVE and theme.DIVERGING[-1][1] == theme.POSITIVE
    assert theme.DIVERGING[4] == [0.5, theme.ZERO]


def lstm_trace(T=7, H=5):
    net = Recurrent(RecurrentConfig("lstm", 2, H), rng=np.random.default_rng(0), dtype=np.float64)
    _, _, cache = net.forward(np.random.default_rng(1).standard_normal((T, 1, 2)), record=True)
    return cache.trace


def test_hidden_heatmap_of_a_trace_has_units_as_rows_centred_on_zero():
    tr = lstm_trace()
    fig = viz.hidden_heatmap(tr)
    heat = fig.data[0]
    z = np.array(heat.z)
    assert z.shape == (5, 7)  # (H, T)
    np.testing.assert_allclose(z, tr.layers[0].h[:, 0].T)
    assert heat.zmid == 0 and heat.zmin == -heat.zmax
    assert heat.colorscale[-1][1] == theme.POSITIVE and heat.colorscale[0][1] == theme.NEGATIVE


def test_relu_units_widen_the_symmetric_colour_range():
    h = np.array([[0.0, 3.0], [-0.5, 1.0]])  # (T, H)
    spec = viz.hidden_heatmap_spec(h)
    assert spec["data"][0]["zmax"] == 3.0 and spec["data"][0]["zmin"] == -3.0


def test_sigmoid_gates_use_zero_to_one_and_candidates_are_diverging():
    tr = lstm_trace()
    forget = viz.gate_heatmap(tr, "f").data[0]
    assert (forget.zmin, forget.zmax) == (0.0, 1.0)
    candidate = viz.gate_heatmap(tr, "g").data[0]
    assert candidate.zmid == 0
    assert viz.gate_heatmap(tr, "c").data[0].zmid == 0


def test_heatmap_rejects_an_array_that_is_not_steps_by_units():
    with pytest.raises(ValueError, match=r"\(T, H\)"):
        viz.hidden_heatmap_spec(np.zeros(5))


def test_distribution_chart_shows_the_top_10_in_order_with_the_sampled_one_highlighted():
    chars = list("abcdefghijklmnop")
    probs = np.linspace(1, 2, len(chars))
    probs /= probs.sum()
    fig = viz.distribution_chart(chars + [" "], np.append(probs * 0.9, 0.1), sampled=" ")
    bar = fig.data[0]
    assert len(bar.x) == 10 and list(bar.x[:2]) == ["␣", "p"]
    assert list(bar.y) == sorted(bar.y, reverse=True)
    colours = dict(zip(bar.x, bar.marker.color))
    assert colours["␣"] == theme.HIGHLIGHT and colours["p"] == theme.PRIMARY


def test_entropy_curve_marks_the_current_temperature_and_the_three_bands():
    fig = viz.entropy_curve([0.5, 1.0, 2.0], [1.0, 2.0, 3.0], current=1.5)
    assert fig.data[1].y[0] == pytest.approx(2.5)
    assert len(fig.layout.shapes) == 3


def test_loss_curve_is_log_scale_and_takes_extra_curves():
    fig = viz.loss_curve([1, 2, 3], [3.0, 2.0, 1.0], extra={"validation": ([1, 3], [3.1, 1.5])})
    assert fig.layout.yaxis.type == "log" and len(fig.data) == 2 and fig.layout.showlegend


@pytest.fixture(scope="module")
def text_trace():
    seq = vis.make_sequence(vis.SequenceSpec("text", "hello", 12))
    return vis.trace_json(vis.SequenceModel.for_sequence(vis.NetworkSpec("gru", 6), seq), seq)


def test_unrolled_diagram_data_has_input_cell_output_per_step_and_recurrent_edges(text_trace):
    data = viz.unrolled_diagram_data(text_trace, current=3)
    assert len(data["nodes"]) == 3 * 12
    recurrent = [e for e in data["edges"] if e["kind"] == "recurrent"]
    assert len(recurrent) == 11 and recurrent[0] == {"from": "h0", "to": "h1", "kind": "recurrent"}
    assert data["nodes"][0]["label"] == "h" and data["nodes"][3]["label"] == "e"
    fig = viz.unrolled_diagram(text_trace, current=3)
    assert len(fig.layout.shapes) == 3 * 12


def test_prediction_chart_for_classification_and_regression(text_trace):
    assert viz.prediction_chart(text_trace).data[0].type == "bar"
    seq = vis.make_sequence(vis.SequenceSpec("sine", None, 10))
    reg = vis.trace_json(vis.SequenceModel.for_sequence(vis.NetworkSpec("rnn", 4), seq), seq)
    names = [d.name for d in viz.prediction_chart(reg).data]
    assert names == ["target", "prediction"]


def test_figures_write_to_html(tmp_path):
    path = tmp_path / "h.html"
    viz.hidden_heatmap(np.zeros((3, 2))).write_html(path, include_plotlyjs=False)
    assert "heatmap" in path.read_text()


def test_importing_viz_does_not_import_plotly():
    code = "import sys, rnnlab.viz; print('plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
