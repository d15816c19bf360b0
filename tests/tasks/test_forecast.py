"""Forecasting: gradients, no leakage from the test tail, exact baselines and metrics, a network that learns."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data.timeseries import Series, load_series, tail_split
from rnnlab.engine import numerical_gradient, relative_error
from rnnlab.tasks.forecast import (
    ForecastConfig,
    ForecastData,
    Forecaster,
    arima_forecasts,
    compare,
    fit_arima,
    last_value_forecasts,
    mase_scale,
    metrics,
    rnn_forecasts,
    seasonal_naive_forecasts,
    train_forecaster,
)


def sine_series(n=240, noise=0.05, seed=0, difference=False, trend=0.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = np.sin(2 * np.pi * t / 12) + trend * t + noise * rng.standard_normal(n)
    return Series("sine", t, y[:, None], ("y",), season=12, periodic=True, difference=difference, window=16)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forecaster_gradients_match_finite_differences(cell):
    rng = np.random.default_rng(1)
    model = Forecaster(ForecastConfig(cell=cell, hidden_size=3, window=4), 2, 2, rng=rng, dtype=np.float64)
    x, y = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    _, grads = model.loss_and_grads(x, y)
    for name, value in model.params.items():
        err = relative_error(grads[name], numerical_gradient(lambda: model.loss_and_grads(x, y)[0], value))
        assert err < 1e-6, f"{name}: {err:.2e}"


def test_scaling_is_fitted_on_the_training_part_only():
    series = sine_series()
    changed = Series(series.name, series.time, series.values.copy(), series.columns, season=12, periodic=True)
    split = tail_split(series.length)
    changed.values[split.n_train :] += 1000.0  # a wild test tail
    a, b = ForecastData.build(series, split), ForecastData.build(changed, split)
    np.testing.assert_array_equal(a.scaler.mean, b.scaler.mean)
    np.testing.assert_array_equal(a.inputs[: split.n_train], b.inputs[: split.n_train])


def test_predicted_differences_accumulate_from_the_last_observed_value():
    series = sine_series(difference=True, trend=0.1)
    data = ForecastData.build(series)
    origins = np.array([150, 160])
    true_z = data.targets[origins[:, None] + np.arange(1, 4)[None, :]]  # (B, K, C) the true next differences
    np.testing.assert_allclose(data.to_values(true_z, origins), series.values[origins[:, None] + np.arange(1, 4)])


def test_baselines_are_exact():
    y = np.arange(30, dtype=float)[:, None]
    np.testing.assert_array_equal(last_value_forecasts(y, np.array([9]), 3)[0, :, 0], [9, 9, 9])
    season = seasonal_naive_forecasts(y, np.array([9]), 5, 4)[0, :, 0]
    np.testing.assert_array_equal(season, [6, 7, 8, 9, 6])  # the last observed season, repeated


def test_mase_is_one_for_the_naive_forecast_when_test_steps_look_like_training():
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.choice([-1.0, 1.0], size=400))[:, None]  # every step has |change| = 1
    scale = mase_scale(y, 300)
    m = metrics(y[300:], y[299:-1], scale)
    assert scale[0] == 1.0 and m.mase == pytest.approx(1.0) and m.mae == pytest.approx(1.0)
    assert metrics(y[300:], y[300:], scale).rmse == 0.0


def test_a_gru_learns_a_noisy_seasonal_series_better_than_the_baselines():
    series = sine_series(noise=0.1)
    data = ForecastData.build(series)
    result = train_forecaster(data, ForecastConfig(hidden_size=16, window=16, lr=1e-2), max_steps=150, seed=0)
    origins = np.arange(data.split.n_train - 1, series.length - 1)
    pred = rnn_forecasts(result.model, data, origins, 1, 16)[:, 0]
    scale = mase_scale(series.values, data.split.n_train)
    rnn = metrics(series.values[origins + 1], pred, scale).mase
    naive = metrics(series.values[origins + 1], series.values[origins], scale).mase
    assert rnn < 0.5 * naive, (rnn, naive)
    assert result.best_val < 0.2 and result.history


def test_recursive_forecasts_start_with_the_one_step_forecast():
    series = sine_series()
    data = ForecastData.build(series)
    model = Forecaster(ForecastConfig(hidden_size=4, window=8), data.input_size, data.output_size)
    origins = np.array([200, 210])
    one = rnn_forecasts(model, data, origins, 1, 8)
    multi = rnn_forecasts(model, data, origins, 6, 8)
    assert multi.shape == (2, 6, 1)
    np.testing.assert_allclose(multi[:, :1], one, rtol=1e-5)


def test_training_can_be_cancelled():
    data = ForecastData.build(sine_series())
    result = train_forecaster(data, ForecastConfig(hidden_size=4, window=8), max_steps=1000, should_stop=lambda: True)
    assert result.steps == 1


def test_arima_dynamic_forecasts_equal_refitting_the_filter_on_the_history():
    series = load_series("nile")
    split = tail_split(series.length)
    fit = fit_arima(series, split, 0, grid="small")
    origin = split.n_train + 3
    fast = arima_forecasts(fit, series, 0, np.array([origin]), 5)[0]
    slow = fit.results.apply(series.values[: origin + 1, 0]).forecast(5)
    np.testing.assert_allclose(fast, np.asarray(slow), rtol=1e-6)
    one = arima_forecasts(fit, series, 0, np.array([origin]), 1)[0, 0]
    assert one == pytest.approx(fast[0], rel=1e-6)


def test_compare_reports_every_network_and_baseline_on_the_same_tail():
    series = sine_series(n=150)
    report = compare(series, [ForecastConfig(cell="gru", hidden_size=4, window=8)], horizon=6, max_steps=20,
                     arima="none")
    names = [m.name for m in report.methods]
    assert names == ["GRU", "last value", "seasonal naive (m=12)"]
    for m in report.methods:
        assert m.one_step_forecast.shape == (report.split.n_test, 1) and len(m.mae_by_step) == 6
        assert np.isfinite([m.one_step.mase, m.multi_step.mase]).all()
    assert report.to_dict()["methods"][0]["name"] == "GRU"
