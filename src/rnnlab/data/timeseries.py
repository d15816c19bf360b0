"""Real time series for forecasting: the bundled datasets, user CSVs, a held-out tail, scaling, windows.

Datasets that install offline with their packages (nothing is downloaded):

| name       | source                                          | steps | season m | modelled as  |
|------------|-------------------------------------------------|-------|----------|--------------|
| `sunspots` | statsmodels `datasets.sunspots`, yearly 1700-2008 | 309   | 11 (cycle) | levels     |
| `co2`      | statsmodels `datasets.co2`, weekly Mauna Loa 1958-2001, 59 gaps filled | 2284 | 52 | differences |
| `nile`     | statsmodels `datasets.nile`, yearly flow 1871-1970 | 100  | 1        | levels       |
| `elnino`   | statsmodels `datasets.elnino`, monthly sea-surface temperature 1950-2010 | 732 | 12 | levels |
| `stocks`   | plotly `data.stocks()`, weekly prices of 6 tech stocks 2018-2019 | 105 | 1 | differences |

Any CSV with a time column and one or more numeric value columns works too (``load_csv_series``).

The split keeps time order: ``[0, n_fit)`` trains the network, ``[n_fit, n_train)`` validates it (early
stopping), ``[n_train, N)`` is the held-out test tail. The scaler is fitted on ``[0, n_train)`` only,
so nothing of the test tail leaks into the inputs. A trending series is modelled as first
differences ``u_t = y_t - y_{t-1}`` (a network with bounded units cannot extrapolate a level it never
saw). pandas, statsmodels and plotly are imported inside the functions that need them.
Proved by ``tests/data/test_timeseries.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .optional import optional_import


class SeriesError(ValueError):
    """A series or CSV that cannot be used, with the reason."""


@dataclass(frozen=True)
class Series:
    name: str
    time: np.ndarray  # (N,) years, datetime64 or numbers
    values: np.ndarray  # (N, C) float64, no NaN
    columns: tuple[str, ...]  # C names
    season: int = 1  # m for the seasonal naive baseline (1: none)
    period: float = 0.0  # the exact season length for phase features (co2: 52.18 weeks); 0 means m
    periodic: bool = False  # a calendar season: give models the phase (sin, cos of 2 pi t / m)
    difference: bool = False  # model first differences instead of levels
    window: int = 24  # default input window W for the network
    source: str = ""  # where the numbers come from
    filled: int = 0  # NaNs filled by linear interpolation

    def __post_init__(self):
        if self.values.ndim != 2 or self.values.shape[0] != len(self.time):
            raise SeriesError(f"values must have shape (N, C) with N = len(time), got {self.values.shape}")
        if not np.isfinite(self.values).all():
            raise SeriesError("values must be finite (fill or drop NaN first)")

    @property
    def phase_period(self) -> float:
        return self.period or float(self.season)

    @property
    def length(self) -> int:
        return self.values.shape[0]


# ---- the bundled datasets ----------------------------------------------------------------------

def _statsmodels_frame(name: str):
    sm_datasets = optional_import("statsmodels.datasets", f"the {name} dataset")
    return getattr(sm_datasets, name).load_pandas().data


def _sunspots() -> Series:
    df = _statsmodels_frame("sunspots")
    return Series("sunspots", df["YEAR"].to_numpy(int), df[["SUNACTIVITY"]].to_numpy(float), ("sunspots",),
                  season=11, window=32, source="statsmodels.datasets.sunspots (yearly mean sunspot number, 1700-2008)")


def _co2() -> Series:
    df = _statsmodels_frame("co2")
    values, filled = fill_gaps(df[["co2"]].to_numpy(float))
    return Series("co2", df.index.to_numpy(), values, ("co2",), season=52, period=365.25 / 7, periodic=True,
                  difference=True, window=64, filled=filled,
                  source="statsmodels.datasets.co2 (weekly Mauna Loa CO2 ppm, 1958-2001; gaps interpolated)")


def _nile() -> Series:
    df = _statsmodels_frame("nile")
    return Series("nile", df["year"].to_numpy(int), df[["volume"]].to_numpy(float), ("volume",), window=12,
                  source="statsmodels.datasets.nile (yearly Nile flow at Aswan, 1871-1970)")


def _elnino() -> Series:
    df = _statsmodels_frame("elnino")
    months = df.columns[1:]  # JAN .. DEC
    values = df[months].to_numpy(float).reshape(-1, 1)  # (years * 12, 1) month after month
    years = df["YEAR"].to_numpy(int)
    time = np.array([np.datetime64(f"{y:04d}-{m + 1:02d}") for y in years for m in range(12)])
    values, filled = fill_gaps(values)
    return Series("elnino", time, values, ("sst",), season=12, periodic=True, window=36, filled=filled,
                  source="statsmodels.datasets.elnino (monthly Pacific sea-surface temperature, 1950-2010)")


def _stocks() -> Series:
    pdata = optional_import("plotly.data", "the stocks dataset")
    df = pdata.stocks()
    cols = tuple(c for c in df.columns if c != "date")
    return Series("stocks", np.array(df["date"], dtype="datetime64[D]"), df[list(cols)].to_numpy(float), cols,
                  difference=True, window=12,
                  source="plotly.data.stocks() (weekly prices of 6 tech stocks, 2018-2019, relative to the first week)")


DATASETS = {"sunspots": _sunspots, "co2": _co2, "nile": _nile, "elnino": _elnino, "stocks": _stocks}


def load_series(name_or_path: str, **csv_options) -> Series:
    """A bundled dataset by name, or a CSV file by path (options go to ``load_csv_series``)."""
    if name_or_path in DATASETS:
        return DATASETS[name_or_path]()
    path = Path(name_or_path)
    if path.suffix.lower() in (".csv", ".txt", ".tsv") or path.exists():
        return load_csv_series(path, **csv_options)
    raise SeriesError(f"{name_or_path!r} is neither a dataset ({', '.join(DATASETS)}) nor an existing CSV file")


# ---- user CSVs ---------------------------------------------------------------------------------

def load_csv_series(path, time_column: str | None = None, value_columns: list[str] | None = None,
                    season: int = 1, difference: bool = False, window: int | None = None) -> Series:
    """A CSV with a time column (default: the first) and numeric value columns (default: all others).

    Rows are sorted by time; interior gaps (empty cells) are filled by linear interpolation, rows
    with gaps at the start or end are dropped.
    """
    pd = optional_import("pandas", "reading a CSV time series")
    path = Path(path)
    if not path.is_file():
        raise SeriesError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except UnicodeDecodeError:
        raise SeriesError(f"{path}: not UTF-8 text (is it a CSV file?)") from None
    except Exception as e:  # pandas raises many kinds for a malformed file
        raise SeriesError(f"{path}: cannot be read as CSV ({e})") from None
    if df.shape[1] < 2:
        raise SeriesError(f"{path}: needs a time column and at least one value column, found columns {list(df.columns)}")
    time_column = df.columns[0] if time_column is None else time_column
    if time_column not in df.columns:
        raise SeriesError(f"{path}: no column {time_column!r}; columns are {list(df.columns)}")
    if value_columns is None:
        value_columns = [c for c in df.columns if c != time_column and pd.api.types.is_numeric_dtype(df[c])]
        if not value_columns:
            raise SeriesError(f"{path}: no numeric value column besides the time column {time_column!r}")
    for c in value_columns:
        if c not in df.columns:
            raise SeriesError(f"{path}: no column {c!r}; columns are {list(df.columns)}")
        if not pd.api.types.is_numeric_dtype(df[c]):
            bad = df[c][pd.to_numeric(df[c], errors="coerce").isna() & df[c].notna()].iloc[0]
            raise SeriesError(f"{path}: column {c!r} is not numeric (e.g. {bad!r})")
    time = df[time_column]
    if not pd.api.types.is_numeric_dtype(time):
        parsed = pd.to_datetime(time, errors="coerce", format="mixed")
        if parsed.isna().any():
            bad = time[parsed.isna()].iloc[0]
            raise SeriesError(f"{path}: time column {time_column!r} has a value that is not a date: {bad!r}")
        time = parsed
    order = np.argsort(time.to_numpy(), kind="stable")
    time_values = time.to_numpy()[order]
    if len(time_values) > 1 and (time_values[1:] == time_values[:-1]).any():
        raise SeriesError(f"{path}: time column {time_column!r} has repeated values")
    raw = df[value_columns].to_numpy(float)[order]  # (N, C), NaN where a cell is empty
    keep = _rows_with_values(raw)
    if not keep.any():
        raise SeriesError(f"{path}: no row has a value in every column {value_columns}")
    values, filled = fill_gaps(raw[keep])
    time_values = time_values[keep]
    if len(values) < 20:
        raise SeriesError(f"{path}: {len(values)} usable rows; a forecast needs at least 20")
    W = window or max(4, min(32, len(values) // 8, 2 * season if season > 1 else 16))
    return Series(path.stem, time_values, values, tuple(map(str, value_columns)), season=season,
                  periodic=season > 1, difference=difference, window=W, filled=filled, source=str(path))


def _rows_with_values(values: np.ndarray) -> np.ndarray:
    """The rows from the first to the last where every column has a value (boolean mask (N,))."""
    complete = np.isfinite(values).all(axis=1)
    keep = np.zeros(len(values), bool)
    if complete.any():
        first, last = np.flatnonzero(complete)[[0, -1]]
        keep[first : last + 1] = True
    return keep


def fill_gaps(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Linear interpolation of interior NaNs per column; leading/trailing NaNs copy the nearest value.

    Returns (filled copy (N, C), number of values filled).
    """
    values = np.array(values, dtype=float)  # (N, C)
    missing = ~np.isfinite(values)
    steps = np.arange(len(values))
    for c in range(values.shape[1]):
        ok = ~missing[:, c]
        if not ok.any():
            raise SeriesError(f"column {c} has no values at all")
        values[:, c] = np.interp(steps, steps[ok], values[ok, c])
    return values, int(missing.sum())


# ---- split, scaling, windows -------------------------------------------------------------------

@dataclass(frozen=True)
class TailSplit:
    """Time-ordered split: [0, n_fit) train, [n_fit, n_train) validation, [n_train, n) test tail."""

    n_fit: int
    n_train: int
    n: int

    @property
    def n_test(self) -> int:
        return self.n - self.n_train


def tail_split(n: int, test_fraction: float = 0.2, val_fraction: float = 0.15, min_test: int = 4) -> TailSplit:
    if not 0 < test_fraction < 1 or not 0 <= val_fraction < 1:
        raise SeriesError(f"fractions must be in (0, 1): test {test_fraction}, validation {val_fraction}")
    n_test = max(min_test, int(round(n * test_fraction)))
    n_train = n - n_test
    n_val = int(round(n_train * val_fraction))
    if n_train - n_val < 8:
        raise SeriesError(f"a series of {n} steps is too short for a {n_test}-step test tail and a training part")
    return TailSplit(n_train - n_val, n_train, n)


@dataclass(frozen=True)
class Scaler:
    """Standardisation z = (u - mean) / std, per column, fitted on the training part only."""

    mean: np.ndarray  # (C,)
    std: np.ndarray  # (C,)

    @classmethod
    def fit(cls, u: np.ndarray) -> Scaler:
        mean = u.mean(axis=0)  # (C,)
        std = u.std(axis=0)  # (C,)
        return cls(mean, np.where(std > 0, std, 1.0))

    def transform(self, u: np.ndarray) -> np.ndarray:
        return (u - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return z * self.std + self.mean


def model_space(values: np.ndarray, difference: bool) -> np.ndarray:
    """u (N, C): levels, or differences u_t = y_t - y_{t-1} with u_0 = 0 (never a target)."""
    if not difference:
        return values.copy()
    u = np.zeros_like(values)  # (N, C)
    u[1:] = values[1:] - values[:-1]
    return u


def season_features(n: int, period: float, harmonics: int = 1) -> np.ndarray:
    """(N, 2K): sin and cos of 2 pi k t / m for k = 1..K, the phase of each step within the season."""
    angle = 2 * math.pi * np.arange(n)[:, None] * np.arange(1, harmonics + 1)[None, :] / period  # (N, K)
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)


def window_steps(ends: np.ndarray, window: int, n: int) -> np.ndarray:
    """The step indices of windows of W steps ending at each t in ``ends``: (W, B), B = len(ends).

    ``inputs[steps]`` is the window x (W, B, I) and ``targets[steps + 1]`` its next-step targets.
    """
    ends = np.asarray(ends, dtype=np.int64)
    if ends.size and (ends.min() < window - 1 or ends.max() >= n):
        raise SeriesError(f"window ends must lie in [{window - 1}, {n - 1}], got [{ends.min()}, {ends.max()}]")
    return ends[None, :] + np.arange(-window + 1, 1)[:, None]  # (W, B)


def with_options(series: Series, **changes) -> Series:
    """A copy with some fields changed (season, difference, window), validated."""
    if "season" in changes and changes["season"] < 1:
        raise SeriesError(f"season must be >= 1, got {changes['season']}")
    if "window" in changes and changes["window"] < 2:
        raise SeriesError(f"window must be >= 2, got {changes['window']}")
    return replace(series, **changes)
