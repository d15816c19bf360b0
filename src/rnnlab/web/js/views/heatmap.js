// "Hidden state evolution": hidden units x time, diverging colours centred on 0 (blue positive,
// red negative), revealed up to the current step; below it the gates of an LSTM or GRU. The figure
// specs come from the server (rnnlab.viz); this view masks the future steps and marks the current one.

import { store } from "../store.js";
import { el, num } from "../format.js";
import { render, stepMarker } from "../plot.js";
import { HIGHLIGHT } from "../theme.js";

const GATE_HELP = {
  i: "Input gate i: how much of the candidate g is written into the cell (0 closed, 1 open).",
  f: "Forget gate f: how much of the previous cell state c is kept.",
  g: "Candidate g: the new content proposed for the cell (tanh, −1 to 1).",
  o: "Output gate o: how much of tanh(c) is exposed as h.",
  c: "Cell state c: the LSTM's long-term memory, updated additively.",
  r: "Reset gate r: how much of the previous state enters the candidate.",
  z: "Update gate z: how much of the previous state is kept (1) versus replaced by n (0).",
  n: "Candidate n: the new state proposed at this step (tanh).",
};

// the spec with z filled from values (T, H) as units x time, the columns after `step` hidden (null),
// and the current step outlined
function masked(spec, values, step) {
  const trace = spec.data[0];
  const H = values.length ? values[0].length : 0;
  const z = Array.from({ length: H }, (_, j) => values.map((row, t) => (t <= step ? row[j] : null)));
  const data = [{ ...trace, z }];
  return { data, layout: { ...spec.layout, shapes: [stepMarker(step, HIGHLIGHT)] } };
}

export function initHeatmap() {
  const hidden = document.getElementById("hidden-heatmap");
  const note = document.getElementById("heatmap-scale-note");
  const gatesRoot = document.getElementById("gates");
  let gateButtons = null;
  let gatePlot = null;
  let gateHelp = null;

  const draw = (s) => {
    if (!s.trace) return;
    const spec = masked(s.trace.figures.hidden, s.trace.hidden, s.step);
    spec.layout.annotations = []; // the legend is in the panel's header
    hidden.dataset.step = String(s.step);
    render(hidden, spec);
    scaleNote(s.trace);
    drawGate(s);
  };

  // unbounded units (ReLU) that explode: the colours span the largest |h|, and the rest looks white
  const scaleNote = (trace) => {
    const zmax = trace.figures.hidden.data[0].zmax;
    note.hidden = !(zmax > 100);
    if (note.hidden) return;
    const peak = trace.hidden.findIndex((row) => row.some((v) => Math.abs(v) >= zmax));
    note.textContent = `The colours span ±${num(zmax, 1)}, the largest |h| (at step ${peak}). The activations grow ` +
      "without bound, so the earlier steps look white next to it: the recurrent weights explode. " +
      "A smaller recurrent weight scale or tanh keeps them in range.";
  };

  const drawGate = (s) => {
    if (!gatePlot || !s.trace) return;
    const gates = s.trace.figures.gates;
    const name = gates[s.gate] ? s.gate : Object.keys(gates)[0];
    if (!name) return;
    const values = name === "c" ? s.trace.cell_state : s.trace.gates[name];
    render(gatePlot, masked(gates[name], values, s.step), { height: 260 });
    gateHelp.textContent = GATE_HELP[name] || "";
    for (const b of gateButtons.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.gate === name));
  };

  const buildGates = (s) => {
    const trace = s.trace;
    if (!trace) return;
    const names = Object.keys(trace.figures.gates);
    if (!names.length) {
      gatePlot = null;
      gatesRoot.replaceChildren(
        el("p", {}, "The vanilla RNN has no gates: every step computes hₜ = ",
          el("span", { text: trace.network.activation }), "(W", el("sub", { text: "xh" }), " xₜ + W",
          el("sub", { text: "hh" }), " hₜ₋₁ + b). Choose LSTM or GRU to see their gates."));
      return;
    }
    gateButtons = el("div", { class: "segmented", role: "group", "aria-label": "Gate" },
      names.map((n) => el("button", { type: "button", "data-gate": n, text: n, onclick: () => store.set({ gate: n }) })));
    gatePlot = el("div", { class: "plot", "data-testid": "gate-heatmap" });
    gateHelp = el("p");
    gatesRoot.replaceChildren(
      el("div", { class: "gate-head" }, el("h3", { text: trace.network.cell === "lstm" ? "LSTM gates and cell state" : "GRU gates" }), gateButtons),
      gatePlot, gateHelp);
  };

  store.on("trace", (s) => {
    buildGates(s);
    draw(s);
  });
  store.on("step", draw);
  store.on("gate", drawGate);
}
