// Network Configuration and Sequence Type panels: forms built from GET /api/visualizer/options.
// Writes store.network and store.sequence; main.js fetches a new trace when they change.

import { store } from "../store.js";
import { el, labelFor, debounce } from "../format.js";

const CELL_LABELS = { rnn: "Vanilla RNN", lstm: "LSTM", gru: "GRU" };
const INIT_LABELS = {
  pytorch: "PyTorch default (uniform)",
  xavier: "Xavier / Glorot",
  orthogonal: "Orthogonal W_hh",
  identity: "Identity W_hh (IRNN)",
};

function field(label, control, { value = null, help = null } = {}) {
  return el("div", { class: "field" },
    labelFor(control, el("span", { text: label }), value),
    control,
    help ? el("p", { class: "help", text: help }) : null);
}

function select(options, current, attrs = {}) {
  const node = el("select", attrs);
  for (const [value, label] of options) {
    node.append(el("option", { value, selected: value === current, text: label }));
  }
  return node;
}

// a number box and a slider kept in step; calls onChange(number) (clamped to [min, max])
function numberAndSlider({ min, max, step, value, testid, label, onChange }) {
  const box = el("input", { type: "number", min, max, step, value, "data-testid": testid, "aria-label": label });
  const slider = el("input", { type: "range", min, max, step, value, "aria-label": `${label} slider` });
  const commit = (raw) => {
    let v = Number(raw);
    if (!Number.isFinite(v)) return;
    v = Math.min(max, Math.max(min, v));
    box.value = v;
    slider.value = v;
    onChange(v);
  };
  box.addEventListener("change", () => commit(box.value));
  slider.addEventListener("input", () => { box.value = slider.value; });
  slider.addEventListener("change", () => commit(slider.value));
  return { node: el("div", { class: "row" }, slider, box), box, slider };
}

function setNetwork(patch) {
  store.set({ network: { ...store.get().network, ...patch }, trainedId: null });
}

function setSequence(patch) {
  const s = store.get();
  const next = { ...s.sequence, ...patch };
  // a trained network keeps its weights for other examples of the same type
  const keep = s.trainedId && next.type === s.sequence.type;
  store.set({ sequence: next, trainedId: keep ? s.trainedId : null });
}

function buildNetwork(root, options) {
  const net = store.get().network;
  const lim = options.limits;
  const cell = select(options.cells.map((c) => [c, CELL_LABELS[c] || c]), net.cell, { "data-testid": "cell-type" });
  cell.addEventListener("change", () => setNetwork({ cell: cell.value }));
  const hidden = numberAndSlider({
    min: lim.hidden_size[0], max: lim.hidden_size[1], step: 1, value: net.hidden_size,
    testid: "hidden-size", label: "Hidden size", onChange: (v) => setNetwork({ hidden_size: v }),
  });
  const activation = select(options.activations.map((a) => [a, a]), net.activation, { "data-testid": "activation" });
  activation.addEventListener("change", () => setNetwork({ activation: activation.value }));
  const init = select(options.inits.map((i) => [i, INIT_LABELS[i] || i]), net.init, { "data-testid": "init" });
  init.addEventListener("change", () => setNetwork({ init: init.value }));
  const scaleValue = el("span", { class: "value", text: net.recurrent_scale.toFixed(2) });
  const scale = el("input", {
    type: "range", min: 0, max: lim.recurrent_scale[1], step: 0.05, value: net.recurrent_scale,
    "data-testid": "recurrent-scale", "aria-label": "Recurrent weight scale",
  });
  scale.addEventListener("input", () => { scaleValue.textContent = Number(scale.value).toFixed(2); });
  scale.addEventListener("change", () => setNetwork({ recurrent_scale: Number(scale.value) }));
  const seed = el("input", { type: "number", min: 0, max: lim.seed[1], step: 1, value: net.seed, "data-testid": "seed", "aria-label": "Seed" });
  seed.addEventListener("change", () => {
    const v = Math.max(0, Math.min(lim.seed[1], Math.round(Number(seed.value) || 0)));
    seed.value = v;
    setNetwork({ seed: v });
  });
  const reroll = el("button", { type: "button", title: "New random seed", text: "New seed" });
  reroll.addEventListener("click", () => {
    const v = Math.floor(Math.random() * 10000);
    seed.value = v;
    setNetwork({ seed: v });
  });

  root.replaceChildren(
    field("Cell", cell),
    field("Hidden size", hidden.node, { help: `${lim.hidden_size[0]}–${lim.hidden_size[1]} units` }),
    field("Activation", activation, { help: "Vanilla RNN only; LSTM and GRU use sigmoid gates and tanh." }),
    field("Initialization", init),
    field("Recurrent weight scale", scale, { value: scaleValue, help: "W_hh is multiplied by this: < 1 forgets faster, > 1 can explode." }),
    field("Seed", el("div", { class: "row" }, seed, reroll)),
  );
  store.on("network", (s) => {
    cell.value = s.network.cell;
    activation.disabled = s.network.cell !== "rnn";
    hidden.box.value = s.network.hidden_size;
    hidden.slider.value = s.network.hidden_size;
  });
  activation.disabled = net.cell !== "rnn";
}

function buildSequence(root, options) {
  const seq = store.get().sequence;
  const types = options.sequence_types;
  const typeOf = (name) => types.find((t) => t.name === name) || types[0];
  const type = select(types.map((t) => [t.name, t.label]), seq.type, { "data-testid": "sequence-type" });
  const example = el("select", { "data-testid": "sequence-example" });
  const description = el("p", { class: "help" });
  const text = el("textarea", { rows: 3, "data-testid": "sequence-text", "aria-label": "Free input", maxlength: options.limits.text ? options.limits.text[1] : 400 });
  const textField = field("Your sequence", text, { help: "Numbers separated by commas (the network predicts the next value) or any text (the next character)." });
  const length = numberAndSlider({
    min: options.limits.length[0], max: options.limits.length[1], step: 1, value: seq.length,
    testid: "sequence-length", label: "Length", onChange: (v) => setSequence({ length: v }),
  });

  const fillExamples = (t) => {
    example.replaceChildren(...t.examples.map((e) => el("option", { value: e.name, text: e.label })));
  };
  const refresh = (s) => {
    const t = typeOf(s.sequence.type);
    type.value = t.name;
    if (example.dataset.type !== t.name) {
      fillExamples(t);
      example.dataset.type = t.name;
    }
    example.value = s.sequence.example || t.examples[0].name;
    const ex = t.examples.find((e) => e.name === example.value);
    description.textContent = `${t.description}${ex && ex.description ? " Example: " + ex.description + "." : ""}`;
    textField.hidden = t.name !== "free";
    if (t.name === "free" && !text.value) text.placeholder = "0, 1, 0.5, -0.5, 1, 0   or   abracadabra";
  };

  type.addEventListener("change", () => {
    const t = typeOf(type.value);
    setSequence({ type: t.name, example: t.examples[0].name, text: "" });
    text.value = "";
  });
  example.addEventListener("change", () => setSequence({ example: example.value, text: "" }));
  text.addEventListener("input", debounce(() => setSequence({ text: text.value }), 400));

  root.replaceChildren(
    field("Sequence type", type),
    field("Sequence examples", example),
    description,
    textField,
    field("Length (time steps)", length.node),
  );
  refresh(store.get());
  store.on("sequence", refresh);
}

export function initConfig() {
  const options = store.get().options;
  buildNetwork(document.getElementById("network-config"), options);
  buildSequence(document.getElementById("sequence-config"), options);
}
