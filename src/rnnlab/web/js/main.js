// Boot the page: load the options, build every view, fetch the first trace, then the models.
// Later sections add their module to SECTION_VIEWS (each exports init({ store, api, root })).

import { api, ApiError } from "./api.js";
import { store } from "./store.js";
import { debounce } from "./format.js";
import { plotlyReady } from "./plot.js";
import { initConfig } from "./views/config.js";
import { initControls } from "./views/controls.js";
import { initUnrolled } from "./views/unrolled.js";
import { initHeatmap } from "./views/heatmap.js";
import { initPrediction } from "./views/prediction.js";
import { initTraining } from "./views/training.js";
import { initMath } from "./views/math.js";
import { initGeneration } from "./views/generation.js";
import { initDistribution } from "./views/distribution.js";
import { initHowItWorks } from "./views/howitworks.js";

// [module path, section element id]: e.g. ["./views/gradients.js", "vanishing-view"]
const SECTION_VIEWS = [["./views/gradients.js", "vanishing-view"], ["./views/applications.js", "applications-view"]];

let traceRequest = 0;

function setTrace(trace) {
  const T = trace.sequence.length;
  const step = Math.min(store.get().step, T - 1);
  store.set({ trace, step, traceError: null });
}

async function refreshTrace() {
  const s = store.get();
  const id = ++traceRequest;
  const status = document.getElementById("trace-status");
  status.classList.remove("error");
  try {
    const body = { network: s.network, sequence: s.sequence };
    if (s.trainedId) body.model_id = s.trainedId;
    const trace = await api.trace(body);
    if (id !== traceRequest) return;
    setTrace(trace);
    const seq = trace.sequence;
    status.textContent = `${trace.network.cell.toUpperCase()}, ${trace.network.hidden_size} hidden units, ${seq.length} steps of “${seq.description}”` +
      (trace.overflow ? ". The activations overflowed: the recurrent weights are too large." : ".");
  } catch (e) {
    if (id !== traceRequest) return;
    if (e instanceof ApiError && (e.status === 404 || e.status === 409) && s.trainedId) {
      store.set({ trainedId: null }); // the trained weights do not fit: fall back to untrained
      return;
    }
    status.textContent = e.message;
    status.classList.add("error");
    store.set({ traceError: e.message });
  }
}

function fetchModels() {
  return api.models().catch((e) => ({ models: [], default: null, message: `Could not list the models: ${e.message}` }));
}

async function loadSectionViews() {
  for (const [path, rootId] of SECTION_VIEWS) {
    const module = await import(path);
    await module.init({ store, api, root: document.getElementById(rootId) });
  }
}

// the section in view is marked in the top bar
function followSections() {
  const links = new Map([...document.querySelectorAll(".sections-nav a")].map((a) => [a.hash.slice(1), a]));
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      for (const [id, a] of links) a.toggleAttribute("aria-current", id === entry.target.id);
    }
  }, { rootMargin: "-45% 0px -50% 0px" });
  for (const id of links.keys()) {
    const section = document.getElementById(id);
    if (section) observer.observe(section);
  }
}

async function boot() {
  followSections();
  const models = fetchModels(); // in parallel with the options and with Plotly.js loading
  const options = await api.visualizerOptions();
  store.set({ options, network: options.defaults.network, sequence: options.defaults.sequence });
  initConfig();
  initControls();
  initUnrolled();
  initHeatmap();
  initPrediction();
  initTraining((trace) => setTrace(trace));
  initMath();
  initGeneration();
  initDistribution();
  initHowItWorks();
  store.on(["network", "sequence", "trainedId"], debounce(refreshTrace, 60));
  await Promise.all([refreshTrace(), models.then((list) => store.set({ models: list }))]);
  document.body.dataset.interactiveMs = String(Math.round(performance.now())); // controls, diagram, math usable
  await plotlyReady; // the charts queued so far are drawn once it has loaded
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  document.body.dataset.coreReadyMs = String(Math.round(performance.now())); // visualizer and generation usable
  await loadSectionViews();
  document.body.dataset.readyMs = String(Math.round(performance.now())); // every section, for benchmarks
  document.body.dataset.ready = "true";
}

boot().catch((e) => {
  const status = document.getElementById("trace-status");
  status.textContent = `The page could not start: ${e.message}`;
  status.classList.add("error");
});
