"""Real series load offline with the right shapes; CSVs are parsed with clear errors; the split keeps time order."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rnnlab.data.timeseries import (
    DATASETS,
    Scaler,
    SeriesError,
    fill_gaps,
    load_csv_series,
    load_series,
    model_space,
    season_features,
    tail_split,
    window_steps,
)


@pytest.mark.parametrize("name,length,columns", [("sunspots", 309, 1), ("co2", 2284, 1), ("nile", 100, 1),
                                                 ("elnino", 732, 1), ("stocks", 105, 6)])
def test_bundled_datasets_load_offline_without_gaps(name, length, columns):
    series = load_series(name)
    assert series.values.shape == (length, columns)
    assert np.isfinite(series.values).all() and len(series.time) == length and series.source


def test_co2_gaps_are_filled_by_linear_interpolation():
    series = load_series("co2")
    assert series.filled == 59
    assert series.difference and series.season == 52


def test_elnino_is_read_month_after_month():
    series = load_series("elnino")
    assert series.values[0, 0] == 23.11 and series.values[1, 0] == 24.20  # Jan, Feb 1950
    assert series.values[12, 0] == 24.19  # Jan 1951
    assert str(series.time[13]) == "1951-02"


def test_unknown_dataset_names_the_choices():
    with pytest.raises(SeriesError, match="sunspots"):
        load_series("sunspot")


def test_importing_the_module_loads_no_pandas_or_statsmodels():
    code = ("import sys, rnnlab.data.timeseries, rnnlab.tasks.forecast\n"
            "print([m for m in ('pandas', 'statsmodels', 'plotly') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_rows(n, start=0):
    return "".join(f"{np.datetime64('2020-01-01') + i},{i},{2 * i}\n" for i in range(start, n))


def test_csv_rows_are_sorted_by_time_and_interior_gaps_interpolated(tmp_path):
    lines = csv_rows(30).splitlines()
    lines[10] = lines[10].rsplit(",", 1)[0] + ","  # empty cell in column b
    text = "when,a,b\n" + "\n".join(reversed(lines)) + "\n"
    series = load_csv_series(write(tmp_path, text))
    assert series.columns == ("a", "b")
    np.testing.assert_array_equal(series.values[:, 0], np.arange(30))
    assert series.values[10, 1] == 20.0 and series.filled == 1


def test_csv_rows_with_gaps_at_the_ends_are_dropped(tmp_path):
    text = "t,v\n0,\n1,\n" + "".join(f"{i},{i}\n" for i in range(2, 30)) + "30,\n"
    series = load_csv_series(write(tmp_path, text))
    assert series.length == 28 and series.values[0, 0] == 2.0


@pytest.mark.parametrize("text,message", [
    ("t,v\n" + "".join(f"{i},x{i}\n" for i in range(30)), "no numeric value column"),
    ("t\n1\n2\n", "needs a time column and at least one value column"),
    ("t,v\n" + "".join(f"{i},{i}\n" for i in range(5)), "at least 20"),
    ("t,v\n" + "".join(f"{i % 10},{i}\n" for i in range(30)), "repeated"),
    ("t,v\nmonday,1\n" + "".join(f"2020-01-{i + 1:02d},{i}\n" for i in range(25)), "not a date"),
])
def test_bad_csvs_get_a_clear_error(tmp_path, text, message):
    with pytest.raises(SeriesError, match=message):
        load_csv_series(write(tmp_path, text))


def test_csv_named_columns_must_exist_and_be_numeric(tmp_path):
    path = write(tmp_path, "t,v,name\n" + "".join(f"{i},{i},n{i}\n" for i in range(30)))
    with pytest.raises(SeriesError, match="no column 'w'"):
        load_csv_series(path, value_columns=["w"])
    with pytest.raises(SeriesError, match="'name' is not numeric"):
        load_csv_series(path, value_columns=["v", "name"])
    assert load_csv_series(path).columns == ("v",)


def test_missing_and_binary_files_are_reported(tmp_path):
    with pytest.raises(SeriesError, match="no such file"):
        load_series(str(tmp_path / "nothing.csv"))
    binary = tmp_path / "b.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SeriesError):
        load_csv_series(binary)


def test_tail_split_keeps_time_order():
    split = tail_split(100, test_fraction=0.2, val_fraction=0.25)
    assert (split.n_fit, split.n_train, split.n, split.n_test) == (60, 80, 100, 20)
    with pytest.raises(SeriesError, match="too short"):
        tail_split(10)


def test_scaler_round_trips_and_survives_a_constant_column():
    u = np.array([[1.0, 5.0], [3.0, 5.0]])
    scaler = Scaler.fit(u)
    np.testing.assert_allclose(scaler.transform(u), [[-1, 0], [1, 0]])
    np.testing.assert_allclose(scaler.inverse(scaler.transform(u)), u)


def test_differences_start_at_zero_and_sum_back_to_levels():
    y = np.array([[2.0], [5.0], [4.0], [10.0]])
    u = model_space(y, difference=True)
    np.testing.assert_array_equal(u[:, 0], [0, 3, -1, 6])
    np.testing.assert_array_equal(y[0] + np.cumsum(u, axis=0), y)


def test_window_steps_end_at_the_origin_and_targets_are_the_next_steps():
    steps = window_steps(np.array([3, 7]), 4, 10)
    np.testing.assert_array_equal(steps[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(steps[-1], [3, 7])
    with pytest.raises(SeriesError, match="window ends"):
        window_steps(np.array([2]), 4, 10)


def test_fill_gaps_interpolates_and_extends():
    values, filled = fill_gaps(np.array([[np.nan], [1.0], [np.nan], [3.0], [np.nan]]))
    np.testing.assert_array_equal(values[:, 0], [1, 1, 2, 3, 3])
    assert filled == 3


def test_season_features_repeat_every_period():
    f = season_features(30, 12, harmonics=2)
    assert f.shape == (30, 4)
    np.testing.assert_allclose(f[0], f[12], atol=1e-12)
    assert set(DATASETS) == {"sunspots", "co2", "nile", "elnino", "stocks"}
