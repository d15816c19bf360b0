"""``rnnlab demo``: the network learns the sine wave, its hidden states are drawn, BPTT passes its check."""

from __future__ import annotations

import re

import pytest

from rnnlab.cli.main import main


@pytest.mark.parametrize("cell,article", [("lstm", "an LSTM"), ("gru", "a GRU"), ("rnn", "an RNN")])
def test_demo_learns_the_sine_wave_and_its_gradients_check_out(cell, article, capsys):
    assert main(["demo", "--cell", cell, "--steps", "120", "--hidden", "6"]) == 0
    out = capsys.readouterr().out
    assert f"{article} with 6 hidden units" in out
    losses = [float(v) for v in re.findall(r"mean squared error ([0-9.]+)", out)]
    assert len(losses) >= 3
    assert losses[-1] < 0.5 * losses[0]  # it learned
    assert "hidden state h_t" in out and all(f"h{j}" in out for j in range(6))
    error = float(re.search(r"relative error\s+([0-9.e+-]+)", out).group(1))
    assert error < 1e-6 and "ok" in out.split("relative error")[1]


@pytest.mark.parametrize("args,message", [(["--hidden", "0"], "--hidden must be between 1 and 64"),
                                          (["--hidden", "65"], "--hidden must be between 1 and 64"),
                                          (["--steps", "0"], "--steps must be at least 1")])
def test_demo_refuses_bad_sizes_clearly(args, message, capsys):
    assert main(["demo", *args]) == 2
    assert message in capsys.readouterr().err
