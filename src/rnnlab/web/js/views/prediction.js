// "Prediction against target": the network's output y_t beside the target, up to the current step.
// Regression sequences draw two lines; classification sequences draw p(target) per step.

import { store } from "../store.js";
import { render, stepMarker } from "../plot.js";
import { HIGHLIGHT } from "../theme.js";
import { num } from "../format.js";

export function initPrediction() {
  const root = document.getElementById("prediction");

  const draw = (s) => {
    if (!s.trace) return;
    const spec = s.trace.figures.prediction;
    const regression = s.trace.sequence.kind === "regression";
    const data = spec.data.map((trace) => {
      if (regression && trace.name === "target") return trace;
      return { ...trace, y: trace.y.map((v, t) => (t <= s.step ? v : null)) };
    });
    const T = s.trace.sequence.length;
    const layout = {
      ...spec.layout,
      shapes: [stepMarker(s.step, HIGHLIGHT)],
      xaxis: { ...spec.layout.xaxis, range: [-0.5, T - 0.5] },
    };
    const loss = s.trace.loss === null ? "overflow" : num(s.trace.loss, 4); // 1.86e+15, not 16 digits
    const title = `Prediction against target · loss ${loss}${s.trace.network.steps_trained ? " (trained)" : ""}`;
    layout.title = { ...spec.layout.title, text: title };
    render(root, { data, layout });
  };

  store.on(["trace", "step"], draw);
}
