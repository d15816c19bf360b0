// "Character probability distribution": the top 10 next characters, updated at every generated
// character (or for the clicked one), and the entropy against temperature for the prompt.
// Chart specs come from the server (rnnlab.viz); this view fills in the step's numbers.

import { store } from "../store.js";
import { api } from "../api.js";
import { debounce, displayChar, num, perFrame } from "../format.js";
import { render, showMessage } from "../plot.js";
import { HIGHLIGHT, PRIMARY } from "../theme.js";

export function focusedStep(s) {
  const run = s.run;
  if (!run || !run.steps.length) return null;
  const i = s.selected === null ? run.steps.length - 1 : s.selected;
  return { i, step: run.steps[i], prev: i > 0 ? run.steps[i - 1] : null, run };
}

export function initDistribution() {
  const chart = document.getElementById("next-char-distribution");
  const curve = document.getElementById("entropy-curve");
  const entropy = document.getElementById("entropy-value");
  const entropyMax = document.getElementById("entropy-max");
  let request = 0;

  const showPrompt = (s) => {
    const d = s.dist;
    if (!d) return;
    const spec = d.figures.distribution;
    const after = s.gen.prompt ? `“${displayChar(s.gen.prompt.slice(-1))}”` : "the start";
    render(chart, { data: spec.data, layout: { ...spec.layout, title: { ...spec.layout.title, text: `Top 10 next characters after ${after} (T = ${s.gen.temperature.toFixed(2)})` } } });
    render(curve, d.figures.entropy);
    entropy.textContent = num(d.entropy, 3);
    entropyMax.textContent = `(uniform: ${num(d.max_entropy, 2)})`;
    chart.dataset.source = "prompt";
  };

  const showStep = (s) => {
    const f = focusedStep(s);
    if (!f || !f.run.figure) return;
    const spec = f.run.figure;
    const chars = f.step.top.map(([c]) => c);
    const data = [{
      ...spec.data[0],
      x: chars.map(displayChar),
      y: f.step.top.map(([, p]) => p),
      text: f.step.top.map(([, p]) => p.toFixed(2)),
      marker: { color: chars.map((c) => (c === f.step.c ? HIGHLIGHT : PRIMARY)) },
    }];
    const input = f.prev ? f.prev.c : (s.gen.prompt ? s.gen.prompt.slice(-1) : f.run.firstInput);
    const title = `Step ${f.i}: after “${displayChar(input)}”, drew “${displayChar(f.step.c)}” (p = ${f.step.p.toFixed(3)})`;
    render(chart, { data, layout: { ...spec.layout, title: { ...spec.layout.title, text: title } } });
    entropy.textContent = num(f.step.H, 3);
    entropyMax.textContent = `(uniform: ${num(f.run.maxEntropy, 2)})`;
    chart.dataset.source = "run";
    chart.dataset.step = String(f.i);
  };

  const draw = perFrame(() => {
    const s = store.get();
    if (s.distSource === "run" && s.run && s.run.steps.length) showStep(s);
    else showPrompt(s);
  });

  const fetchDist = debounce(async () => {
    const s = store.get();
    if (!s.gen.model) return;
    const id = ++request;
    try {
      const dist = await api.distribution(s.gen.model, { prompt: s.gen.prompt, temperature: s.gen.temperature });
      if (id === request) store.set({ dist });
    } catch (e) {
      if (id === request) {
        entropy.textContent = "–";
        entropyMax.textContent = "";
        showMessage(chart, `No distribution: ${e.message}`);
        showMessage(curve, "No entropy curve for this prompt.");
      }
    }
  }, 120);

  store.on("gen", fetchDist);
  store.on(["dist", "distSource", "runVersion", "selected"], draw);
}
