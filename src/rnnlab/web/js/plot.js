// Rendering Plotly figure specs (most come from the server, built by rnnlab.viz).

import { PLOT_CONFIG } from "./theme.js";

export function render(el, spec, layoutPatch = {}) {
  if (!window.Plotly || !el) return Promise.resolve();
  const layout = { ...spec.layout, ...layoutPatch };
  return window.Plotly.react(el, spec.data, layout, PLOT_CONFIG);
}

export function purge(el) {
  if (window.Plotly && el) window.Plotly.purge(el);
}

// a vertical band marking time step t on a plot with x = time
export function stepMarker(t, colour) {
  return {
    type: "rect", xref: "x", yref: "paper", x0: t - 0.5, x1: t + 0.5, y0: 0, y1: 1,
    line: { color: colour, width: 2 }, fillcolor: "rgba(0,0,0,0)",
  };
}
