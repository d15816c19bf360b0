"""Test helper for the browser tests: open the page as a visitor would, and keep what the console says.

    context, page, errors = open_page(browser, server_url + "/#applications", width=390, height=844)

The page is ready when the app sets ``body[data-ready=true]`` (``web/js/main.js``); ``errors`` fills
with every console error and uncaught exception from then on, so a test can assert it stays empty.
"""

from __future__ import annotations

READY = "body[data-ready=true]"


def open_page(browser, url: str, width: int = 1280, height: int = 800, **context_args):
    context = browser.new_context(viewport={"width": width, "height": height}, reduced_motion="reduce", **context_args)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector(READY, state="attached", timeout=30000)
    return context, page, errors
