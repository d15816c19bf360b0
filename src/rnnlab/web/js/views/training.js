// Weights: untrained (random, from the seed) or trained in the page on the chosen sequence for a few
// seconds, with a live loss curve streamed over a WebSocket (/api/visualizer/train).

import { store } from "../store.js";
import { api } from "../api.js";
import { el, perFrame } from "../format.js";
import { render } from "../plot.js";

export function initTraining(onTrained) {
  const root = document.getElementById("training");
  const badge = el("span", { class: "badge", "data-testid": "weights-status", text: "untrained" });
  const seconds = el("select", { "aria-label": "Training time", "data-testid": "train-seconds" },
    [1, 2, 3, 5, 10].map((v) => el("option", { value: v, selected: v === 3, text: `${v} s` })));
  const train = el("button", { type: "button", class: "primary", "data-testid": "train", text: "Train" });
  const untrain = el("button", { type: "button", class: "link", "data-testid": "untrain", text: "Back to untrained weights" });
  const status = el("p", { class: "status", role: "status" });
  const plot = el("div", { class: "plot", "data-testid": "loss-curve", style: "height:180px;min-height:180px" });
  plot.hidden = true;
  let job = null;
  let spec = null;
  const points = { x: [], y: [] };

  root.replaceChildren(
    el("div", { class: "row" }, badge),
    el("p", { class: "help", text: "Train the network on random variants of this sequence so its outputs mean something." }),
    el("div", { class: "row" }, train, seconds),
    untrain,
    status, plot,
  );

  const draw = perFrame(() => {
    if (!spec) return;
    // copies: Plotly.react redraws only data whose arrays are new
    const data = [{ ...spec.data[0], x: points.x.slice(), y: points.y.slice() }];
    render(plot, { data, layout: { ...spec.layout, height: 180, margin: { l: 48, r: 8, t: 28, b: 32 } } });
  });

  const finish = (message, isError = false) => {
    job = null;
    train.disabled = false;
    train.textContent = "Train";
    status.textContent = message;
    status.classList.toggle("error", isError);
  };

  train.addEventListener("click", () => {
    if (job) {
      job.stop();
      return;
    }
    const s = store.get();
    points.x = [];
    points.y = [];
    plot.hidden = false;
    train.textContent = "Stop";
    status.classList.remove("error");
    status.textContent = "Training…";
    store.set({ playing: false, training: { running: true } });
    job = api.train({ network: s.network, sequence: s.sequence, seconds: Number(seconds.value) }, {
      start: (msg) => { spec = msg.figure; draw(); },
      progress: (msg) => {
        points.x.push(msg.step);
        points.y.push(msg.loss);
        status.textContent = `step ${msg.step} · loss ${msg.loss.toFixed(4)} · ${msg.elapsed.toFixed(1)} s`;
        draw();
      },
      done: (msg) => {
        const info = msg.trace.training;
        finish(`Trained for ${info.steps} steps in ${info.seconds.toFixed(1)} s; final loss ${info.final_loss === null ? "–" : info.final_loss.toFixed(4)}.`);
        store.set({ training: { running: false }, trainedId: msg.trace.model_id });
        onTrained(msg.trace);
      },
      error: (msg) => {
        finish(msg.message, true);
        store.set({ training: { running: false } });
      },
      close: () => {
        if (job) finish("Training stopped.");
      },
    });
  });

  untrain.addEventListener("click", () => store.set({ trainedId: null }));

  store.on(["trainedId", "trace"], (s) => {
    const trained = Boolean(s.trainedId);
    badge.textContent = trained ? `trained · ${s.trace ? s.trace.network.steps_trained : "?"} steps` : `untrained · seed ${s.network.seed}`;
    badge.classList.toggle("trained", trained);
    untrain.disabled = !trained;
  });
  untrain.disabled = true;
  badge.textContent = `untrained · seed ${store.get().network.seed}`;
}
