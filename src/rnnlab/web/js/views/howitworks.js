// "How it works", with the live values of the focused generated character (the clicked one, else
// the latest): 1 the one-hot input, 2 the hidden-state update, 3 the softmax, 4 the sample.

import { store } from "../store.js";
import { el, displayChar, num, perFrame } from "../format.js";
import { diverging } from "../theme.js";
import { focusedStep } from "./distribution.js";

const UNITS_SHOWN = 512; // every unit of the top layer, small cells when there are many

function stage(n, title, ...body) {
  return el("div", { class: "stage" }, el("h4", {}, el("span", { class: "n", text: String(n) }), title), ...body);
}

function strip(values, zmax = 1) {
  const node = el("div", { class: values.length > 64 ? "strip dense" : "strip" });
  for (const v of values) {
    const cell = el("span", { title: num(v, 3) });
    cell.style.background = diverging(v, zmax);
    node.append(cell);
  }
  return node;
}

function oneHot(vocab, index) {
  const node = el("div", { class: "strip" });
  vocab.forEach((c, j) => node.append(el("span", { class: j === index ? "on" : null, title: displayChar(c) })));
  return node;
}

const UPDATE = {
  rnn: "hₜ = tanh(W_xh xₜ + W_hh hₜ₋₁ + b)",
  lstm: "cₜ = f ⊙ cₜ₋₁ + i ⊙ g,  hₜ = o ⊙ tanh(cₜ)",
  gru: "hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁",
};

export function initHowItWorks() {
  const root = document.getElementById("how-it-works");

  const draw = (s) => {
    const f = focusedStep(s);
    if (!f || !f.run.vocab.length) {
      root.replaceChildren(el("p", { class: "muted", text: "Generate some text: each stage below then shows the numbers of the latest character, or of the one you click." }));
      return;
    }
    const { step, prev, run, i } = f;
    const input = prev ? prev.c : (s.gen.prompt ? s.gen.prompt.slice(-1) : run.firstInput);
    const index = run.vocab.indexOf(input);
    const top = run.numLayers - 1;
    const h = step.h[top];
    const hPrev = prev ? prev.h[top] : null;
    const delta = hPrev ? Math.sqrt(h.reduce((a, v, j) => a + (v - hPrev[j]) ** 2, 0)) : null;
    const cell = (s.models && s.models.models.find((m) => m.id === s.gen.model)) || {};
    const best = step.top.slice(0, 5);
    const maxP = best.length ? best[0][1] : 1;

    root.replaceChildren(
      stage(1, "One-hot input",
        el("div", { class: "bigchar", text: displayChar(input) }),
        oneHot(run.vocab, index),
        el("p", { text: `xₜ is a vector of ${run.vocab.length} zeros with a single 1 at index ${index} (“${displayChar(input)}”).` })),
      stage(2, "Hidden-state update",
        el("div", { class: "eq", text: UPDATE[cell.cell] || UPDATE.rnn }),
        hPrev ? el("div", {}, el("span", { class: "small muted", text: "hₜ₋₁" }), strip(hPrev.slice(0, UNITS_SHOWN))) : el("p", { text: "hₜ₋₁: the state after the prompt." }),
        el("div", {}, el("span", { class: "small muted", text: "hₜ" }), strip(h.slice(0, UNITS_SHOWN))),
        el("p", { text: `${h.length <= UNITS_SHOWN ? "All" : `The first ${UNITS_SHOWN} of`} ${h.length} units of ${run.numLayers > 1 ? `the top layer (${top + 1} of ${run.numLayers})` : "the layer"} (blue positive, red negative)${delta === null ? "" : `; the state moved by ‖Δh‖ = ${num(delta, 2)}`}.` })),
      stage(3, "Softmax output",
        el("div", { class: "eq", text: `p = softmax((W_hy hₜ + b_y) / ${s.gen.temperature.toFixed(2)})` }),
        el("div", { class: "probs" }, best.flatMap(([c, p]) => [
          el("span", { text: displayChar(c) }),
          el("span", {}, el("div", { class: `bar${c === step.c ? " sampled" : ""}`, style: `width:${(p / maxP) * 100}%` })),
          el("span", { text: p.toFixed(3) }),
        ])),
        el("p", { text: `Entropy ${num(step.H, 2)} bits; the top 10 hold ${num(1 - step.rest, 3)} of the mass.` })),
      stage(4, "Sample",
        el("div", { class: "bigchar", text: displayChar(step.c) }),
        el("p", { text: `Drawn with probability ${num(step.p, 3)}: ${num(step.S, 2)} bits of surprisal. Character ${i} of the output; it becomes the next input.` })),
    );
  };

  store.on(["runVersion", "selected"], perFrame(draw));
  draw(store.get());
}
