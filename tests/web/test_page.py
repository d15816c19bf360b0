"""The page in a real browser: loads cleanly and offline, steps through time, streams generation,
temperature moves entropy, keyboard stepping; screenshots at 1280x800 and 390x844."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

READY = "body[data-ready=true]"


class Watch:
    """Console errors, page errors and every request the page makes."""

    def __init__(self, page):
        self.errors, self.requests = [], []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("websocket", lambda ws: self.requests.append(ws.url))

    def outside(self, base: str) -> list[str]:
        return [u for u in self.requests if not (u.startswith(base + "/") or u.startswith("data:")
                                                 or u.startswith(base.replace("http", "ws") + "/"))]


@pytest.fixture(scope="module")
def app(browser, server_url):
    """One page for the module (loading Plotly once keeps the tests fast)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce")
    page = context.new_page()
    watch = Watch(page)
    page.goto(server_url + "/")
    page.wait_for_selector(READY, state="attached", timeout=20000)
    yield page, watch
    context.close()


def heatmap_filled(page) -> int:
    """How many heatmap cells are shown (the page hides the future steps)."""
    return page.evaluate("""() => document.getElementById('hidden-heatmap').data[0].z
        .reduce((n, row) => n + row.filter((v) => v !== null).length, 0)""")


def step_label(page) -> str:
    return page.get_by_test_id("step-label").inner_text()


def set_range(page, testid: str, value: float) -> None:
    page.eval_on_selector(f"[data-testid={testid}]", """(el, v) => { el.value = v;
        el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); }""", value)


def test_page_loads_with_every_section_no_console_error_and_no_outside_request(app, server_url, artifacts):
    page, watch = app
    for section in ["introduction", "visualizer", "generation", "math", "vanishing", "applications", "takeaways"]:
        assert page.locator(f"section#{section}").is_visible()
    page.get_by_test_id("math-forward").scroll_into_view_if_needed()
    page.wait_for_function("document.fonts.check('16px \"Latin Modern Math\"')", timeout=10000)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "page-1280x800-top.png"))
    assert page.locator("#hidden-heatmap .main-svg").count() > 0  # Plotly drew the heatmap
    assert page.locator("[data-testid=unrolled-diagram] svg .col").count() == 24
    legend = " ".join(page.get_by_test_id("heatmap-legend").text_content().split())
    assert legend == "Blue: positive activations | Red: negative activations"
    assert watch.errors == []
    assert watch.outside(server_url) == []


def test_changing_the_configuration_and_stepping_change_the_diagram_and_heatmap(app, artifacts):
    page, watch = app
    page.get_by_test_id("reset").click()
    diagram = page.get_by_test_id("unrolled-diagram")
    before = diagram.inner_html()
    page.get_by_test_id("cell-type").select_option("lstm")
    page.get_by_test_id("hidden-size").fill("12")
    page.get_by_test_id("hidden-size").dispatch_event("change")
    page.wait_for_selector("[data-testid=unrolled-diagram] svg[data-cell=lstm][data-hidden='12']")
    assert diagram.inner_html() != before
    assert page.locator("[data-testid=gate-heatmap]").is_visible()

    filled = heatmap_filled(page)
    assert filled == 12  # step 0: one column of 12 units
    current = page.locator("[data-testid=unrolled-diagram] .col.current").get_attribute("data-t")
    page.get_by_test_id("step-forward").click()
    page.get_by_test_id("step-forward").click()
    page.wait_for_function("document.getElementById('hidden-heatmap').dataset.step === '2'")
    assert heatmap_filled(page) == 3 * 12
    assert page.locator("[data-testid=unrolled-diagram] .col.current").get_attribute("data-t") == "2" != current
    page.get_by_test_id("step-back").click()
    page.wait_for_function("document.getElementById('hidden-heatmap').dataset.step === '1'")
    # values on hover
    page.locator("[data-testid=unrolled-diagram] .col").nth(4).hover()
    tip = page.locator("#tooltip")
    assert tip.is_visible() and "Step t = 4" in tip.inner_text() and "prediction" in tip.inner_text()
    page.mouse.move(5, 5)

    page.get_by_test_id("sequence-type").select_option("text")
    page.wait_for_function("document.querySelector('[data-testid=unrolled-diagram] text.xval').textContent === 'h'")
    assert page.get_by_test_id("sequence-example").locator("option").count() >= 3
    page.locator("#visualizer").scroll_into_view_if_needed()
    page.evaluate("document.getElementById('visualizer').scrollIntoView()")
    page.screenshot(path=str(artifacts / "visualizer-1280x800.png"))
    assert watch.errors == []


def test_keyboard_arrows_step_through_time(app):
    page, _ = app
    page.get_by_test_id("reset").click()
    page.locator("body").click(position={"x": 5, "y": 300})  # focus nothing that takes arrow keys
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert step_label(page).startswith("t = 3 ")
    page.keyboard.press("ArrowLeft")
    assert step_label(page).startswith("t = 2 ")
    assert page.get_by_test_id("math-forward").get_attribute("data-step") == "2"
    math_text = page.get_by_test_id("math-forward").inner_text()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.getElementById('math-forward').dataset.step === '3'")
    assert page.get_by_test_id("math-forward").inner_text() != math_text
    assert page.locator("[data-testid=math-forward] math").count() > 3


def bptt_numbers(page) -> tuple[str, float, float]:
    """From the BPTT panel: its "At step t = ..." line, ||dL/dh_t|| at that step, and the first/last ratio."""
    blocks = page.get_by_test_id("math-bptt").inner_text().split("At step t = ")[1]
    at_step, across = blocks.split("Across the sequence")
    return at_step.split(" ")[0], float(at_step.strip().splitlines()[-1]), float(across.strip().splitlines()[-1])


def test_bptt_panel_follows_the_step_and_its_numbers_agree(app):
    page, _ = app
    page.get_by_test_id("reset").click()
    page.locator("body").click(position={"x": 5, "y": 300})
    step, first_norm, ratio = bptt_numbers(page)
    assert step == "0" and first_norm > 0
    last = int(step_label(page).split("/")[1].split()[0])  # "t = 0 / 23": the last step's index
    for _ in range(last):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"document.getElementById('math-forward').dataset.step === '{last}'")
    step, last_norm, same_ratio = bptt_numbers(page)
    assert step == str(last) and last_norm != first_norm and same_ratio == ratio
    # the ratio shown is the quotient of the two norms shown (each rounded to 4 decimals)
    assert ratio == pytest.approx(first_norm / last_norm, rel=5e-3)


def test_bptt_equations_are_each_cells_own(app):
    """The backward equations shown are the cell's: the LSTM's cell path through the forget gate, the GRU's
    direct path through the update gate (one generic recursion was shown for all three before)."""
    page, _ = app
    bptt = page.get_by_test_id("math-bptt")
    shown = {}
    try:
        for cell in ("lstm", "gru", "rnn"):
            page.get_by_test_id("cell-type").select_option(cell)
            page.wait_for_function(f"document.getElementById('math-bptt').innerText.includes('{CELL_MARK[cell]}')",
                                   timeout=20000)
            shown[cell] = bptt.inner_text()
    finally:
        page.get_by_test_id("cell-type").select_option("rnn")
    assert "multiplied only by the forget gate" in shown["lstm"] and "gate order i, f, g, o" in shown["lstm"]
    assert "update gate" not in shown["lstm"] and "forget gate" not in shown["gru"]
    assert "through the tanh" in shown["rnn"] and "cell path" not in shown["rnn"]
    for text in shown.values():  # the engine's numbers are there for every cell
        assert "from the engine's backward pass" in text and "Across the sequence" in text


CELL_MARK = {"lstm": "The cell path", "gru": "straight through the update gate", "rnn": "through the tanh"}


def test_play_advances_and_pauses(app):
    page, _ = app
    page.get_by_test_id("reset").click()
    page.get_by_test_id("speed").select_option("16")
    page.get_by_test_id("play").click()
    page.wait_for_function("!document.querySelector('[data-testid=step-label]').textContent.startsWith('t = 0 ')")
    page.get_by_test_id("play").click()  # pause
    label = step_label(page)
    page.wait_for_timeout(300)
    assert step_label(page) == label


def test_training_in_the_page_draws_a_loss_curve_and_marks_the_weights_trained(app):
    page, watch = app
    page.get_by_test_id("sequence-type").select_option("sine")
    page.get_by_test_id("train-seconds").select_option("1")
    page.get_by_test_id("train").click()
    page.wait_for_function("document.querySelector('[data-testid=weights-status]').textContent.startsWith('trained')",
                           timeout=15000)
    page.wait_for_timeout(100)
    points = page.evaluate("document.querySelector('[data-testid=loss-curve]').data[0].y")
    assert len(points) > 3 and points[-1] < points[0]
    drawn = page.locator("[data-testid=loss-curve] .scatterlayer path.js-line").get_attribute("d")
    assert drawn and drawn.count("L") > 2  # the line is drawn, not only the axes
    # the log axis's labels read as the numbers they stand for: from the top down, each smaller
    ticks = page.evaluate("""() => [...document.querySelectorAll('[data-testid=loss-curve] .ytick text')]
        .map((t) => { const r = t.getBoundingClientRect(); return [r.top, r.bottom, t.textContent]; })""")
    ticks.sort()
    values = [float(text.replace("\u2212", "-")) for _, _, text in ticks]
    assert len(values) >= 2 and all(a > b for a, b in zip(values, values[1:])), [t[2] for t in ticks]
    assert all(upper[1] <= lower[0] + 1 for upper, lower in zip(ticks, ticks[1:])), ticks  # no label on another
    assert watch.errors == []


def test_generation_streams_and_the_top_10_chart_follows(app, artifacts):
    page, watch = app
    page.locator("#generation").scroll_into_view_if_needed()
    page.get_by_test_id("gen-length").fill("1500")
    page.get_by_test_id("gen-length").dispatch_event("change")
    # every step the chart shows while the text streams (reading it once after the first characters raced the
    # stream: on a fast run all 1,500 had arrived by then)
    page.evaluate("""() => { window.__chartSteps = [];
        new MutationObserver(() => window.__chartSteps.push(
            document.getElementById('next-char-distribution').getAttribute('data-step')))
          .observe(document.getElementById('next-char-distribution'), { attributes: true, attributeFilter: ['data-step'] }); }""")
    page.get_by_test_id("generate").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=generated-output] .ch').length === 1500", timeout=20000)
    page.wait_for_function("document.getElementById('gen-status').textContent.includes('characters/s')")
    chart = page.get_by_test_id("next-char-distribution")
    assert chart.get_attribute("data-source") == "run"
    assert chart.get_attribute("data-step") == "1499"
    shown = [int(v) for v in page.evaluate("window.__chartSteps") if v is not None]
    assert len(set(shown)) > 2 and shown == sorted(shown), shown  # it followed the stream forward, step by step
    bars = page.evaluate("document.getElementById('next-char-distribution').data[0].y")
    assert len(bars) == 10 and bars == sorted(bars, reverse=True)
    # a clicked character shows the distribution it was drawn from
    page.locator("[data-testid=generated-output] .ch").nth(7).click()
    page.wait_for_function("document.getElementById('next-char-distribution').dataset.step === '7'")
    how = page.locator("#how-it-works").inner_text()
    assert "Step 7" in how or "Character 7" in how
    assert "All 48 units of the layer" in how  # the fixture model: LSTM 1x48 (a stack says "the top layer (2 of 2)")
    page.get_by_role("button", name="Surprisal").click()
    assert page.locator("[data-testid=generated-output] .ch").nth(3).evaluate("e => e.style.background") != ""
    page.evaluate("document.getElementById('generation').scrollIntoView()")
    page.screenshot(path=str(artifacts / "generation-1280x800.png"))
    assert watch.errors == []


def entropy(page) -> float:
    return float(page.get_by_test_id("entropy-value").inner_text())


def test_moving_the_temperature_from_0_2_to_1_8_raises_the_entropy(app):
    page, _ = app
    set_range(page, "temperature", 0.2)
    page.wait_for_function("document.getElementById('next-char-distribution').dataset.source === 'prompt'")
    page.wait_for_function("document.querySelector('[data-testid=temperature-value]').textContent === '0.20'")
    page.wait_for_timeout(400)
    low = entropy(page)
    set_range(page, "temperature", 1.8)
    page.wait_for_function(f"parseFloat(document.querySelector('[data-testid=entropy-value]').textContent) !== {low}")
    high = entropy(page)
    assert high > low


def test_a_prompt_the_model_cannot_read_empties_the_charts_with_the_reason(browser, server_url):
    from web.pages import open_page

    context, page, _ = open_page(browser, server_url + "/#generation")  # its 422s are logged: not the shared page
    chart = "document.getElementById('next-char-distribution')"
    page.wait_for_function(f"{chart}.querySelector('.main-svg') !== null", timeout=20000)
    page.get_by_test_id("prompt").fill("snow \u2603")
    page.wait_for_function(f"({chart}.dataset.message || '').includes('\u2603')", timeout=20000)
    message = page.evaluate(f"{chart}.dataset.message")
    empty = page.evaluate(f"{chart}.childElementCount")
    page.get_by_test_id("prompt").fill("")
    page.wait_for_function(f"{chart}.dataset.message === undefined && {chart}.querySelector('.main-svg') !== null",
                           timeout=20000)
    context.close()
    assert message.startswith("No distribution: prompt: characters not in the model's vocabulary") and empty == 0


def test_when_the_server_has_stopped_the_page_says_so_in_words(browser):
    from web.conftest import serve
    from web.pages import open_page

    from rnnlab.server.settings import Settings

    server = serve(Settings(default_model=None))
    context, page, _ = open_page(browser, next(server) + "/")
    page.wait_for_selector("[data-testid=gradient-remedies] table", timeout=30000)
    next(server, None)  # past its yield: the server stops; the page stays open
    page.get_by_role("button", name="Check the gradients").click()
    page.wait_for_function("""() => { const t = document.querySelector('[data-testid=gradient-check-result]').innerText;
        return t.length > 0 && !t.includes('computing'); }""", timeout=20000)
    check = page.get_by_test_id("gradient-check-result").inner_text()
    page.select_option("[data-testid=cell-type]", "gru")
    page.wait_for_function("() => document.getElementById('trace-status').classList.contains('error')", timeout=20000)
    trace = page.locator("#trace-status").inner_text()
    context.close()
    assert "the server did not answer: is `rnnlab serve` still running?" in check
    assert "the server did not answer" in trace


def test_exploding_activations_are_named_under_the_heatmap_and_the_loss_stays_short(browser, server_url):
    from web.pages import open_page

    context, page, errors = open_page(browser, server_url + "/#visualizer")
    note = page.get_by_test_id("heatmap-scale-note")
    page.wait_for_function("() => document.getElementById('hidden-heatmap').data !== undefined", timeout=20000)
    assert note.is_hidden()  # tanh units fill ±1: nothing to explain
    page.get_by_test_id("activation").select_option("relu")
    page.get_by_test_id("init").select_option("identity")
    set_range(page, "recurrent-scale", 4)
    note.wait_for(state="visible", timeout=20000)
    title = page.evaluate("() => document.getElementById('prediction').layout.title.text")
    text = note.inner_text()
    page.wait_for_function("() => document.querySelector('#math-forward msup') !== null", timeout=20000)
    long_numbers = page.evaluate("""() => [...document.querySelectorAll('#math-forward mn, #math-bptt mn')]
        .map((n) => n.textContent).filter((t) => /\\d{7,}/.test(t))""")  # big numbers as m × 10^e
    context.close()
    assert "grow without bound" in text and "e+" in text
    assert long_numbers == []
    assert re.search(r"loss -?\d\.\d{2}e\+\d+", title), title  # not sixteen digits
    assert errors == []


def test_phone_layout_has_no_sideways_scroll(browser, server_url, artifacts):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  reduced_motion="reduce")
    page = context.new_page()
    watch = Watch(page)
    page.goto(server_url + "/")
    page.wait_for_selector(READY, state="attached", timeout=20000)
    page.screenshot(path=str(artifacts / "page-390x844-top.png"))
    for section in ("visualizer", "controls", "hidden-heatmap", "generation", "generated-output", "math"):
        page.evaluate(f"document.getElementById('{section}').scrollIntoView()")
        page.evaluate("window.scrollBy(0, -64)")  # below the top bar
        page.wait_for_timeout(150)
        page.screenshot(path=str(artifacts / f"{section}-390x844.png"))
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 391, f"the page is {width}px wide on a 390px screen"
    # the heatmap legend wraps here: its " | " separator is hidden rather than left at a line's end
    assert not page.locator("[data-testid=heatmap-legend] .sep").is_visible()
    assert page.locator("[data-testid=heatmap-legend] .li").nth(1).is_visible()
    assert watch.errors == [] and watch.outside(server_url) == []
    context.close()


def test_without_a_model_the_generation_section_says_so_and_the_rest_works(browser, bare_server_url):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce")
    page = context.new_page()
    watch = Watch(page)
    page.goto(bare_server_url + "/")
    page.wait_for_selector(READY, state="attached", timeout=20000)
    assert "No model is bundled" in page.get_by_test_id("no-model").inner_text()
    assert page.get_by_test_id("generate").is_disabled()
    assert not page.get_by_test_id("next-char-distribution").is_visible()
    page.get_by_test_id("step-forward").click()
    assert step_label(page).startswith("t = 1 ")
    assert watch.errors == []
    context.close()
