"""Section 5 in a real browser: three gradient curves, the controls change them, the gradient check agrees."""

from __future__ import annotations

import pytest
from web.pages import open_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def section(browser, server_url):
    context, page, errors = open_page(browser, server_url + "/")
    page.wait_for_function("document.getElementById('gradient-norms') && document.getElementById('gradient-norms').data",
                           timeout=20000)
    page.locator("section#vanishing").scroll_into_view_if_needed()
    yield page, errors
    context.close()


def curves(page) -> list[dict]:
    return page.evaluate("""() => document.getElementById('gradient-norms').data.map(
        (t) => ({ name: t.name, first: t.y[0], last: t.y[t.y.length - 1], n: t.y.length }))""")


def wait_for_curves(page, predicate: str) -> None:
    page.wait_for_function(f"""() => {{ const d = document.getElementById('gradient-norms').data;
        return d && ({predicate}); }}""", timeout=20000)


def set_range(page, testid: str, value: float) -> None:
    page.eval_on_selector(f"[data-testid={testid}]", """(el, v) => { el.value = v;
        el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); }""", value)


def test_three_cells_are_drawn_and_the_tanh_rnn_gradient_vanishes(section, artifacts):
    page, errors = section
    data = curves(page)
    assert [c["name"] for c in data] == ["Vanilla RNN", "LSTM", "GRU"]
    assert all(c["n"] == 50 for c in data)
    rnn = data[0]
    assert rnn["first"] < 1e-8 * rnn["last"]
    page.wait_for_selector("[data-testid=gradient-remedies] table", timeout=30000)
    page.locator("section#vanishing").screenshot(path=str(artifacts / "gradients-1280.png"))
    assert errors == []


def test_remedies_table_shows_the_forget_gate_bias_opening_the_lstm_path(section):
    page, _ = section
    table = page.get_by_test_id("gradient-remedies")
    table.locator("table").wait_for(timeout=30000)
    rows = {r.locator("th").inner_text(): r.locator("td").all_inner_texts() for r in table.locator("tr").all()[1:]}
    as_initialized = rows["Gating (LSTM), as initialized"]
    opened = rows["Gating (LSTM), forget-gate bias +2"]
    assert as_initialized[0] == opened[0]  # the same tanh RNN before
    after = [float(row[1].removeprefix("ratio ")) for row in (as_initialized, opened)]
    assert after[1] > 1e6 * after[0]


def test_forget_gate_bias_slider_lifts_the_lstm_curve_only(section):
    page, _ = section
    before = {c["name"]: c["first"] for c in curves(page)}
    set_range(page, "gradient-forget-bias", 3)
    wait_for_curves(page, f"d[1].y[0] > 100 * {before['LSTM']}")
    after = {c["name"]: c["first"] for c in curves(page)}
    assert after["Vanilla RNN"] == before["Vanilla RNN"] and after["GRU"] == before["GRU"]
    set_range(page, "gradient-forget-bias", 0)
    wait_for_curves(page, f"d[1].y[0] === {before['LSTM']}")


def test_sequence_length_scale_and_clipping_change_the_curves(section):
    page, _ = section
    set_range(page, "gradient-seq-len", 30)
    wait_for_curves(page, "d[0].y.length === 30")
    page.get_by_test_id("gradient-activation").select_option("relu")
    page.get_by_test_id("gradient-init").select_option("identity")
    set_range(page, "gradient-scale", 1.5)
    wait_for_curves(page, "d[0].y[0] > 1e3 * d[0].y[d[0].y.length - 1]")  # exploding
    page.get_by_test_id("gradient-clip").select_option("norm")
    wait_for_curves(page, "d.length === 6")  # a dashed, clipped curve per cell
    names = [c["name"] for c in curves(page)]
    assert "Vanilla RNN, clipped" in names


def test_gradient_check_shows_bptt_beside_finite_differences(section, artifacts):
    page, errors = section
    page.get_by_test_id("gradient-cell").select_option("lstm")
    page.get_by_test_id("gradient-check").click()
    result = page.get_by_test_id("gradient-check-result")
    result.locator("table").wait_for(timeout=30000)
    assert "finite differences agree" in result.inner_text()
    assert result.locator("tr").count() > 4
    page.locator("section#vanishing").screenshot(path=str(artifacts / "gradients-check-1280.png"))
    assert errors == []


def test_an_exploding_network_check_names_what_finite_differences_cannot_judge(browser, server_url):
    context, page, errors = open_page(browser, server_url + "/#vanishing")
    page.wait_for_selector("[data-testid=gradient-remedies] table", timeout=30000)
    page.get_by_test_id("gradient-activation").select_option("relu")
    page.get_by_test_id("gradient-init").select_option("identity")
    set_range(page, "gradient-seq-len", 30)
    set_range(page, "gradient-scale", 4)
    page.wait_for_function("() => document.querySelector('[data-testid=gradient-why]').innerText.includes('4.000 ×')",
                           timeout=20000)
    why = page.get_by_test_id("gradient-why").inner_text()
    page.get_by_test_id("gradient-check").click()
    badge = page.locator("[data-testid=gradient-check-result] .badge")
    badge.wait_for(timeout=30000)
    text, kind = badge.inner_text(), badge.get_attribute("class")
    context.close()
    assert "spectral radius of W_hh times the mean act′: 4.000 ×" in why  # the RNN's growth per step, from its numbers
    assert "agree on every parameter they can judge" in text and "cannot judge" in text and "warn" in kind
    assert "DISAGREE" not in text
    assert errors == []


@pytest.mark.parametrize("plot_id", ["gradient-norms", "gradient-product"])
def test_legend_and_axis_title_do_not_overlap(section, plot_id):
    """The running-product plot's legend once sat on top of its 'time step t' axis title."""
    page, _ = section
    page.wait_for_function(f"() => document.querySelector('#{plot_id} .legend') !== null", timeout=20000)
    boxes = page.evaluate(f"""() => {{
        const box = (sel) => {{ const r = document.querySelector('#{plot_id} ' + sel).getBoundingClientRect();
                               return [r.left, r.top, r.right, r.bottom]; }};
        return {{ legend: box('.legend'), title: box('.xtitle') }}; }}""")
    (l1, t1, r1, b1), (l2, t2, r2, b2) = boxes["legend"], boxes["title"]
    assert b2 > t2 and r2 > l2 and b1 > t1, boxes  # both drawn
    overlap = min(r1, r2) > max(l1, l2) and min(b1, b2) > max(t1, t2)
    assert not overlap, boxes


def test_remedy_numbers_never_break_across_lines_on_a_phone(browser, server_url):
    context, page, _ = open_page(browser, server_url + "/", width=390, height=844)
    page.wait_for_selector("[data-testid=gradient-remedies] table", timeout=30000)
    # each cell's last word (the number, e.g. 1.3e-16) as the browser lays it out: how many lines it spans
    cells = page.evaluate("""() => [...document.querySelectorAll('[data-testid=gradient-remedies] td')].map((td) => {
        const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
        let last = null;
        while (walk.nextNode()) last = walk.currentNode;
        const text = last.textContent, range = document.createRange();
        range.setStart(last, text.lastIndexOf(' ') + 1);
        range.setEnd(last, text.length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        return [td.innerText, tops.size];
    })""")
    context.close()
    assert len(cells) >= 14
    assert [text for text, lines in cells if lines != 1] == []
