"""Shared pytest configuration: Hypothesis profiles (a 'ci' profile is loaded under CI=true)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "dev")


def pytest_collection_modifyitems(session, config, items):
    """Browser tests last.  Playwright's sync API keeps an event loop running in the main thread for
    the rest of the session, after which the server tests' ``asyncio.run`` would fail; alphabetical
    order (tests/web last) hid this, ``pytest tests/web tests/server`` did not."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)  # stable: order kept otherwise
