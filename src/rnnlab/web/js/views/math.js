// "Mathematical foundation": the forward pass and BPTT of the visualizer's network as MathML,
// with the numbers of the current step filled in (the first K units, the matching corner of each
// matrix). All numbers come from the server's trace; nothing is computed here.

import { store } from "../store.js";
import { el, displayChar, focusableIfScrolls } from "../format.js";
import { W, Wt, bold, call, frac, m, mat, math, mi, mn, mo, mtext, row, space, sub, sup, tIndex, vec, vsub } from "../mathml.js";

const K = 4; // units shown

function eq(caption, ...blocks) {
  return el("div", { class: "eqrow" }, caption ? el("div", { class: "caption", text: caption }) : null, ...blocks);
}

function numbers(...children) {
  return el("div", { class: "numbers" }, math(...children));
}

const rowsOf = (matrix, r0, r1, c0, c1) => matrix.slice(r0, r1).map((r) => r.slice(c0, c1));

function symbolicForward(cell, act) {
  // factories: a DOM node can appear only once, so each use makes its own
  const x = () => vsub("x", "t"), hp = () => vsub("h", "t-1"), h = () => vsub("h", "t");
  const c = () => vsub("c", "t"), cp = () => vsub("c", "t-1");
  const lin = (g) => row(W("x" + g), x(), mo("+"), W("h" + g), hp(), mo("+"), sub(bold("b"), mi(g, { mathvariant: "normal" })));
  const σ = (g) => row(vsub(g, "t"), mo("="), call("σ", lin(g)));
  if (cell === "lstm") {
    return [
      eq("Gates (input, forget, output) and the candidate, each from xₜ and hₜ₋₁:", math(σ("i")), math(σ("f")), math(row(vsub("g", "t"), mo("="), call("tanh", lin("g")))), math(σ("o"))),
      eq("The cell state is updated additively; the hidden state is a gated view of it:", math(row(c(), mo("="), vsub("f", "t"), mo("⊙"), cp(), mo("+"), vsub("i", "t"), mo("⊙"), vsub("g", "t"))), math(row(h(), mo("="), vsub("o", "t"), mo("⊙"), call("tanh", c())))),
    ];
  }
  if (cell === "gru") {
    return [
      eq("Reset and update gates:", math(σ("r")), math(σ("z"))),
      eq("The candidate (the reset gate scales the recurrent term) and the interpolation:",
        math(row(vsub("n", "t"), mo("="), call("tanh", row(W("xn"), x(), mo("+"), sub(bold("b"), mi("in", { mathvariant: "normal" })), mo("+"), vsub("r", "t"), mo("⊙"), row(mo("("), W("hn"), hp(), mo("+"), sub(bold("b"), mi("hn", { mathvariant: "normal" })), mo(")")))))),
        math(row(h(), mo("="), row(mo("("), mn("1"), mo("−"), vsub("z", "t"), mo(")")), mo("⊙"), vsub("n", "t"), mo("+"), vsub("z", "t"), mo("⊙"), hp()))),
    ];
  }
  return [
    eq("The hidden state mixes the new input with the previous state:",
      math(row(h(), mo("="), call(act, row(W("hh"), hp(), mo("+"), W("xh"), x(), mo("+"), sub(bold("b"), mi("h", { mathvariant: "normal" })))))),
    ),
  ];
}

function outputEquations(kind) {
  const y = vsub("y", "t"), h = vsub("h", "t");
  const out = [math(row(y, mo("="), W("hy"), h, mo("+"), sub(bold("b"), mi("y", { mathvariant: "normal" }))))];
  if (kind === "classification") {
    out.push(math(row(vsub("p", "t"), mo("="), call("softmax", y), mo(","), space("1em"), sub(mi("L"), mi("t")), mo("="), mo("−"), call("log", sub(vsub("p", "t"), mi("target"))))));
  } else {
    out.push(math(row(sub(mi("L"), mi("t")), mo("="), sup(row(mo("("), sub(mi("y"), mi("t")), mo("−"), sub(mi("x"), tplus()), mo(")")), mn("2")))));
  }
  return eq("The output reads the hidden state; the loss compares it with the target:", ...out);
}

function tplus() {
  return row(mi("t"), mo("+"), mn("1"));
}

function inputVector(trace, t) {
  const seq = trace.sequence;
  if (seq.kind === "regression" || typeof seq.inputs[t] !== "number" || !seq.classes) return vec([seq.inputs[t]]);
  const j = seq.inputs[t];
  return row(sub(bold("e"), mn(String(j))), space("0.3em"), mtext(`(one-hot of “${displayChar(seq.classes[j])}”)`));
}

function numericForward(trace, t) {
  const H = trace.network.hidden_size, k = Math.min(K, H), more = H > k;
  const p = trace.params;
  const hPrev = t > 0 ? trace.hidden[t - 1] : new Array(H).fill(0);
  const seq = trace.sequence;
  const bias = p.bias_ih.slice(0, k).map((v, j) => v + p.bias_hh[j]);
  let inputTerm;
  if (seq.kind === "classification" && seq.classes) {
    const j = seq.inputs[t];
    inputTerm = vec(p.weight_ih.slice(0, k).map((r) => r[j]), { more });
  } else {
    inputTerm = row(mat(rowsOf(p.weight_ih, 0, k, 0, p.weight_ih[0].length), { moreRows: more }), inputVector(trace, t));
  }
  const first = trace.network.gates.length ? trace.network.gates[0] : null;
  const preact = trace.preact[first || "h"];
  const aName = first ? sub(bold("a"), mi(first, { mathvariant: "normal" })) : vsub("a", "t");
  const lines = [
    eq(`Step t = ${t}: the input${seq.kind === "classification" ? " (a one-hot vector picks one column of the input weights)" : ""}`,
      numbers(vsub("x", "t"), mo("="), inputVector(trace, t))),
    eq(first ? `Pre-activation of gate ${first} (first ${k} of ${H} units):` : `Pre-activation (first ${k} of ${H} units):`,
      numbers(aName, mo("="), inputTerm, mo("+"), mat(rowsOf(p.weight_hh, 0, k, 0, k), { moreRows: more, moreCols: more }), vec(hPrev.slice(0, k), { more }),
        mo("+"), vec(bias, { more }), mo("="), vec(preact[t].slice(0, k), { more }))),
  ];
  if (!first) {
    lines.push(eq("The activation gives the new hidden state:",
      numbers(vsub("h", "t"), mo("="), call(trace.network.activation, vec(preact[t].slice(0, k), { more })), mo("="), vec(trace.hidden[t].slice(0, k), { more }))));
  } else {
    const gateVecs = trace.network.gates.flatMap((g) => [vsub(g, "t"), mo("="), vec(trace.gates[g][t].slice(0, k), { more }), space("0.8em")]);
    lines.push(eq("The gates at this step:", numbers(...gateVecs)));
    const extra = trace.cell_state ? [vsub("c", "t"), mo("="), vec(trace.cell_state[t].slice(0, k), { more }), space("0.8em")] : [];
    lines.push(eq("The new state:", numbers(...extra, vsub("h", "t"), mo("="), vec(trace.hidden[t].slice(0, k), { more }))));
  }
  const y = seq.kind === "regression"
    ? [mn(trace.outputs.prediction[t] / (seq.scale || 1), 4)]
    : [vec(trace.outputs.probs[t].slice(0, Math.min(6, trace.outputs.probs[t].length)), { more: trace.outputs.probs[t].length > 6 })];
  lines.push(eq(seq.kind === "regression" ? "The output:" : "The output probabilities (softmax of yₜ, in class order):",
    numbers(seq.kind === "regression" ? sub(mi("y"), mi("t")) : vsub("p", "t"), mo("="), ...y,
      ...(seq.mask[t] ? [space("1em"), mtext("loss"), space("0.3em"), sub(mi("L"), mi("t")), mo("="), mn(trace.step_loss[t], 4)] : []))));
  return lines;
}

// The backward equations of each cell, as engine/*_cell.py computes them.  δ is the gradient of a step's
// pre-activations (stacked over the gates for LSTM and GRU, in PyTorch's order), so that every cell's
// weight gradient is a sum over the steps of δ times the step's input or previous state.
function symbolicBptt(cell, act) {
  const dL = (v, s) => frac(row(mo("∂"), mi("L")), row(mo("∂"), vsub(v, s)));
  const dW = (s) => frac(row(mo("∂"), mi("L")), row(mo("∂"), W(s)));
  const δ = (gate, s = "t") => (gate ? m("msubsup", {}, bold("δ"), tIndex(s), mi(gate, { mathvariant: "normal" })) : vsub("δ", s));
  const v = (name, s = "t") => vsub(name, s);
  const odot = () => mo("⊙");
  const paren = (...x) => row(mo("("), ...x, mo(")"));
  const oneMinus = (...x) => paren(mn("1"), mo("−"), ...x);
  const sum = () => m("munder", {}, mo("∑"), mi("t"));
  const T = (x) => sup(x, mi("⊤"));
  const stack = (...entries) => row(mo("["), m("mtable", {}, entries.map((e) => m("mtr", {}, m("mtd", {}, e)))), mo("]"));
  const loss = eq("The loss of the sequence is the mean over the steps that have a target:",
    math(row(mi("L"), mo("="), frac(mn("1"), mi("N")), sum(), sub(mi("L"), mi("t")))));
  const weights = (recurrentδ) => eq("Each weight gradient sums the contributions of every step (the same weights at every step):",
    math(row(dW("hh"), mo("="), sum(), recurrentδ, T(v("h", "t-1")), mo(","), space("1em"), dW("xh"), mo("="), sum(), δ(null), T(v("x")))));
  if (cell === "lstm") {
    return [loss,
      eq("The gradient reaching hₜ: from its own output, and through the next step's gates (W_hh stacks the four gates' rows):",
        math(row(dL("h", "t"), mo("="), Wt("hy"), dL("y", "t"), mo("+"), Wt("hh"), δ(null, "t+1")))),
      eq("The cell path: from one step to the one before, the gradient reaching cₜ is multiplied only by the forget gate:",
        math(row(dL("c", "t"), mo("="), dL("h", "t"), odot(), v("o"), odot(), oneMinus(sup(call("tanh", v("c")), mn("2"))),
          mo("+"), v("f", "t+1"), odot(), dL("c", "t+1")))),
      eq("The gradients of the gates' pre-activations, stacked as δₜ in the gate order i, f, g, o:",
        math(row(δ("i"), mo("="), dL("c", "t"), odot(), v("g"), odot(), v("i"), odot(), oneMinus(v("i")), mo(","), space("1em"),
          δ("f"), mo("="), dL("c", "t"), odot(), v("c", "t-1"), odot(), v("f"), odot(), oneMinus(v("f")))),
        math(row(δ("g"), mo("="), dL("c", "t"), odot(), v("i"), odot(), oneMinus(sup(v("g"), mn("2"))), mo(","), space("1em"),
          δ("o"), mo("="), dL("h", "t"), odot(), call("tanh", v("c")), odot(), v("o"), odot(), oneMinus(v("o"))))),
      weights(δ(null))];
  }
  if (cell === "gru") {
    return [loss,
      eq("The gradient reaching hₜ: from its own output, straight through the update gate's interpolation, and through the next step's gates:",
        math(row(dL("h", "t"), mo("="), Wt("hy"), dL("y", "t"), mo("+"), v("z", "t+1"), odot(), dL("h", "t+1"), mo("+"), Wt("hh"), δ("h", "t+1")))),
      eq("The gradients of the pre-activations of the candidate, the update gate and the reset gate:",
        math(row(δ("n"), mo("="), dL("h", "t"), odot(), oneMinus(v("z")), odot(), oneMinus(sup(v("n"), mn("2"))), mo(","), space("1em"),
          δ("z"), mo("="), dL("h", "t"), odot(), paren(v("h", "t-1"), mo("−"), v("n")), odot(), v("z"), odot(), oneMinus(v("z")))),
        math(row(δ("r"), mo("="), δ("n"), odot(), paren(W("hn"), v("h", "t-1"), mo("+"), sub(bold("b"), mi("hn", { mathvariant: "normal" }))),
          odot(), v("r"), odot(), oneMinus(v("r")))),
        math(row(δ(null), mo("="), stack(δ("r"), δ("z"), δ("n")), mo(","), space("1em"), δ("h"), mo("="),
          stack(δ("r"), δ("z"), row(v("r"), odot(), δ("n")))))),
      weights(δ("h"))];
  }
  const derivative = act === "relu"
    ? row(mo("["), v("a"), mo(">"), mn("0"), mo("]"))
    : oneMinus(sup(v("h"), mn("2")));
  return [loss,
    eq("The gradient reaching hₜ comes from its own output and from the next step:",
      math(row(dL("h", "t"), mo("="), Wt("hy"), dL("y", "t"), mo("+"), Wt("hh"), δ(null, "t+1")))),
    eq(`The gradient of the pre-activation, through the ${act === "relu" ? "ReLU" : "tanh"}:`,
      math(row(δ(null), mo("="), dL("h", "t"), odot(), derivative))),
    weights(δ(null))];
}

function bptt(trace, t) {
  const H = trace.network.hidden_size, k = Math.min(K, H), more = H > k;
  const T = trace.sequence.length;
  const dh = (s) => row(frac(row(mo("∂"), mi("L")), row(mo("∂"), vsub("h", s))));
  const norms = trace.grad_h_norm;
  const ratio = norms[T - 1] > 0 ? norms[0] / norms[T - 1] : null;
  return [
    ...symbolicBptt(trace.network.cell, trace.network.activation),
    eq(`At step t = ${t} (first ${k} of ${H} units), from the engine's backward pass:`,
      numbers(dh("t"), mo("="), vec(trace.grad_h[t].slice(0, k), { digits: 4, more }), space("1em"),
        m("mrow", {}, mo("‖"), dh("t"), mo("‖")), mo("="), mn(norms[t], 4))),
    eq("Across the sequence: the gradient reaching the first step against the last",
      numbers(frac(row(mo("‖"), mi("∂L/∂"), vsub("h", "0"), mo("‖")), row(mo("‖"), mi("∂L/∂"), vsub("h", String(T - 1)), mo("‖"))), mo("="),
        ratio === null ? mtext("–") : mn(ratio, ratio < 0.01 ? 6 : 3))),
  ];
}

export function initMath() {
  const forward = document.getElementById("math-forward");
  const back = document.getElementById("math-bptt");
  let lastTrace = null;
  let staticPart = null;

  const draw = (s) => {
    const trace = s.trace;
    if (!trace) return;
    if (trace !== lastTrace) {
      staticPart = [...symbolicForward(trace.network.cell, trace.network.activation), outputEquations(trace.sequence.kind)];
      lastTrace = trace;
    }
    forward.replaceChildren(...staticPart, ...numericForward(trace, s.step));
    forward.dataset.step = String(s.step);
    back.replaceChildren(...bptt(trace, s.step));
    focusableIfScrolls(forward, "forward pass equations (scroll sideways)");
    focusableIfScrolls(back, "backpropagation through time equations (scroll sideways)");
    for (const node of [...forward.querySelectorAll(".numbers"), ...back.querySelectorAll(".numbers")]) {
      focusableIfScrolls(node, "equation with this step's numbers (scrolls sideways)");
    }
  };
  store.on(["trace", "step"], draw);
}
