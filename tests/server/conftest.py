"""Fixtures for the API tests: a tiny trained char-LM on disk and apps built around it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from server.fixture_models import train_tiny_charlm

from rnnlab.server.app import create_app
from rnnlab.server.settings import Settings


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    return train_tiny_charlm(tmp_path_factory.mktemp("models") / "tiny.safetensors", steps=60)


@pytest.fixture(scope="session")
def client(tiny_model_path):
    app = create_app(Settings(default_model=None, models=(tiny_model_path,)))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def bare_client():
    """An app with no model at all (a fresh installation before the default model ships)."""
    app = create_app(Settings(default_model=None))
    with TestClient(app) as c:
        yield c
