// Character-level text generation: model, prompt, temperature (with its three bands), length and
// Generate; the output streams in character by character over a WebSocket, each character
// clickable and colourable by surprisal or by one hidden unit.

import { store } from "../store.js";
import { api } from "../api.js";
import { el, labelFor, displayChar, debounce, decodeHidden, num } from "../format.js";
import { BANDS, diverging, surprisalShade } from "../theme.js";

const T_MIN = 0.1, T_MAX = 2.0;
const BAND_RANGES = { conservative: [0.1, 0.5], balanced: [0.8, 1.2], creative: [1.5, 2.0] };
const BAND_TEXT = {
  conservative: "0.1–0.5 conservative: safe, repetitive",
  balanced: "0.8–1.2 balanced",
  creative: "1.5–2.0 creative, possibly nonsensical",
};

function bandOf(t) {
  for (const [name, [lo, hi]] of Object.entries(BAND_RANGES)) if (t >= lo - 1e-9 && t <= hi + 1e-9) return name;
  return null;
}

const pct = (t) => `${((t - T_MIN) / (T_MAX - T_MIN)) * 100}%`;

function bandsRuler() {
  const ruler = el("div", { class: "temp-bands", "aria-hidden": "true" });
  for (const [name, [lo, hi]] of Object.entries(BAND_RANGES)) {
    ruler.append(el("span", { style: `left:${pct(lo)};width:calc(${pct(hi)} - ${pct(lo)});background:${BANDS[name]}` }));
    ruler.append(el("em", { style: `left:calc((${pct(lo)} + ${pct(hi)}) / 2)`, text: name }));
  }
  return ruler;
}

export function initGeneration() {
  const root = document.getElementById("gen-controls");
  const output = document.getElementById("generated-output");
  const status = document.getElementById("gen-status");
  const modeRoot = document.getElementById("color-mode");
  const gen = store.get().gen;

  const model = el("select", { "data-testid": "model-select", "aria-label": "Model" });
  const prompt = el("textarea", { rows: 3, "data-testid": "prompt", "aria-label": "Prompt", maxlength: 2000 });
  prompt.value = gen.prompt;
  const tValue = el("span", { class: "value", "data-testid": "temperature-value", text: gen.temperature.toFixed(2) });
  const temperature = el("input", { type: "range", min: T_MIN, max: T_MAX, step: 0.05, value: gen.temperature, "data-testid": "temperature", "aria-label": "Temperature" });
  const bandNote = el("p", { class: "band-note" });
  const length = el("input", { type: "number", min: 1, max: 5000, step: 1, value: gen.length, "data-testid": "gen-length", "aria-label": "Length" });
  const seed = el("input", { type: "number", min: 0, step: 1, placeholder: "random", "data-testid": "gen-seed", "aria-label": "Seed" });
  const generate = el("button", { type: "button", class: "primary", "data-testid": "generate", text: "Generate" });
  const stop = el("button", { type: "button", "data-testid": "stop", text: "Stop", disabled: true });
  let job = null;

  const field = (label, control, extra = null) => el("div", { class: "field" }, labelFor(control, el("span", { text: label }), extra), control);
  root.replaceChildren(
    field("Model", model),
    field("Prompt", prompt),
    field("Temperature", el("div", {}, temperature, bandsRuler()), tValue),
    bandNote,
    el("div", { class: "row" }, field("Length", length), field("Seed", seed)),
    el("div", { class: "row" }, generate, stop),
  );

  const showBand = (t) => {
    const band = bandOf(t);
    // the band's colour as a swatch; the words stay dark enough to read on white
    bandNote.replaceChildren(band ? el("span", { class: "band-dot", style: `background:${BANDS[band]}` }) : "",
      band ? BAND_TEXT[band] : "between the bands");
  };
  showBand(gen.temperature);

  const setGen = (patch) => store.set({ gen: { ...store.get().gen, ...patch }, distSource: "prompt" });
  temperature.addEventListener("input", () => {
    const t = Number(temperature.value);
    tValue.textContent = t.toFixed(2);
    showBand(t);
    setGen({ temperature: t });
  });
  prompt.addEventListener("input", debounce(() => setGen({ prompt: prompt.value }), 250));
  length.addEventListener("change", () => {
    const v = Math.max(1, Math.min(5000, Math.round(Number(length.value) || 1)));
    length.value = v;
    setGen({ length: v });
  });
  model.addEventListener("change", () => setGen({ model: model.value }));

  // ---- colour modes -------------------------------------------------------------------------
  const modes = [["plain", "Plain"], ["surprisal", "Surprisal"], ["unit", "Hidden unit"]];
  const modeButtons = modes.map(([value, label]) => el("button", { type: "button", "data-mode": value, text: label, onclick: () => store.set({ colorMode: value }) }));
  const unitLayer = el("select", { "aria-label": "Layer" });
  const unitIndex = el("input", { type: "number", min: 0, value: 0, "aria-label": "Unit" });
  const unitPicker = el("span", { class: "unit-picker" }, "layer", unitLayer, "unit", unitIndex);
  unitLayer.addEventListener("change", () => store.set({ unit: { ...store.get().unit, layer: Number(unitLayer.value) } }));
  unitIndex.addEventListener("change", () => store.set({ unit: { ...store.get().unit, index: Math.max(0, Number(unitIndex.value) || 0) } }));
  modeRoot.replaceChildren(el("div", { class: "segmented" }, modeButtons), unitPicker);
  modeRoot.style.display = "flex";
  modeRoot.style.gap = "0.5rem";
  modeRoot.style.flexWrap = "wrap";

  // ---- output -------------------------------------------------------------------------------
  let spans = [];
  const colourOf = (s, i) => {
    const run = s.run;
    if (!run) return "";
    if (s.colorMode === "surprisal") return surprisalShade(run.steps[i].S, 8);
    if (s.colorMode === "unit") {
      const next = run.steps[i + 1];
      if (!next) return "";
      const v = (next.h[s.unit.layer] || [])[s.unit.index];
      return v === undefined ? "" : diverging(v, 1);
    }
    return "";
  };
  const paint = (s, from = 0) => {
    for (let i = Math.max(0, from - 1); i < spans.length; i++) spans[i].style.background = colourOf(s, i);
  };
  const append = (s) => {
    const run = s.run;
    if (!run) return;
    const frag = document.createDocumentFragment();
    const from = spans.length;
    for (let i = from; i < run.steps.length; i++) {
      const c = run.steps[i].c;
      const span = el("span", { class: "ch", "data-i": i, title: `“${displayChar(c)}” p=${num(run.steps[i].p, 3)}, ${num(run.steps[i].S, 2)} bits` });
      span.textContent = c;
      spans.push(span);
      frag.append(span);
    }
    output.append(frag);
    paint(s, from);
    if (s.selected === null) output.scrollTop = output.scrollHeight;
  };
  const reset = (s) => {
    spans = [];
    const children = [el("span", { class: "prompt", text: s.gen.prompt })];
    output.replaceChildren(...children);
  };
  output.addEventListener("click", (event) => {
    const span = event.target.closest(".ch");
    if (span) store.set({ selected: Number(span.dataset.i), distSource: "run" });
  });

  store.on("runVersion", append);
  store.on(["colorMode", "unit"], (s) => {
    for (const b of modeButtons) b.setAttribute("aria-pressed", String(b.dataset.mode === s.colorMode));
    unitPicker.hidden = s.colorMode !== "unit";
    paint(s);
  });
  store.on("selected", (s) => {
    output.querySelectorAll(".ch.selected").forEach((n) => n.classList.remove("selected"));
    if (s.selected !== null && spans[s.selected]) spans[s.selected].classList.add("selected");
  });
  for (const b of modeButtons) b.setAttribute("aria-pressed", String(b.dataset.mode === "plain"));
  unitPicker.hidden = true;

  // ---- running ------------------------------------------------------------------------------
  const setRunning = (running) => {
    generate.disabled = running || !store.get().gen.model;
    stop.disabled = !running;
  };

  generate.addEventListener("click", () => {
    const s = store.get();
    if (!s.gen.model || job) return;
    const body = { model: s.gen.model, prompt: prompt.value, length: Number(length.value), temperature: Number(temperature.value) };
    if (seed.value !== "") body.seed = Math.max(0, Math.round(Number(seed.value)));
    const run = { running: true, steps: [], vocab: [], firstInput: "\n", maxEntropy: 1, figure: null, numLayers: 1, hiddenSize: 1, started: performance.now() };
    store.set({ gen: { ...s.gen, prompt: prompt.value }, run, selected: null, distSource: "run", runVersion: 0 });
    reset(store.get());
    status.classList.remove("error");
    status.textContent = "Generating…";
    setRunning(true);
    let version = 0;
    job = api.generate(body, {
      start: (msg) => {
        Object.assign(run, { vocab: msg.vocab, firstInput: msg.first_input, maxEntropy: msg.max_entropy, figure: msg.figure, numLayers: msg.num_layers, hiddenSize: msg.hidden_size });
        unitLayer.replaceChildren(...Array.from({ length: msg.num_layers }, (_, k) => el("option", { value: k, text: String(k) })));
        unitIndex.max = msg.hidden_size - 1;
      },
      steps: (msg) => {
        if (!run.steps.length) run.firstAt = performance.now();
        for (const step of msg.steps) {
          step.h = decodeHidden(step.hs, step.hq, run.numLayers, run.hiddenSize);
          run.steps.push(step);
        }
        store.set({ runVersion: ++version });
      },
      done: (msg) => {
        run.running = false;
        job = null;
        setRunning(false);
        // as this page received them, rendering included: the wait for the first character (connection,
        // reading the prompt), then the streaming rate from the first character to the last
        const now = performance.now();
        const n = run.steps.length;
        const first = ((run.firstAt || now) - run.started) / 1000;
        const rate = n > 1 ? (n - 1) / Math.max(1e-3, (now - run.firstAt) / 1000) : 0;
        status.dataset.charsPerSecond = String(Math.round(rate));
        status.dataset.firstCharSeconds = first.toFixed(3);
        status.textContent = `${n} characters in ${((now - run.started) / 1000).toFixed(2)} s: the first after ${first.toFixed(2)} s, then ${Math.round(rate)} characters/s${msg.stopped ? "; stopped" : ""}${msg.timed_out ? "; time limit reached" : ""}.`;
        store.set({ runVersion: ++version });
      },
      error: (msg) => {
        run.running = false;
        job = null;
        setRunning(false);
        status.classList.add("error");
        status.textContent = msg.message;
      },
      close: () => {
        if (job) {
          job = null;
          run.running = false;
          setRunning(false);
        }
      },
    });
  });
  stop.addEventListener("click", () => job && job.stop());

  // ---- models -------------------------------------------------------------------------------
  store.on("models", (s) => {
    const list = s.models;
    const usable = list.models.filter((mm) => mm.available);
    model.replaceChildren(...usable.map((mm) => el("option", { value: mm.id, text: `${mm.name} (${mm.cell.toUpperCase()} ${mm.num_layers}×${mm.hidden_size})` })));
    if (!usable.length) {
      model.append(el("option", { value: "", text: "no model available" }));
      model.disabled = prompt.disabled = temperature.disabled = length.disabled = true;
      const parts = (list.message || "No model is available.").split("`"); // `code` in the message
      output.replaceChildren(el("p", { class: "empty", "data-testid": "no-model" },
        parts.map((part, k) => (k % 2 ? el("code", { text: part }) : part))));
      document.getElementById("generation").classList.add("no-model");
      status.textContent = "";
    } else {
      output.replaceChildren(el("p", { class: "empty", text: "Press Generate: the text appears here character by character. Click any character to see the distribution it was drawn from." }));
    }
    setGen({ model: list.default });
    setRunning(false);
  });
}
