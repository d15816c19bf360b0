"""The application commands end to end on small data: tables, plots, clear errors, the missing-extra message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.cli.main import main
from rnnlab.data import optional


def seasonal_csv(tmp_path, n=120):
    rng = np.random.default_rng(0)
    lines = ["date,load"] + [f"{np.datetime64('2021-01-01') + i},{np.sin(2 * np.pi * i / 7) + 0.1 * rng.standard_normal():.4f}"
                             for i in range(n)]
    path = tmp_path / "load.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_forecast_prints_the_table_and_writes_plot_and_json(tmp_path, capsys):
    csv = seasonal_csv(tmp_path)
    plot, numbers = tmp_path / "f.png", tmp_path / "f.json"
    code = main(["forecast", str(csv), "--season", "7", "--steps", "30", "--arima", "none", "--hidden", "8",
                 "--plot", str(plot), "--json", str(numbers)])
    out = capsys.readouterr().out
    assert code == 0
    assert "GRU" in out and "last value" in out and "seasonal naive (m=7)" in out and "MASE" in out
    assert plot.stat().st_size > 10_000
    names = [m["name"] for m in json.loads(numbers.read_text())["methods"]]
    assert names == ["GRU", "last value", "seasonal naive (m=7)"]


@pytest.mark.parametrize("argv,message", [
    (["forecast", "sunspot"], "neither a dataset"),
    (["forecast", "nile", "--cell", "transformer"], "--cell must be"),
    (["forecast", "nile", "--hidden", "0"], "--hidden must be"),
])
def test_forecast_bad_input_is_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_apps_extra_tells_the_user_what_to_install(monkeypatch, capsys):
    def missing(module, purpose=""):
        raise optional.MissingDependencyError(module.split(".")[0], purpose)

    monkeypatch.setattr("rnnlab.data.timeseries.optional_import", missing)
    assert main(["forecast", "nile"]) == 2
    assert "pip install 'rnnlab[apps]'" in capsys.readouterr().err
