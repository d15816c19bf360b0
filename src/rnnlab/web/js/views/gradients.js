// Section 5, the vanishing gradient problem: ||dL/dh_t|| across time for RNN, LSTM and GRU on the same
// input (POST /api/gradients/norms), every remedy as a control, the numbers behind "why", a before/after
// list of the remedies, and a gradient check (POST /api/gradients/check). No model logic here.

import { el, labelFor, num, debounce, focusableIfScrolls } from "../format.js";
import { render } from "../plot.js";
import { NEGATIVE, POSITIVE, PREDICTION, MUTED, GRID, INK } from "../theme.js";

const CELLS = ["rnn", "lstm", "gru"];
const LABEL = { rnn: "Vanilla RNN", lstm: "LSTM", gru: "GRU" };
const COLOUR = { rnn: NEGATIVE, lstm: POSITIVE, gru: PREDICTION };
const FACTOR_LABEL = {
  act_derivative: "mean activation derivative act′(a_t)",
  forget: "mean forget gate f_t (the cell path's factor)",
  update: "mean update gate z_t (the carry path's factor)",
  candidate_derivative: "mean 1 − tanh² of the candidate",
};
// Each remedy: what it changes, measured as ||dL/dh_1|| / ||dL/dh_T|| (or the update norm for clipping).
const REMEDIES = [
  { name: "Gating (LSTM), as initialized", cell: "lstm", before: {}, after: {}, beforeCell: "rnn" },
  { name: "Gating (LSTM), forget-gate bias +2", cell: "lstm", before: {}, after: { forget_bias: 2 }, beforeCell: "rnn" },
  { name: "Identity init + ReLU (IRNN)", cell: "rnn", before: {}, after: { init: "identity", activation: "relu" } },
  { name: "Orthogonal init", cell: "rnn", before: {}, after: { init: "orthogonal" } },
  { name: "Skip across time (K = 10)", cell: "rnn", before: {}, after: { time_skip: 10 } },
  { name: "Attention read-out (dot)", cell: "rnn", before: {}, after: { attention: "dot" } },
  { name: "Clipping an exploding RNN (norm 1)", cell: "rnn", clip: true,
    before: { activation: "relu", init: "identity", recurrent_scale: 1.2 },
    after: { activation: "relu", init: "identity", recurrent_scale: 1.2, clip: "norm", clip_threshold: 1 } },
];

let ctx = null; // { store, api, nodes }

export async function init({ store, api, root }) {
  if (!root) return;
  const options = await api.gradients.options();
  ctx = { store, api, options, nodes: build(root, options) };
  store.set({ gradControls: { ...options.defaults }, gradCell: "rnn", gradData: null, gradCheck: null });
  store.on(["gradControls"], debounce(refresh, 80));
  store.on(["gradData", "gradCell"], draw);
  store.on(["gradCheck"], drawCheck);
  await refresh();
  remedies();
}

function set(patch) {
  const { store } = ctx;
  store.set({ gradControls: { ...store.get().gradControls, ...patch }, gradCheck: null });
}

function select(options, current, attrs, onChange) {
  const node = el("select", attrs, options.map(([v, label]) => el("option", { value: v, selected: v === current, text: label })));
  node.addEventListener("change", () => onChange(node.value));
  return node;
}

function slider({ min, max, step, value, testid, label, onChange, digits = 0 }) {
  const shown = el("span", { class: "value", text: Number(value).toFixed(digits) });
  const input = el("input", { type: "range", min, max, step, value, "data-testid": testid, "aria-label": label });
  input.addEventListener("input", () => { shown.textContent = Number(input.value).toFixed(digits); });
  input.addEventListener("change", () => onChange(Number(input.value)));
  return el("div", { class: "field" }, labelFor(input, el("span", { text: label }), shown), input);
}

function field(label, control, help = null) {
  return el("div", { class: "field" }, labelFor(control, el("span", { text: label })), control,
    help ? el("p", { class: "help", text: help }) : null);
}

function build(root, options) {
  const d = options.defaults;
  const lim = options.limits;
  root.className = "gradients";
  root.replaceChildren();
  const cell = select(CELLS.map((c) => [c, LABEL[c]]), "rnn", { "data-testid": "gradient-cell" },
    (v) => ctx.store.set({ gradCell: v, gradCheck: null }));
  const clipThreshold = el("input", { type: "number", min: lim.clip_threshold[0], max: lim.clip_threshold[1], step: 0.1,
    value: d.clip_threshold, "aria-label": "Clipping threshold" });
  clipThreshold.addEventListener("change", () => {
    const v = Math.min(lim.clip_threshold[1], Math.max(lim.clip_threshold[0], Number(clipThreshold.value) || 1));
    clipThreshold.value = v;
    set({ clip_threshold: v });
  });
  const controls = el("aside", { class: "panel config", "aria-label": "Gradient controls" },
    el("h3", { text: "Controls (shared by the three cells)" }),
    el("div", { class: "form" },
      field("Cell for the numbers and the check", cell),
      slider({ min: lim.seq_len[0], max: lim.seq_len[1], step: 1, value: d.seq_len, testid: "gradient-seq-len",
        label: "Sequence length T", onChange: (v) => set({ seq_len: v, time_skip: Math.min(ctx.store.get().gradControls.time_skip, v - 1) }) }),
      slider({ min: 0, max: lim.recurrent_scale[1], step: 0.05, value: d.recurrent_scale, testid: "gradient-scale",
        label: "Recurrent scale (× W_hh)", digits: 2, onChange: (v) => set({ recurrent_scale: v }) }),
      slider({ min: 0, max: lim.forget_bias[1], step: 0.5, value: d.forget_bias, testid: "gradient-forget-bias",
        label: "Forget-gate bias (LSTM)", digits: 1, onChange: (v) => set({ forget_bias: v }) }),
      el("p", { class: "help", text: "Added to the forget gate's bias. The cell path keeps f = σ(bias + …) of its gradient each step: σ(0) = 0.5, σ(2) = 0.88." }),
      field("Activation (vanilla RNN)", select([["tanh", "tanh"], ["relu", "ReLU"]], d.activation,
        { "data-testid": "gradient-activation" }, (v) => set({ activation: v }))),
      field("Initialization", select([["pytorch", "PyTorch default"], ["xavier", "Xavier"], ["orthogonal", "Orthogonal"],
        ["identity", "Identity (IRNN)"]], d.init, { "data-testid": "gradient-init" }, (v) => set({ init: v }))),
      field("Gradient clipping", el("div", { class: "row" },
        select([["none", "off"], ["norm", "by global norm"], ["value", "by value"]], d.clip,
          { "data-testid": "gradient-clip" }, (v) => set({ clip: v })), clipThreshold),
      "Clipping rescales the gradient (dashed curves); it bounds the update, it cannot restore a vanished gradient."),
      slider({ min: 0, max: lim.time_skip[1], step: 1, value: d.time_skip, testid: "gradient-skip",
        label: "Skip across time K (0 = off)", onChange: (v) => set({ time_skip: Math.min(v, ctx.store.get().gradControls.seq_len - 1) }) }),
      field("Attention read-out", select([["none", "off"], ["dot", "dot-product"], ["additive", "additive"]], d.attention,
        { "data-testid": "gradient-attention" }, (v) => set({ attention: v })))));
  const plot = el("div", { class: "plot", "data-testid": "gradient-norms", id: "gradient-norms" });
  const status = el("p", { class: "status", "aria-live": "polite" });
  const why = el("div", { class: "grad-why", "data-testid": "gradient-why" });
  const product = el("div", { class: "plot plot-small", id: "gradient-product" });
  const remedyTable = el("div", { class: "grad-remedies", "data-testid": "gradient-remedies" }, el("p", { class: "hint", text: "measuring…" }));
  const checkOut = el("div", { class: "grad-check-out", "data-testid": "gradient-check-result" });
  const checkButton = el("button", { type: "button", "data-testid": "gradient-check", onclick: runCheck },
    "Check the gradients");
  const main = el("div", { class: "viz-main" },
    el("div", { class: "panel" }, el("div", { class: "panel-head" }, el("h3", { text: "‖∂L/∂h_t‖ across time (log scale)" }),
      el("span", { class: "hint", text: "loss at the last step of remember-the-first-symbol; same input and seed for all" })),
    plot, status),
    el("div", { class: "panel" }, el("h3", { text: "Why it happens, in this model's numbers" }), why, product),
    el("div", { class: "panel" }, el("h3", { text: "The remedies, before and after (T = 50, H = 16)" }), remedyTable),
    el("div", { class: "panel" }, el("div", { class: "panel-head" }, el("h3", { text: "Check the gradients" }), checkButton),
      el("p", { class: "hint", text: "The hand-written BPTT gradient beside a finite-difference one, on a small copy of the current model " +
        `(T ≤ ${options.check_limits.seq_len}, H ≤ ${options.check_limits.hidden_size}).` }), checkOut));
  root.append(el("div", { class: "viz-layout" }, controls, main));
  return { plot, status, why, product, remedyTable, checkOut, checkButton };
}

async function refresh() {
  const { store, api, nodes } = ctx;
  nodes.status.classList.remove("error");
  try {
    store.set({ gradData: await api.gradients.norms(store.get().gradControls) });
    nodes.status.textContent = "";
  } catch (e) {
    nodes.status.textContent = e.message;
    nodes.status.classList.add("error");
  }
}

const finite = (v) => (v === null || v === undefined || !Number.isFinite(v) || v <= 0 ? null : v);

function draw(state) {
  const data = state.gradData;
  if (!data) return;
  const { nodes } = ctx;
  const traces = [];
  const clipping = data.spec.clip !== "none";
  for (const c of CELLS) {
    const curve = data.cells[c];
    const x = curve.norms.map((_, t) => t + 1);
    traces.push({ x, y: curve.norms.map(finite), name: LABEL[c], mode: "lines", line: { color: COLOUR[c], width: c === state.gradCell ? 3 : 2 } });
    if (clipping) {
      traces.push({ x, y: curve.clipped_norms.map(finite), name: `${LABEL[c]}, clipped`, mode: "lines",
        line: { color: COLOUR[c], dash: "dash", width: 1.5 } });
    }
  }
  render(nodes.plot, { data: traces, layout: {
    margin: { l: 75, r: 10, t: 30, b: 45 }, height: 340, legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
    xaxis: { title: { text: "time step t" }, gridcolor: GRID }, yaxis: { title: { text: "‖∂L/∂h<sub>t</sub>‖" }, type: "log", gridcolor: GRID, exponentformat: "power" },
    font: { color: INK } } });
  drawWhy(data, state.gradCell);
}

function drawWhy(data, cell) {
  const { nodes } = ctx;
  const c = data.cells[cell];
  const T = c.norms.length;
  const rows = [
    ["‖∂L/∂h_1‖ / ‖∂L/∂h_T‖", sci(c.ratio)],
    ["spectral radius of W_hh" + (c.gates.length > 1 ? ` (gates ${c.gates.join(", ")})` : ""), c.spectral_radius.map((v) => num(v, 3)).join(", ")],
    ["‖W_hh‖₂", c.weight_hh_norm.map((v) => num(v, 3)).join(", ")],
    ...Object.entries(c.factor_means).map(([k, v]) => [FACTOR_LABEL[k] || k, num(v, 3)]),
    ["running product ‖∂h_T/∂h_1‖ of the step Jacobians", sci(c.product_to_end[0])],
    ["parameter-gradient norm (after clipping)", `${num(c.param_norm, 3)} (${num(c.param_norm_clipped, 3)})`],
  ];
  const first = Object.entries(c.factor_means)[0];
  let explain = "";
  if (cell === "rnn" && first && first[1] !== null && c.spectral_radius[0] !== null) {
    // the vanilla RNN's step Jacobian is diag(act'(a_t)) W_hh; over many steps the product grows or
    // shrinks about as (spectral radius of W_hh x mean act')^steps
    const step = c.spectral_radius[0] * first[1];
    explain = `Each step multiplies the gradient by diag(act′(a_t)) W_hh. Over many steps that product grows or ` +
      `shrinks about as the spectral radius of W_hh times the mean act′: ${num(c.spectral_radius[0], 3)} × ` +
      `${num(first[1], 3)} = ${num(step, 3)} per step, and ${num(step, 3)}^${T - 1} = ${sci(step ** (T - 1))}. ` +
      "Products of factors below 1 shrink exponentially, above 1 they explode.";
  } else if (first && first[1] !== null) {
    explain = `Each step multiplies the gradient by a Jacobian built from W_hh and these factors. With a ` +
      `${FACTOR_LABEL[first[0]].split(" (")[0]} of ${num(first[1], 3)}, ${num(first[1], 3)}^${T - 1} = ` +
      `${sci(first[1] ** (T - 1))}: products of factors below 1 shrink exponentially, above 1 they explode.`;
  }
  nodes.why.replaceChildren(
    el("table", { class: "grad-table" }, rows.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v })))),
    el("p", { class: "help", text: explain + (c.exact_paths ? "" : " (With skip or attention on, the Jacobians describe the plain recurrence only; the gradient also takes the short paths.)") }));
  const x = c.product_to_end.map((_, t) => t + 1);
  render(nodes.product, { data: [
    { x, y: c.product_to_end.map(finite), name: "‖∂h<sub>T</sub>/∂h<sub>t</sub>‖ (running product)", mode: "lines", line: { color: COLOUR[cell] } },
    { x, y: c.jacobian_norms.map(finite), name: "‖∂h<sub>t</sub>/∂h<sub>t−1</sub>‖ (one step)", mode: "lines", line: { color: MUTED, dash: "dot" } },
  ], layout: { margin: { l: 60, r: 10, t: 30, b: 40 }, height: 240,
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" }, // above the plot: below, it ran into the axis title
    xaxis: { title: { text: "time step t" }, gridcolor: GRID }, yaxis: { type: "log", gridcolor: GRID, exponentformat: "power" } } });
}

function sci(v) {
  if (v === null || v === undefined) return "overflow";
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : num(v, 3);
}

const exact = (v) => (v === null || v === undefined ? "overflow" : v.toExponential(6));

// A measured cell: "ratio 1.3e-16"; the number never breaks across lines (at its "-" on a phone).
const measured = (v) => (Array.isArray(v)
  ? el("td", {}, `${v[0]} `, el("span", { class: "nowrap", text: v[1] }))
  : el("td", { text: v }));

async function remedies() {
  const { api, nodes, options } = ctx;
  const base = { ...options.defaults, seq_len: 50, hidden_size: 16 };
  const rows = [];
  for (const r of REMEDIES) {
    try {
      const [before, after] = await Promise.all([
        api.gradients.norms({ ...base, ...r.before }), api.gradients.norms({ ...base, ...r.after })]);
      const b = before.cells[r.beforeCell || r.cell];
      const a = after.cells[r.cell];
      rows.push(r.clip
        ? [r.name, ["update norm", sci(b.param_norm)], ["update norm", sci(a.param_norm_clipped)]]
        : [r.name, ["ratio", sci(b.ratio)], ["ratio", sci(a.ratio)]]);
    } catch (e) {
      rows.push([r.name, "–", e.message]);
    }
  }
  nodes.remedyTable.replaceChildren(el("table", { class: "grad-table" },
    el("tr", {}, el("th", { text: "remedy" }), el("th", { text: "before (tanh RNN, PyTorch init)" }), el("th", { text: "after" })),
    rows.map((cells) => el("tr", {}, cells.map((v, i) => (i ? measured(v) : el("th", { text: v })))))),
  el("p", { class: "help", text: "ratio = ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ over 50 steps: how much of the error signal reaches the first step." }));
}

async function runCheck() {
  const { store, api, nodes, options } = ctx;
  const s = store.get();
  const lim = options.check_limits;
  const controls = { ...s.gradControls, seq_len: Math.min(s.gradControls.seq_len, lim.seq_len),
    hidden_size: Math.min(s.gradControls.hidden_size, lim.hidden_size) };
  controls.time_skip = Math.min(controls.time_skip, controls.seq_len - 1);
  nodes.checkButton.disabled = true;
  nodes.checkOut.replaceChildren(el("p", { class: "hint", text: "computing finite differences…" }));
  try {
    store.set({ gradCheck: await api.gradients.check({ cell: s.gradCell, controls }) });
  } catch (e) {
    nodes.checkOut.replaceChildren(el("p", { class: "status error", text: e.message }));
  } finally {
    nodes.checkButton.disabled = false;
  }
}

function drawCheck(state) {
  const r = state.gradCheck;
  if (!r) { ctx.nodes.checkOut.replaceChildren(); return; }
  const what = `${LABEL[r.cell]}, T = ${r.spec.seq_len}, H = ${r.spec.hidden_size}`;
  let text;
  if (!r.ok) {
    text = `${what}: BPTT and finite differences DISAGREE (largest relative error ${sci(r.max_relative_error)}, ` +
      `tolerance ${sci(r.tolerance)}; ${r.method}).`;
  } else if (r.unresolved.length) {
    // an exploding or kinked network: finite differences themselves cannot be trusted for some parameters
    text = `${what}: BPTT and finite differences agree on every parameter they can judge (tolerance ` +
      `${sci(r.tolerance)}; ${r.method}). For ${r.unresolved.join(", ")} they cannot judge: with the loss at ` +
      `${sci(r.loss)} they change with their own step size or fall below the loss's rounding, so their numbers there ` +
      "say nothing about BPTT. Lower the recurrent scale to check those too.";
  } else {
    text = `${what}: BPTT and finite differences agree (largest relative error ${sci(r.max_relative_error)}, ` +
      `tolerance ${sci(r.tolerance)}; ${r.method}).`;
  }
  const head = el("p", { class: !r.ok ? "badge error" : r.unresolved.length ? "badge warn" : "badge ok", text });
  const table = el("table", { class: "grad-table grad-check" },
    el("tr", {}, ["parameter", "relative error", "BPTT (first entries)", "finite differences"].map((t) => el("th", { text: t }))),
    r.parameters.map((p) => el("tr", {}, el("th", { text: `${p.name} ${p.shape.join("×")}` }),
      el("td", { text: sci(p.relative_error) + (p.resolvable ? "" : " (cannot judge)") }),
      el("td", { class: "mono", text: p.analytic.slice(0, 3).map(exact).join("  ") }),
      el("td", { class: "mono", text: p.numeric.slice(0, 3).map(exact).join("  ") }))));
  ctx.nodes.checkOut.replaceChildren(head, table);
  focusableIfScrolls(ctx.nodes.checkOut, "gradient check table (scrolls sideways)");
}
