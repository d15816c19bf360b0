// Rendering Plotly figure specs (most come from the server, built by rnnlab.viz).

import { PLOT_CONFIG } from "./theme.js";

// Plotly.js loads asynchronously (index.html): resolves once window.Plotly exists
export const plotlyReady = new Promise((resolve, reject) => {
  if (window.Plotly) return resolve(window.Plotly);
  const script = document.getElementById("plotly-js");
  script.addEventListener("load", () => resolve(window.Plotly));
  script.addEventListener("error", () => reject(new Error("Plotly.js could not be loaded")));
});

// draw a spec into el; calls made before Plotly has loaded draw once it has (the latest wins)
const pending = new Map();
export function render(el, spec, layoutPatch = {}) {
  if (!el) return Promise.resolve();
  delete el.dataset.message;
  const layout = { ...spec.layout, ...layoutPatch };
  if (window.Plotly) return window.Plotly.react(el, spec.data, layout, PLOT_CONFIG);
  const first = !pending.has(el);
  pending.set(el, [spec.data, layout]);
  if (!first) return plotlyReady;
  return plotlyReady.then((Plotly) => {
    const job = pending.get(el);
    if (!job) return undefined; // replaced by a message (showMessage) meanwhile
    pending.delete(el);
    return Plotly.react(el, job[0], job[1], PLOT_CONFIG);
  });
}

export function purge(el) {
  if (window.Plotly && el) window.Plotly.purge(el);
}

// an empty chart that says why, instead of "Loading…" (components.css)
export function showMessage(el, text) {
  if (!el) return;
  pending.delete(el);
  purge(el);
  el.replaceChildren();
  el.dataset.message = text;
}

// a vertical band marking time step t on a plot with x = time
export function stepMarker(t, colour) {
  return {
    type: "rect", xref: "x", yref: "paper", x0: t - 0.5, x1: t + 0.5, y0: 0, y1: 1,
    line: { color: colour, width: 2 }, fillcolor: "rgba(0,0,0,0)",
  };
}
