"""Section 6 in a real browser: train a language model on the page's text and generate with it, forecast a
series against the baselines, watch the sentiment of a typed sentence form word by word, and see a text's
spaces put back by a tagger."""

from __future__ import annotations

import pytest
from web.pages import open_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def section(browser, server_url):
    context, page, errors = open_page(browser, server_url + "/")
    page.wait_for_selector("[data-testid=app-lm-train]", timeout=20000)
    page.locator("section#applications").scroll_into_view_if_needed()
    yield page, errors
    context.close()


def test_every_hook_is_on_the_page(section):
    page, errors = section
    for hook in ("app-lm-text", "app-lm-train", "app-lm-loss", "app-ts-dataset", "app-ts-train", "app-ts-forecast",
                 "app-cls-input", "app-cls-result", "app-seg-input", "app-seg-result"):
        assert page.get_by_test_id(hook).count() == 1, hook
    assert errors == []


def test_a_language_model_trains_with_a_live_loss_curve_then_generates(section, artifacts):
    page, errors = section
    assert len(page.get_by_test_id("app-lm-text").input_value()) > 200
    page.get_by_test_id("app-lm-sample-text").click()
    page.wait_for_function("() => document.querySelector('[data-testid=app-lm-text]').value.length > 10000", timeout=10000)
    page.locator("#app-lm select[aria-label='Training time']").select_option("5")
    page.get_by_test_id("app-lm-train").click()
    page.wait_for_function("""() => { const d = document.querySelector('[data-testid=app-lm-loss]').data;
        return d && d[1].y.length >= 2; }""", timeout=30000)
    page.wait_for_function("() => !document.querySelector('[data-testid=app-lm-generate]').disabled", timeout=30000)
    assert "step" in page.get_by_test_id("app-lm-sample").inner_text()
    # the step whose network was kept: named in the status and marked on the loss chart, at a validation minimum
    kept = page.wait_for_function("""() => { const d = document.querySelector('[data-testid=app-lm-loss]');
        const s = d.layout && d.layout.shapes; return s && s.length === 1 && s[0].x0; }""", timeout=10000).json_value()
    assert f"at step {kept}; Generate uses the network of that step" in page.locator("#app-lm .status").inner_text()
    steps, val = page.evaluate("() => { const d = document.querySelector('[data-testid=app-lm-loss]').data[1]; return [d.x, d.y]; }")
    assert val[steps.index(kept)] == min(val)
    page.get_by_test_id("app-lm-generate").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=app-lm-top10] li').length === 10", timeout=20000)
    assert len(page.get_by_test_id("app-lm-output").inner_text()) > 20
    page.locator("#app-lm").screenshot(path=str(artifacts / "applications-lm-1280.png"))
    assert errors == []


def test_training_long_on_the_short_default_text_explains_the_overfitting(browser, server_url):
    context, page, errors = open_page(browser, server_url + "/#applications")
    page.wait_for_selector("[data-testid=app-lm-train]", timeout=20000)
    assert len(page.get_by_test_id("app-lm-text").input_value()) < 2000  # the short default paragraph
    page.locator("#app-lm select[aria-label='Training time']").select_option("5")
    page.get_by_test_id("app-lm-train").click()
    page.wait_for_function("() => !document.querySelector('[data-testid=app-lm-generate]').disabled", timeout=30000)
    status = page.locator("#app-lm .status").inner_text()
    context.close()
    assert "by heart" in status and "(overfitting)" in status, status
    assert errors == []


def test_a_forecast_is_drawn_against_actual_with_the_baselines_table(section, artifacts):
    page, errors = section
    page.get_by_test_id("app-ts-dataset").select_option("nile")
    page.get_by_test_id("app-ts-train").click()
    page.wait_for_selector("[data-testid=app-ts-metrics] table", timeout=60000)
    names = page.evaluate("() => document.querySelector('[data-testid=app-ts-forecast]').data.map((t) => t.name)")
    assert names[:3] == ["history", "actual (test tail)", "GRU"] and any(n.startswith("ARIMA") for n in names)
    assert "last value" in page.get_by_test_id("app-ts-metrics").inner_text()
    title = page.evaluate("() => document.querySelector('[data-testid=app-ts-forecast]').layout.title.text")
    assert title.startswith("nile [volume]: ")  # the column, when it is not the series' own name
    page.locator("#app-ts").screenshot(path=str(artifacts / "applications-forecast-1280.png"))
    assert errors == []


def test_the_sentiment_of_a_typed_sentence_forms_word_by_word(section, artifacts):
    page, errors = section
    box = page.get_by_test_id("app-cls-input")
    box.fill("")
    box.type("a dull and lifeless film")
    page.wait_for_function("""() => document.querySelectorAll('[data-testid=app-cls-result] .app-word').length === 5""",
                           timeout=20000)
    assert "rotten" in page.get_by_test_id("app-cls-result").inner_text()
    box.fill("a wonderful , moving film")
    page.wait_for_function("""() => document.querySelector('[data-testid=app-cls-result]').innerText.includes('fresh')""",
                           timeout=20000)
    page.locator("#app-cls").screenshot(path=str(artifacts / "applications-sentiment-1280.png"))
    assert errors == []


def test_a_typed_text_loses_its_spaces_and_the_network_puts_them_back(section, artifacts):
    page, errors = section
    result = page.get_by_test_id("app-seg-result")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=app-seg-chars] .app-char').length > 0",
                           timeout=20000)
    box = page.get_by_test_id("app-seg-input")
    box.fill("The film is funny and the story is good.")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=app-seg-chars] .app-char').length === 32",
                           timeout=20000)
    chars = page.locator("[data-testid=app-seg-chars] .app-char")
    assert "".join(chars.all_inner_texts()) == "Thefilmisfunnyandthestoryisgood."
    segmented = page.get_by_test_id("app-seg-text").inner_text()
    assert segmented.replace(" ", "") == "Thefilmisfunnyandthestoryisgood." and segmented.count(" ") >= 5
    # the bars are where the network starts a word: as many as the spaces it put back
    assert page.locator("[data-testid=app-seg-chars] .app-char.cut").count() == segmented.count(" ")
    text = result.inner_text()
    assert "of 32 characters tagged right" in text and "held-out review text" in text
    box.fill("   ")
    page.wait_for_function("() => document.querySelector('[data-testid=app-seg-result]').innerText.includes('Type a text')",
                           timeout=20000)
    box.fill("A charming and funny film that never forgets its heart.")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=app-seg-chars] .app-char').length === 46",
                           timeout=20000)
    page.locator("#app-seg").screenshot(path=str(artifacts / "applications-labelling-1280.png"))
    assert errors == []


def test_the_section_fits_a_phone(browser, server_url, artifacts):
    context, page, _ = open_page(browser, server_url + "/#applications", width=390, height=844)
    page.wait_for_selector("[data-testid=app-lm-train]", timeout=20000)
    width = page.evaluate("() => document.querySelector('#applications').scrollWidth")
    assert width <= 390
    page.locator("section#applications").screenshot(path=str(artifacts / "applications-390.png"))
    context.close()


def test_on_a_phone_the_labelled_text_breaks_lines_only_where_the_network_cuts(browser, server_url):
    context, page, _ = open_page(browser, server_url + "/#applications", width=390, height=844)
    page.wait_for_selector("[data-testid=app-seg-chars] .app-char", timeout=30000)
    # every character that starts a new line, and whether the network put a word boundary there
    starts = page.evaluate("""() => {
        const chars = [...document.querySelectorAll('[data-testid=app-seg-chars] .app-char')];
        return chars.slice(1).map((c, i) => [c.getBoundingClientRect().top > chars[i].getBoundingClientRect().top + 4,
                                             c.classList.contains('cut'), c.textContent])
                    .filter(([newLine]) => newLine);
    }""")
    context.close()
    assert len(starts) >= 2  # the default sentence wraps on a phone
    assert [text for _, cut, text in starts if not cut] == []
