"""engine/output.py: the chunked head + loss equals linear_forward + softmax_cross_entropy + linear_backward."""

import numpy as np
import pytest

from rnnlab.engine import linear_backward, linear_forward, softmax_cross_entropy
from rnnlab.engine.output import softmax_output_loss


def one_piece(h, w, b, targets):
    result = softmax_cross_entropy(linear_forward(h, w, b), targets)
    dh, dw, db = linear_backward(result.dlogits, h, w)
    return result, dh, dw, db


@pytest.mark.parametrize("batch, chunks", [(1, 1), (7, 1), (16, 2), (17, 2), (19, 3), (64, 4)])
def test_chunks_give_the_one_piece_numbers(batch, chunks):
    rng = np.random.default_rng(batch * 10 + chunks)
    T, H, V = 5, 6, 11
    h = rng.standard_normal((T, batch, H))  # (T, B, H)
    w, b = rng.standard_normal((V, H)), rng.standard_normal(V)
    targets = rng.integers(0, V, (T, batch))
    want, dh, dw, db = one_piece(h, w, b, targets)
    got = softmax_output_loss(h, w, b, targets, chunks=chunks)
    assert got.loss == pytest.approx(want.loss, rel=1e-14)
    np.testing.assert_allclose(got.per_step, want.per_step, rtol=1e-14)
    np.testing.assert_allclose(got.dh, dh, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(got.dweight, dw, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(got.dbias, db, rtol=1e-12, atol=1e-16)


def test_float32_in_float32_out_and_default_chunking():
    rng = np.random.default_rng(0)
    h = rng.standard_normal((4, 64, 8)).astype(np.float32)
    w, b = rng.standard_normal((5, 8)).astype(np.float32), np.zeros(5, np.float32)
    targets = rng.integers(0, 5, (4, 64))
    got = softmax_output_loss(h, w, b, targets)
    want, dh, dw, _ = one_piece(h, w, b, targets)
    assert got.dh.dtype == got.dweight.dtype == got.per_step.dtype == np.float32
    np.testing.assert_allclose(got.dweight, dw, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.dh, dh, rtol=1e-5, atol=1e-7)
    assert got.loss == pytest.approx(want.loss, rel=1e-6)


def test_targets_of_the_wrong_shape_are_named():
    with pytest.raises(ValueError, match="targets shape"):
        softmax_output_loss(np.zeros((3, 2, 4)), np.zeros((5, 4)), np.zeros(5), np.zeros((2, 3), int))
