"""Time-series forecasting with an RNN/LSTM/GRU regressor, against the baselines people would use.

The model reads a window of W scaled steps and predicts the next step at every position::

    x_t = [z_t, sin(2 pi t / m), cos(2 pi t / m)]      z_t scaled level (or difference) (C,), phase if periodic
    h_t = RNN(x_t, h_{t-1})                             (B, H)
    zhat_{t+1} = W_head h_t + b_head                    (B, C), trained with mean squared error

One-step forecasts read the true history; multi-step forecasts are *recursive*: each prediction is
fed back as the next input (the state carried on), so errors compound with the horizon k.

Baselines, all on the same test tail: last value (yhat_{t+k} = y_t), seasonal naive
(yhat_{t+k} = y_{t+k-m*ceil(k/m)}) and ARIMA(p, d, q) from statsmodels (order by AIC; d = 1 for
differenced series; Fourier terms of the season as regressors for calendar seasons).

Metrics on the test tail, per column then averaged: MAE, RMSE and MASE = MAE / s, where
s = mean |y_t - y_{t-1}| over the training part (the in-sample one-step naive error, Hyndman's
non-seasonal scale), so MASE < 1 beats the naive forecast's training-period error.
Proved by ``tests/tasks/test_forecast.py``.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..data.optional import optional_import
from ..data.timeseries import (
    Scaler,
    Series,
    SeriesError,
    TailSplit,
    model_space,
    season_features,
    tail_split,
    window_steps,
)
from ..engine import (
    Adam,
    AdamW,
    Recurrent,
    RecurrentConfig,
    State,
    check_params,
    clip_grad_norm,
    linear_backward,
    linear_forward,
    linear_init,
    mean_squared_error,
)

CELLS = ("rnn", "lstm", "gru")


# ---- data in model space ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ForecastData:
    """A series made ready for a network: inputs (N, I) and targets (N, C) in scaled model space."""

    series: Series
    split: TailSplit
    scaler: Scaler
    inputs: np.ndarray  # (N, I): z_t and the phase features
    targets: np.ndarray  # (N, C): z_t (targets[t + 1] is what is predicted at step t)
    offset: int  # first step with a real model-space value (1 for differences)
    harmonics: int

    @classmethod
    def build(cls, series: Series, split: TailSplit | None = None, harmonics: int = 1) -> ForecastData:
        split = split or tail_split(series.length)
        u = model_space(series.values, series.difference)  # (N, C)
        offset = 1 if series.difference else 0
        scaler = Scaler.fit(u[offset : split.n_train])  # training part only
        z = scaler.transform(u)  # (N, C)
        z[:offset] = 0.0
        inputs = z
        if series.periodic:
            inputs = np.concatenate([z, season_features(series.length, series.phase_period, harmonics)], axis=1)
        return cls(series, split, scaler, inputs, z, offset, harmonics)

    @property
    def input_size(self) -> int:
        return self.inputs.shape[1]

    @property
    def output_size(self) -> int:
        return self.targets.shape[1]

    def phase(self, t: np.ndarray) -> np.ndarray:
        """The phase features of steps t (B,) -> (B, 2K), or (B, 0) for a non-periodic series."""
        if not self.series.periodic:
            return np.zeros((len(t), 0))
        angle = 2 * np.pi * np.asarray(t)[:, None] * np.arange(1, self.harmonics + 1)[None, :] / self.series.phase_period
        return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)

    def to_values(self, z_path: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Predicted z (B, K, C) for steps origin+1 .. origin+K -> values y (B, K, C) in original units."""
        u = self.scaler.inverse(z_path)  # (B, K, C)
        if not self.series.difference:
            return u
        return self.series.values[origins][:, None, :] + np.cumsum(u, axis=1)  # (B, K, C)


# ---- the model ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ForecastConfig:
    cell: str = "gru"
    hidden_size: int = 32
    num_layers: int = 1
    window: int = 24  # W, steps read before a forecast
    batch_size: int = 32
    lr: float = 3e-3
    clip: float = 1.0
    weight_decay: float = 0.0

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if not 1 <= self.hidden_size <= 512:
            raise ValueError(f"hidden_size must be in [1, 512], got {self.hidden_size}")
        if self.window < 2:
            raise ValueError(f"window must be >= 2, got {self.window}")


class Forecaster:
    """RNN body + linear head; params keyed like PyTorch (``rnn.weight_ih_l0`` ..., ``head.weight``)."""

    def __init__(self, config: ForecastConfig, input_size: int, output_size: int,
                 params: dict[str, np.ndarray] | None = None, *, rng: np.random.Generator | None = None,
                 dtype=np.float32):
        self.config = config
        rcfg = RecurrentConfig(config.cell, input_size, config.hidden_size, config.num_layers)
        if params is None:
            rng = np.random.default_rng(0) if rng is None else rng
            body = Recurrent(rcfg, rng=rng, dtype=dtype).params
            weight, bias = linear_init(config.hidden_size, output_size, rng, dtype)
            params = {f"rnn.{k}": v for k, v in body.items()} | {"head.weight": weight, "head.bias": bias}
        else:
            check_params(rcfg, params, prefix="rnn.")
        self.params = params
        self.rnn = Recurrent(rcfg, {k[4:]: v for k, v in params.items() if k.startswith("rnn.")})

    def forward(self, x: np.ndarray, state: State | None = None):
        """x (T, B, I) -> (zhat (T, B, C), final State, caches)."""
        out, final, cache = self.rnn.forward(x.astype(self.rnn.dtype, copy=False), state)  # (T, B, H)
        pred = linear_forward(out, self.params["head.weight"], self.params["head.bias"])  # (T, B, C)
        return pred, final, (cache, out)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray):
        """Mean squared error of predicting y (T, B, C) from x (T, B, I); grads named like params."""
        pred, _, (cache, out) = self.forward(x)
        result = mean_squared_error(pred, y.astype(pred.dtype, copy=False))
        dout, dW, db = linear_backward(result.dlogits, out, self.params["head.weight"])  # dout (T, B, H)
        g = self.rnn.backward(cache, dout)
        return result.loss, {f"rnn.{k}": v for k, v in g.params.items()} | {"head.weight": dW, "head.bias": db}

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        for name, value in params.items():
            self.params[name][...] = value


# ---- training --------------------------------------------------------------------------------------

@dataclass
class TrainResult:
    model: Forecaster
    steps: int
    seconds: float
    best_step: int
    best_val: float  # validation MSE of one-step forecasts, scaled model space
    history: list[dict] = field(default_factory=list)  # {"step", "loss", "val"}


def _train_ends(data: ForecastData, window: int) -> np.ndarray:
    first = window - 1 + data.offset
    ends = np.arange(first, data.split.n_fit - 1)  # targets up to n_fit - 1
    if len(ends) < 1:
        raise SeriesError(f"the training part ({data.split.n_fit} steps) is shorter than one window of {window}; "
                          "use a smaller --window")
    return ends


def one_step_z(model: Forecaster, data: ForecastData, origins: np.ndarray, window: int) -> np.ndarray:
    """zhat_{t+1} for each origin t (B,) from the window ending at t -> (B, C)."""
    steps = window_steps(origins, window, data.series.length)  # (W, B)
    pred, _, _ = model.forward(data.inputs[steps])  # (W, B, C)
    return pred[-1].astype(np.float64)


def validation_mse(model: Forecaster, data: ForecastData, window: int) -> float:
    origins = np.arange(data.split.n_fit - 1, data.split.n_train - 1)
    if len(origins) == 0:
        return float("nan")
    zhat = one_step_z(model, data, origins, window)  # (B, C)
    return float(np.mean((zhat - data.targets[origins + 1]) ** 2))


def train_forecaster(data: ForecastData, config: ForecastConfig, *, seconds: float = 60.0,
                     max_steps: int = 3000, eval_every: int = 25, patience: int = 20, seed: int = 0,
                     on_eval: Callable[[dict], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Adam on random windows of the training part; keep the parameters with the best validation MSE.

    Stops at ``max_steps``, after ``seconds``, when validation has not improved for ``patience``
    evaluations, or when ``should_stop()`` says so (the web app's cancel button).
    """
    rng = np.random.default_rng(seed)
    window = min(config.window, data.split.n_fit - 1 - data.offset)
    model = Forecaster(config, data.input_size, data.output_size, rng=rng)
    optimizer = AdamW(lr=config.lr, weight_decay=config.weight_decay) if config.weight_decay else Adam(lr=config.lr)
    ends = _train_ends(data, window)
    best = (float("inf"), 0, copy.deepcopy(model.params))
    history: list[dict] = []
    start, step, bad_evals = time.perf_counter(), 0, 0
    while step < max_steps:
        step += 1
        batch = rng.choice(ends, size=min(config.batch_size, len(ends)), replace=False)  # (B,)
        steps = window_steps(batch, window, data.series.length)  # (W, B)
        loss, grads = model.loss_and_grads(data.inputs[steps], data.targets[steps + 1])
        clip_grad_norm(grads, config.clip)
        optimizer.step(model.params, grads)
        elapsed = time.perf_counter() - start
        done = step == max_steps or elapsed > seconds or (should_stop is not None and should_stop())
        if step % eval_every == 0 or done:
            val = validation_mse(model, data, window)
            record = {"step": step, "loss": loss, "val": val, "seconds": elapsed}
            history.append(record)
            if on_eval:
                on_eval(record)
            if val < best[0] or not np.isfinite(best[0]):
                best, bad_evals = (val, step, copy.deepcopy(model.params)), 0
            else:
                bad_evals += 1
            if bad_evals >= patience:
                done = True
        if done:
            break
    model.set_params(best[2])
    return TrainResult(model, step, time.perf_counter() - start, best[1], best[0], history)


# ---- forecasts -------------------------------------------------------------------------------------

def rnn_forecasts(model: Forecaster, data: ForecastData, origins: np.ndarray, horizon: int, window: int) -> np.ndarray:
    """Recursive forecasts of steps t+1 .. t+K for each origin t -> values (B, K, C)."""
    origins = np.asarray(origins)
    steps = window_steps(origins, window, data.series.length)  # (W, B)
    pred, state, _ = model.forward(data.inputs[steps])  # (W, B, C)
    z_next = pred[-1]  # (B, C)
    path = [z_next]
    for k in range(1, horizon):
        x = np.concatenate([z_next, data.phase(origins + k)], axis=1)[None]  # (1, B, I)
        pred, state, _ = model.forward(x, state)  # (1, B, C)
        z_next = pred[0]
        path.append(z_next)
    z_path = np.stack(path, axis=1).astype(np.float64)  # (B, K, C)
    return data.to_values(z_path, origins)


def last_value_forecasts(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """yhat_{t+k} = y_t -> (B, K, C)."""
    return np.repeat(values[origins][:, None, :], horizon, axis=1)


def seasonal_naive_forecasts(values: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """yhat_{t+k} = y_{t+k-m*ceil(k/m)}: the same step one season earlier, last season observed -> (B, K, C)."""
    k = np.arange(1, horizon + 1)  # (K,)
    lag = season * np.ceil(k / season).astype(int)  # (K,)
    steps = np.asarray(origins)[:, None] + k[None, :] - lag[None, :]  # (B, K)
    return values[steps]


ARIMA_GRIDS = ("auto", "full", "small", "none")


def arima_order_grid(size: str, n_train: int) -> list[tuple[int, int]]:
    """(p, q) pairs tried. 'full': p 0-3 x q 0-2 plus the long autoregressions AR(5), AR(8), AR(10)
    (sunspots' classic is AR(9)); 'small': p 1-3 x q 0-1; 'auto': full up to 600 training steps, else small
    (one fit on co2's 1,800 weekly steps takes seconds)."""
    if size == "auto":
        size = "full" if n_train <= 600 else "small"
    if size == "small":
        return [(p, q) for p in range(1, 4) for q in range(2)]
    if size == "full":
        return [(p, q) for p in range(4) for q in range(3)] + [(5, 0), (8, 0), (10, 0)]
    raise ValueError(f"ARIMA grid must be one of {ARIMA_GRIDS}, got {size!r}")


@dataclass
class ArimaFit:
    column: str
    order: tuple[int, int, int]
    aic: float
    results: object  # statsmodels ARIMAResults
    exog: np.ndarray | None  # (N, 2K) Fourier regressors for the whole series


def fit_arima(series: Series, split: TailSplit, column: int = 0, grid: str = "auto", harmonics: int = 3) -> ArimaFit:
    """ARIMA(p, d, q) on the training part, order by AIC; d = 1 (with drift) for differenced series."""
    arima_mod = optional_import("statsmodels.tsa.arima.model", "the ARIMA baseline")
    y = series.values[:, column]
    d = 1 if series.difference else 0
    exog = None
    if series.periodic:
        K = max(1, min(harmonics, series.season // 2))
        exog = season_features(series.length, series.phase_period, K)  # (N, 2K)
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p, q in arima_order_grid(grid, split.n_train):
            if p + q + d + 2 >= split.n_train // 3:
                continue
            try:
                model = arima_mod.ARIMA(y[: split.n_train], exog=None if exog is None else exog[: split.n_train],
                                        order=(p, d, q), trend="t" if d else "c")
                res = model.fit()
            except Exception:  # a non-stationary start or a singular fit: skip this order
                continue
            if np.isfinite(res.aic) and (best is None or res.aic < best.aic):
                best = ArimaFit(series.columns[column], (p, d, q), float(res.aic), res, exog)
    if best is None:
        raise SeriesError(f"no ARIMA order could be fitted to {series.name}:{series.columns[column]}")
    return best


def arima_forecasts(fit: ArimaFit, series: Series, column: int, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Forecasts of t+1 .. t+K from each origin t -> (B, K), the fitted parameters held fixed.

    The model is filtered once over the whole series; a dynamic prediction starting at t+1 then
    uses the data up to t only (the same numbers as refitting the filter on y_0..y_t and calling
    ``forecast``, ``tests/tasks/test_forecast.py``, and 50 times faster).
    """
    y = series.values[:, column]
    out = np.empty((len(origins), horizon))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = fit.results.apply(y, exog=fit.exog)
        if horizon == 1:  # plain one-step predictions read the true history
            pred = np.asarray(full.predict(start=int(min(origins)) + 1, end=int(max(origins)) + 1))
            return pred[np.asarray(origins) - int(min(origins))][:, None]
        for i, t in enumerate(origins):
            end = int(t) + horizon
            exog = None
            if end >= series.length and fit.exog is not None:  # forecasting past the data: future regressors
                extra = season_features(end + 1, series.phase_period, fit.exog.shape[1] // 2)
                exog = extra[series.length :]
            pred = full.get_prediction(start=int(t) + 1, end=end, dynamic=True, exog=exog)
            out[i] = np.asarray(pred.predicted_mean)
    return out


# ---- metrics -----------------------------------------------------------------------------------------

def mase_scale(values: np.ndarray, n_train: int) -> np.ndarray:
    """s (C,) = mean |y_t - y_{t-1}| over the training part."""
    scale = np.abs(np.diff(values[:n_train], axis=0)).mean(axis=0)  # (C,)
    return np.where(scale > 0, scale, 1.0)


@dataclass(frozen=True)
class Metrics:
    mae: float
    rmse: float
    mase: float

    def to_dict(self) -> dict:
        return {"mae": self.mae, "rmse": self.rmse, "mase": self.mase}


def metrics(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray) -> Metrics:
    """actual, predicted (..., C); per-column MAE, RMSE, MASE averaged over columns."""
    err = (predicted - actual).reshape(-1, actual.shape[-1])  # (N, C)
    mae = np.abs(err).mean(axis=0)  # (C,)
    rmse = np.sqrt((err**2).mean(axis=0))  # (C,)
    return Metrics(float(mae.mean()), float(rmse.mean()), float((mae / scale).mean()))


# ---- the whole comparison ----------------------------------------------------------------------------

@dataclass
class MethodResult:
    name: str
    one_step: Metrics
    multi_step: Metrics
    mae_by_step: list[float]  # (K,) MAE at horizon step k = 1..K (averaged over origins and columns)
    one_step_forecast: np.ndarray  # (n_test, C) values for the test tail
    path: np.ndarray  # (K, C) recursive forecast from the first test origin
    detail: str = ""
    train: TrainResult | None = None  # the network's training run (None for a baseline)


@dataclass
class ForecastReport:
    series: Series
    split: TailSplit
    horizon: int
    scale: np.ndarray  # (C,) MASE denominators
    methods: list[MethodResult]
    multi_origins: np.ndarray  # (B,) origins used for the multi-step metrics
    notes: list[str] = field(default_factory=list)

    def best(self, prefix: str = "") -> MethodResult:
        rows = [m for m in self.methods if m.name.startswith(prefix)]
        return min(rows, key=lambda m: m.one_step.mase)

    def to_dict(self) -> dict:
        return {
            "series": self.series.name, "columns": list(self.series.columns), "horizon": self.horizon,
            "n_train": self.split.n_train, "n_test": self.split.n_test, "notes": self.notes,
            "methods": [{"name": m.name, "one_step": m.one_step.to_dict(), "multi_step": m.multi_step.to_dict(),
                         "mae_by_step": m.mae_by_step, "detail": m.detail,
                         "validation_mse": None if m.train is None else m.train.best_val} for m in self.methods],
        }


def _method(name, data, one_step_pred, multi_pred, multi_origins, scale, detail=""):
    """one_step_pred (n_test, C), multi_pred (B, K, C) -> MethodResult."""
    y, split = data.series.values, data.split
    actual_multi = y[multi_origins[:, None] + np.arange(1, multi_pred.shape[1] + 1)[None, :]]  # (B, K, C)
    by_step = np.abs(multi_pred - actual_multi).mean(axis=(0, 2))  # (K,)
    return MethodResult(name, metrics(y[split.n_train :], one_step_pred, scale),
                        metrics(actual_multi, multi_pred, scale), [float(v) for v in by_step],
                        one_step_pred, multi_pred[0], detail)


def multi_step_origins(split: TailSplit, horizon: int, max_origins: int = 60) -> np.ndarray:
    """Origins t in [n_train - 1, N - 1 - K], evenly thinned to at most max_origins."""
    origins = np.arange(split.n_train - 1, split.n - horizon)
    if len(origins) == 0:
        raise SeriesError(f"the test tail ({split.n_test} steps) is shorter than the horizon {horizon}")
    if len(origins) > max_origins:
        origins = origins[np.linspace(0, len(origins) - 1, max_origins).round().astype(int)]
    return origins


def compare(series: Series, configs: list[ForecastConfig], *, horizon: int | None = None, seconds: float = 60.0,
            max_steps: int = 3000, seed: int = 0, arima: str = "auto", split: TailSplit | None = None,
            max_origins: int = 60, on_eval: Callable[[str, dict], None] | None = None,
            should_stop: Callable[[], bool] | None = None, baseline_cache: dict | None = None) -> ForecastReport:
    """Train one network per config and compare all of them with the baselines on the test tail.

    ``arima``: the order grid ("auto", "full", "small"; see ``arima_order_grid``) or "none" (skip ARIMA).
    ``baseline_cache``: a dict in which the baselines' results are kept and reused (they do not depend
    on the networks; the web app fits ARIMA once per series).
    """
    data = ForecastData.build(series, split)
    split = data.split
    if horizon is None:
        horizon = series.season if series.season > 1 else 8
    horizon = max(1, min(horizon, split.n_test))
    y = series.values
    scale = mase_scale(y, split.n_train)
    one_origins = np.arange(split.n_train - 1, split.n - 1)  # (n_test,)
    multi_origins = multi_step_origins(split, horizon, max_origins)
    report = ForecastReport(series, split, horizon, scale, [], multi_origins)

    for config in configs:
        result = train_forecaster(data, config, seconds=seconds, max_steps=max_steps, seed=seed,
                                  on_eval=None if on_eval is None else (lambda r, c=config: on_eval(c.cell, r)),
                                  should_stop=should_stop)
        window = min(config.window, split.n_fit - 1 - data.offset)
        one = rnn_forecasts(result.model, data, one_origins, 1, window)[:, 0]  # (n_test, C)
        multi = rnn_forecasts(result.model, data, multi_origins, horizon, window)  # (B, K, C)
        detail = (f"{config.cell} H={config.hidden_size} W={window}, {result.steps} steps in {result.seconds:.0f}s, "
                  f"best at step {result.best_step}")
        method = _method(config.cell.upper(), data, one, multi, multi_origins, scale, detail)
        method.train = result
        report.methods.append(method)

    key = (series.name, series.length, split, horizon, arima, max_origins)
    if baseline_cache is not None and key in baseline_cache:
        baselines, notes = baseline_cache[key]
    else:
        baselines, notes = _baselines(data, one_origins, multi_origins, horizon, scale, arima)
        if baseline_cache is not None:
            baseline_cache[key] = (baselines, notes)
    report.methods += baselines
    report.notes += notes
    return report


def _baselines(data: ForecastData, one_origins, multi_origins, horizon, scale, arima) -> tuple[list, list]:
    series, split, y = data.series, data.split, data.series.values
    methods, notes = [], []
    methods.append(_method("last value", data, last_value_forecasts(y, one_origins, 1)[:, 0],
                           last_value_forecasts(y, multi_origins, horizon), multi_origins, scale))
    if series.season > 1:
        methods.append(_method(f"seasonal naive (m={series.season})", data,
                               seasonal_naive_forecasts(y, one_origins, 1, series.season)[:, 0],
                               seasonal_naive_forecasts(y, multi_origins, horizon, series.season),
                               multi_origins, scale))
    else:
        notes.append("no season (m = 1): the seasonal naive forecast equals the last value")
    if arima != "none":
        one_cols, multi_cols, orders = [], [], []
        for c in range(y.shape[1]):
            fit = fit_arima(series, split, c, grid=arima)
            orders.append(f"{fit.column}: ARIMA({','.join(map(str, fit.order))})")
            one_cols.append(arima_forecasts(fit, series, c, one_origins, 1)[:, 0])
            multi_cols.append(arima_forecasts(fit, series, c, multi_origins, horizon))
        detail = "; ".join(orders) + (" + Fourier season" if series.periodic else "")
        name = "ARIMA" if y.shape[1] > 1 else "ARIMA{}".format(orders[0].split("ARIMA")[1])
        methods.append(_method(name, data, np.stack(one_cols, axis=1), np.stack(multi_cols, axis=2),
                               multi_origins, scale, detail))
    return methods, notes
