"""Optional third-party libraries (the ``apps`` extra), imported only when a function needs them.

``optional_import("pandas")`` returns the module, or raises ``MissingDependencyError`` whose message
tells the user what to install; the CLI prints that message as one clear line.
"""

from __future__ import annotations

import importlib

# module -> the pip extra that provides it
EXTRAS = {"pandas": "apps", "statsmodels": "apps", "sklearn": "apps", "plotly": "apps"}
PIP_NAMES = {"sklearn": "scikit-learn"}


class MissingDependencyError(ImportError):
    """A library of an optional extra is not installed."""

    def __init__(self, module: str, purpose: str = ""):
        extra = EXTRAS.get(module, "apps")
        name = PIP_NAMES.get(module, module)
        why = f" (needed for {purpose})" if purpose else ""
        super().__init__(f"{name} is not installed{why}: pip install 'rnnlab[{extra}]'")
        self.module = module


def optional_import(module: str, purpose: str = ""):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(module.split(".")[0], purpose) from None
