"""``require_torch()``: import torch for a parity test; skip locally if absent, fail under CI=true."""

from __future__ import annotations

import importlib
import os

import pytest


def require_torch():
    try:
        return importlib.import_module("torch")
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("torch must be installed under CI=true (pip install torch==2.13.0): parity tests may not skip")
        pytest.skip("torch not installed (pip install torch==2.13.0 to run the parity tests)")
