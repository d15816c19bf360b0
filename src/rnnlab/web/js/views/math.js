// "Mathematical foundation": the forward pass and BPTT of the visualizer's network as MathML,
// with the numbers of the current step filled in (the first K units, the matching corner of each
// matrix). All numbers come from the server's trace; nothing is computed here.

import { store } from "../store.js";
import { el, displayChar } from "../format.js";
import { W, Wt, bold, call, frac, m, mat, math, mi, mn, mo, mtext, row, space, sub, sup, vec, vsub } from "../mathml.js";

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

function bptt(trace, t) {
  const H = trace.network.hidden_size, k = Math.min(K, H), more = H > k;
  const T = trace.sequence.length;
  const dh = (s) => row(frac(row(mo("∂"), mi("L")), row(mo("∂"), vsub("h", s))));
  const norms = trace.grad_h_norm;
  const ratio = norms[T - 1] > 0 ? norms[0] / norms[T - 1] : null;
  const recurrent = trace.network.cell === "rnn"
    ? row(Wt("hh"), space("0.1em"), call("diag", row(mn("1"), mo("−"), sup(vsub("h", "t+1"), mn("2")))))
    : sup(row(mo("("), frac(row(mo("∂"), vsub("h", "t+1")), row(mo("∂"), vsub("h", "t"))), mo(")")), mi("⊤"));
  return [
    eq("The loss of the sequence is the mean over the steps that have a target:",
      math(row(mi("L"), mo("="), frac(mn("1"), mi("N")), m("munder", {}, mo("∑"), mi("t")), sub(mi("L"), mi("t"))))),
    eq("Backpropagation through time: the gradient reaching hₜ comes from its own output and from the next step:",
      math(row(dh("t"), mo("="), Wt("hy"), frac(row(mo("∂"), mi("L")), row(mo("∂"), vsub("y", "t"))), mo("+"), recurrent, dh("t+1")))),
    eq("Each weight gradient sums the contributions of every step (shared parameters):",
      math(row(frac(row(mo("∂"), mi("L")), row(mo("∂"), W("hh"))), mo("="), m("munder", {}, mo("∑"), mi("t")), vsub("δ", "t"), sup(vsub("h", "t-1"), mi("⊤")),
        mo(","), space("1em"), vsub("δ", "t"), mo("="), dh("t"), mo("⊙"), mi("f′"), row(mo("("), vsub("a", "t"), mo(")"))))),
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
  };
  store.on(["trace", "step"], draw);
}
