"""``rnnlab demo``: show the engine working, in the terminal.

Trains a small network on a sine wave for a few seconds with the hand-written BPTT, printing the
loss, then shows the hidden state of the trained network step by step as a coloured grid
(blue positive, red negative), and a finite-difference check of its gradients.
"""

from __future__ import annotations

HELP = "Train a tiny RNN on a sine wave and show its hidden states and a gradient check."


def add_arguments(p) -> None:
    p.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument("--hidden", type=int, default=8, help="hidden units, 1-64 (default: 8)")
    p.add_argument("--steps", type=int, default=300, help="training steps (default: 300)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def run(args) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from rnnlab.cli.main import UserError, cell_with_article
    from rnnlab.engine import (
        Adam,
        Recurrent,
        RecurrentConfig,
        clip_grad_norm,
        linear_backward,
        linear_forward,
        linear_init,
        mean_squared_error,
        numerical_gradient,
        relative_error,
    )

    if not 1 <= args.hidden <= 64:
        raise UserError(f"--hidden must be between 1 and 64, got {args.hidden}")
    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    console = Console()
    rng = np.random.default_rng(args.seed)
    T, B = 40, 16
    net = Recurrent(RecurrentConfig(args.cell, 1, args.hidden), rng=rng, dtype=np.float64)
    w, b = linear_init(args.hidden, 1, rng, np.float64)
    params = {**net.params, "head.weight": w, "head.bias": b}
    opt = Adam(lr=0.01)

    def batch():
        phase = rng.uniform(0, 2 * np.pi, size=(1, B, 1))
        t = np.arange(T + 1)[:, None, None] * 0.3 + phase  # (T+1, B, 1)
        s = np.sin(t)
        return s[:-1], s[1:]

    def loss_and_grads(x, y):
        out, _, cache = net.forward(x)  # (T, B, H)
        pred = linear_forward(out, params["head.weight"], params["head.bias"])  # (T, B, 1)
        res = mean_squared_error(pred, y)
        dout, dw, db = linear_backward(res.dlogits, out, params["head.weight"])
        g = net.backward(cache, dout)
        return res.loss, {**g.params, "head.weight": dw, "head.bias": db}

    console.print(f"[bold]rnnlab demo[/]: {cell_with_article(args.cell)} with {args.hidden} hidden units learns to continue a sine wave")
    for step in range(1, args.steps + 1):
        x, y = batch()
        loss, grads = loss_and_grads(x, y)
        norm = clip_grad_norm(grads, 5.0)
        opt.step(params, grads)
        if step == 1 or step % max(1, args.steps // 6) == 0 or step == args.steps:
            console.print(f"  step {step:4d}  mean squared error {loss:.5f}  gradient norm {norm:.3f}")

    x, _ = batch()
    x = x[:16, :1]
    _, _, cache = net.forward(x, record=True)
    h = cache.trace.layers[0].h[:, 0]  # (T, H)
    table = Table(title="hidden state h_t (rows: units, columns: time) - blue positive, red negative")
    table.add_column("unit")
    for t in range(h.shape[0]):
        table.add_column(str(t), justify="center")
    for j in range(min(h.shape[1], 16)):
        cells = []
        for t in range(h.shape[0]):
            v = float(h[t, j])
            colour = "blue" if v >= 0 else "red"
            shade = int(min(abs(v), 1.0) * 9)
            cells.append(f"[{colour}]{'·░▒▒▓▓███'[shade]}[/]")
        table.add_row(f"h{j}", *cells)
    console.print(table)

    # Gradient check: the hand-written BPTT against central finite differences.
    xs, ys = batch()
    xs, ys = xs[:10, :2], ys[:10, :2]
    _, grads = loss_and_grads(xs, ys)
    name = "weight_hh_l0"
    numeric = numerical_gradient(lambda: loss_and_grads(xs, ys)[0], params[name])
    err = relative_error(grads[name], numeric)
    console.print(f"gradient check of {name}: BPTT vs finite differences, relative error {err:.2e} "
                  + ("[green]ok[/]" if err < 1e-6 else "[red]MISMATCH[/]"))
    return 0 if err < 1e-6 else 1
