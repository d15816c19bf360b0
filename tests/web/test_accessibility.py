"""The page against axe-core's accessibility rules (WCAG A and AA), on a desktop and on a phone, after a
visitor has used it: every control named, text readable on its background, scrolling regions
reachable by keyboard, links told apart from text by more than colour."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from web.pages import open_page

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_the_used_page_has_no_accessibility_violations(browser, server_url, width, height):
    context, page, errors = open_page(browser, server_url + "/", width=width, height=height)
    page.select_option("[data-testid=cell-type]", "lstm")  # the gates' heatmap and the LSTM equations
    page.wait_for_function("() => document.querySelector('#math-forward').textContent.includes('tanh')", timeout=20000)
    page.get_by_test_id("generate").click()  # generated text, the top-10 chart, "how it works"
    page.wait_for_function("() => !document.querySelector('[data-testid=stop]').disabled || "
                           "document.querySelectorAll('#generated-output span').length > 20", timeout=20000)
    page.wait_for_function("() => document.querySelector('[data-testid=stop]').disabled", timeout=30000)
    page.get_by_role("button", name="Check the gradients").click()
    page.wait_for_selector(".grad-check", timeout=30000)
    page.wait_for_selector("[data-testid=app-seg-chars] .app-char", timeout=20000)
    violations = Axe().run(page).response["violations"]
    found = [f"{v['impact']} {v['id']}: {[n['target'] for n in v['nodes'][:5]]}" for v in violations]
    context.close()
    assert found == []
    assert errors == []


def test_the_page_without_a_model_has_no_accessibility_violations(browser, bare_server_url):
    context, page, errors = open_page(browser, bare_server_url + "/", width=390, height=844)
    page.wait_for_function("() => document.querySelector('#generated-output').textContent.includes('rnnlab train')",
                           timeout=20000)
    violations = Axe().run(page).response["violations"]
    context.close()
    assert [f"{v['id']}: {[n['target'] for n in v['nodes'][:5]]}" for v in violations] == []
    assert errors == []
