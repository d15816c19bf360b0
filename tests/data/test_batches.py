"""Stream batches for truncated BPTT: contiguous rows across windows, seeded offsets, resumable positions."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data.batches import StreamBatches, min_tokens, stream_windows


def test_the_docstring_example_cuts_two_streams_and_continues_them():
    data = np.arange(24)  # a .. x
    batches = StreamBatches(data, batch_size=2, seq_len=3, shift=False)
    w0, w1 = batches.window(0, 0), batches.window(0, 1)
    np.testing.assert_array_equal(w0.x.T, [[0, 1, 2], [11, 12, 13]])
    np.testing.assert_array_equal(w1.x.T, [[3, 4, 5], [14, 15, 16]])
    np.testing.assert_array_equal(w0.y.T, [[1, 2, 3], [12, 13, 14]])
    assert w0.reset and not w1.reset
    assert batches.windows_per_epoch() == 3


def test_each_row_continues_exactly_where_the_previous_window_stopped():
    data = np.arange(1000)
    batches = StreamBatches(data, batch_size=4, seq_len=7, seed=3)
    windows = [w for _, w in zip(range(40), batches)]
    for prev, cur in zip(windows, windows[1:]):
        if cur.reset:
            assert cur.epoch == prev.epoch + 1 and cur.index == 0
            continue
        np.testing.assert_array_equal(cur.x[0], prev.x[-1] + 1)  # (B,) next token of every row
        np.testing.assert_array_equal(cur.x[0], prev.y[-1])  # the state after prev read y[-1]'s input


def test_targets_are_the_inputs_shifted_by_one_token():
    data = np.random.default_rng(0).integers(0, 50, size=500)
    batches = StreamBatches(data, batch_size=3, seq_len=10, seed=1)
    for _, w in zip(range(20), batches):
        np.testing.assert_array_equal(w.x[1:], w.y[:-1])
        assert w.x.shape == w.y.shape == (10, 3) and w.x.dtype == np.int64


def test_offsets_are_seeded_vary_across_epochs_and_stay_below_the_window():
    data = np.arange(5000)
    a, b = StreamBatches(data, 4, 50, seed=7), StreamBatches(data, 4, 50, seed=7)
    offsets = [a.offset(e) for e in range(20)]
    assert offsets == [b.offset(e) for e in range(20)]
    assert len(set(offsets)) > 1 and all(0 <= o < 50 for o in offsets)
    assert offsets != [StreamBatches(data, 4, 50, seed=8).offset(e) for e in range(20)]
    assert a.window(3, 0).x[0, 0] == offsets[3]


def test_iterating_from_a_saved_position_gives_the_same_windows():
    data = np.arange(2000)
    batches = StreamBatches(data, 5, 20, seed=2)
    full = [w for _, w in zip(range(50), batches)]
    cut = full[23].position_after
    resumed = [w for _, w in zip(range(26), batches.iterate(cut))]
    for a, b in zip(full[24:], resumed):
        assert (a.epoch, a.index) == (b.epoch, b.index)
        np.testing.assert_array_equal(a.x, b.x)


def test_an_epoch_covers_every_row_once_without_overlap():
    data = np.arange(1001)
    batches = StreamBatches(data, 4, 10, shift=False)
    seen = np.concatenate([batches.window(0, i).x for i in range(batches.windows_per_epoch())])  # (W*T, B)
    assert len(np.unique(seen)) == seen.size == 1000


def test_too_little_data_for_one_window_is_a_clear_error():
    with pytest.raises(ValueError, match=r"too short for batch 4 x window 10: need at least 50"):
        StreamBatches(np.arange(30), 4, 10)
    assert min_tokens(4, 10) == 50 and min_tokens(4, 10, shift=False) == 41
    StreamBatches(np.arange(50), 4, 10)  # exactly enough


def test_evaluation_windows_cover_contiguous_streams_in_order():
    data = np.arange(103)
    chunks = list(stream_windows(data, streams=2, seq_len=20))
    x = np.concatenate([c[0] for c in chunks])  # (n, 2)
    y = np.concatenate([c[1] for c in chunks])
    np.testing.assert_array_equal(x[:, 0], np.arange(51))
    np.testing.assert_array_equal(x[:, 1], np.arange(51, 102))
    np.testing.assert_array_equal(y, x + 1)
    assert [c[0].shape[0] for c in chunks] == [20, 20, 11]
