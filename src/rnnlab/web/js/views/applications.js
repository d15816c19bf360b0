// Section 6, applications on real data: a language model trained in the page on the user's text (live
// loss and samples, then generation with the top-10 next tokens), a forecast of a bundled series against
// the baselines, the sentiment of a typed sentence after each word, and sequence labelling: the spaces
// of a typed text taken out and put back, one tag per character. All numbers come from
// /api/applications (tasks.wordlm, tasks.forecast, tasks.classify, tasks.labelling); no model logic here.

import { el, labelFor, num, debounce, perFrame } from "../format.js";
import { render } from "../plot.js";
import { POSITIVE, NEGATIVE, PREDICTION, MUTED, INK, GRID, HIGHLIGHT, diverging, inkOn } from "../theme.js";

const SAMPLE_TEXT = `The hidden state of a recurrent network is its memory. At every step the network reads one
element of the sequence, mixes it with what it remembers, and writes a new memory. The same weights
are used at every step, so the network can read a sequence of any length. To learn, the network is
unrolled through time and the error is sent back through every step. When the steps are many, the
error can fade away or grow without bound; gates that decide what to keep and what to forget let
the error flow further back. A language model predicts the next character from the ones before it.
Trained on a text, it learns spelling first, then words, then the shape of sentences.`.replace(/\n/g, " ");
const LINE = { margin: { l: 52, r: 12, t: 30, b: 36 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  font: { size: 11, color: INK }, legend: { orientation: "h", y: -0.22 } };
const SERIES_COLOURS = [PREDICTION, "#10b981", "#f97316", MUTED, "#0ea5e9"];

let api = null;

export async function init({ api: apiModule, root }) {
  if (!root) return;
  api = apiModule;
  const options = await api.applications.options();
  root.className = "applications";
  root.replaceChildren(languageModel(options.lm), forecasting(options.forecast), sentiment(options.classify),
    labelling(options.segment));
}

function select(values, current, attrs) {
  return el("select", attrs, values.map(([v, label]) => el("option", { value: v, selected: String(v) === String(current), text: label })));
}

function field(label, control) {
  return el("div", { class: "field" }, labelFor(control, el("span", { text: label })), control);
}

function streamButton(testid, label) {
  return el("button", { type: "button", class: "primary", "data-testid": testid, text: label });
}

// ---- language modelling ------------------------------------------------------------------------
function languageModel(opts) {
  const lim = opts.limits;
  const text = el("textarea", { "data-testid": "app-lm-text", rows: 7, maxlength: lim.corpus_text[1], "aria-label": "Text to learn" });
  text.value = SAMPLE_TEXT;
  const file = el("input", { type: "file", accept: ".txt,text/plain", "aria-label": "Upload a text file" });
  file.addEventListener("change", async () => {
    if (file.files[0]) text.value = (await file.files[0].text()).slice(0, lim.corpus_text[1]);
  });
  const sampleButton = el("button", { type: "button", class: "link", "data-testid": "app-lm-sample-text", text: "Use a longer sample (Python's documentation)" });
  sampleButton.addEventListener("click", async () => {
    const r = await api.applications.sample();
    text.value = r.text;
    status.textContent = `${r.text.length.toLocaleString()} characters of ${r.name}.`;
  });
  const level = select([["char", "characters"], ["word", "words"]], opts.defaults.level, { "aria-label": "Level" });
  const cell = select(opts.cells.map((c) => [c, c.toUpperCase()]), opts.defaults.cell, { "aria-label": "Cell" });
  const units = select([16, 32, 64, 128].map((v) => [v, `${v} units`]), opts.defaults.units, { "aria-label": "Hidden units" });
  const seconds = select([5, 10, 20, 30, 60].map((v) => [v, `${v} s`]), opts.defaults.train_seconds, { "aria-label": "Training time" });
  const train = streamButton("app-lm-train", "Train");
  const status = el("p", { class: "status", role: "status", text: `Paste or upload up to ${lim.corpus_text[1].toLocaleString()} characters, then train.` });
  const loss = el("div", { class: "plot plot-small", "data-testid": "app-lm-loss", hidden: true });
  const sample = el("div", { class: "generated app-sample", "data-testid": "app-lm-sample" },
    el("span", { class: "empty", text: "Samples appear here as the model learns." }));
  const prompt = el("input", { type: "text", value: "The ", "aria-label": "Prompt", "data-testid": "app-lm-prompt" });
  const temperature = el("input", { type: "range", min: 0.1, max: 2, step: 0.1, value: 0.8, "aria-label": "Temperature" });
  const generate = el("button", { type: "button", "data-testid": "app-lm-generate", text: "Generate", disabled: true });
  const output = el("div", { class: "generated", "data-testid": "app-lm-output" });
  const top = el("ol", { class: "app-top", "data-testid": "app-lm-top10" });
  const curve = { steps: [], loss: [], val: [], best: null };
  let job = null;
  let modelId = null;

  // after training, a dotted line marks the step whose network was kept (the lowest validation loss)
  const kept = () => (curve.best === null ? [] : [{ type: "line", xref: "x", yref: "paper", x0: curve.best, x1: curve.best,
    y0: 0, y1: 1, line: { color: HIGHLIGHT, dash: "dot", width: 1.5 } }]);
  const draw = perFrame(() => render(loss, {
    data: [{ x: curve.steps.slice(), y: curve.loss.slice(), name: "training", mode: "lines", line: { color: MUTED } },
      { x: curve.steps.slice(), y: curve.val.slice(), name: "validation", mode: "lines+markers", line: { color: PREDICTION } }],
    layout: { ...LINE, title: { text: "Loss (nats per token)", font: { size: 12 } }, xaxis: { title: "step", gridcolor: GRID },
      yaxis: { gridcolor: GRID }, shapes: kept(),
      annotations: curve.best === null ? [] : [{ x: curve.best, y: 1, xref: "x", yref: "paper", text: "kept", showarrow: false,
        yanchor: "bottom", font: { size: 10, color: HIGHLIGHT } }] },
  }));
  const finish = (message, isError = false) => {
    job = null;
    train.textContent = "Train";
    status.textContent = message;
    status.classList.toggle("error", isError);
  };
  train.addEventListener("click", () => {
    if (job) return job.stop();
    [curve.steps, curve.loss, curve.val].forEach((a) => a.splice(0));
    curve.best = null;
    loss.hidden = false;
    train.textContent = "Stop";
    status.classList.remove("error");
    status.textContent = "Training…";
    job = api.applications.trainLM({ corpus_text: text.value, level: level.value, cell: cell.value,
      units: Number(units.value), train_seconds: Number(seconds.value) }, {
      progress: (m) => {
        curve.steps.push(m.step); curve.loss.push(m.loss); curve.val.push(m.val);
        status.textContent = `step ${m.step} · validation ${num(m.val)} nats · perplexity ${num(m.perplexity, 1)} · ${m.seconds.toFixed(1)} s`;
        if (m.sample !== undefined) sample.replaceChildren(el("span", { class: "prompt", text: `step ${m.step}: ` }), m.sample);
        draw();
      },
      done: (m) => {
        const r = m.result;
        modelId = r.model_id;
        generate.disabled = false;
        const unit = r.level === "char" ? "characters" : "words";
        let message = `${m.stopped ? "Stopped" : "Trained"} after ${r.steps} steps (${r.seconds.toFixed(1)} s): best validation ` +
          `perplexity ${num(r.perplexity, 1)} (${r.vocab_size} ${unit} in its vocabulary), at step ${r.best_step}; Generate uses the network of that step.`;
        const rise = r.last_val_loss === null || r.best_step >= r.steps ? 0 : r.last_val_loss - r.val_loss;
        if (rise > 1) { // far past the best step: it memorized
          message += ` After it the network learned its training text by heart: the validation loss rose from ${num(r.val_loss)} ` +
            `to ${num(r.last_val_loss)} nats (overfitting). The last sample comes from the last step and recites the text; ` +
            "more text, fewer units or less training time give a network that generalizes.";
        } else if (rise > 0.1) {
          message += ` After it the validation loss rose from ${num(r.val_loss)} to ${num(r.last_val_loss)} nats while the ` +
            "training loss kept falling: the network began to fit its training text rather than the language (overfitting). " +
            "The last sample comes from that later network.";
        }
        curve.best = r.best_step;
        draw();
        finish(message);
      },
      error: (m) => finish(m.message, true),
      close: () => { if (job) finish("Training stopped."); },
    });
  });
  generate.addEventListener("click", async () => {
    try {
      const r = await api.applications.generate({ model_id: modelId, prompt: prompt.value, tokens: level.value === "char" ? 300 : 60,
        temperature: Number(temperature.value) });
      output.replaceChildren(el("span", { class: "prompt", text: r.prompt }), r.level === "word" && r.prompt && !r.prompt.endsWith(" ") ? " " : "", r.text);
      top.replaceChildren(...r.top10.map((t) => el("li", {}, el("code", { text: JSON.stringify(t.token) }), ` ${(100 * t.probability).toFixed(1)}%`)));
    } catch (e) {
      output.replaceChildren(el("span", { class: "empty", text: e.message }));
    }
  });
  return el("div", { class: "panel app-panel", id: "app-lm" },
    el("h3", { text: "Language modelling: train on your text" }),
    el("div", { class: "gen-charts" },
      el("div", {}, text, el("div", { class: "row app-controls" }, file, sampleButton), el("div", { class: "row app-controls" }, level, cell, units, seconds, train), status),
      el("div", {}, loss, sample)),
    el("div", { class: "gen-charts" },
      el("div", {}, el("div", { class: "row app-controls" }, prompt, field("temperature", temperature), generate), output),
      el("div", {}, el("p", { class: "hint", text: "Top-10 next tokens after the prompt" }), top)));
}

// ---- forecasting ---------------------------------------------------------------------------------
function forecasting(opts) {
  const dataset = select(opts.datasets.map((d) => [d.name, `${d.name}: ${d.description}`]), opts.defaults.dataset, { "data-testid": "app-ts-dataset", "aria-label": "Series" });
  const cell = select(opts.cells.map((c) => [c, c.toUpperCase()]), opts.defaults.cell, { "aria-label": "Cell" });
  const units = select([8, 16, 32, 64].map((v) => [v, `${v} units`]), opts.defaults.units, { "aria-label": "Hidden units" });
  const train = streamButton("app-ts-train", "Train and compare");
  const status = el("p", { class: "status", role: "status", text: "Choose a series and train: the test tail is held out." });
  const plot = el("div", { class: "plot app-forecast", "data-testid": "app-ts-forecast", hidden: true });
  const table = el("div", { class: "app-table", "data-testid": "app-ts-metrics" });
  let job = null;
  const finish = (message, isError = false) => {
    job = null;
    train.textContent = "Train and compare";
    status.textContent = message;
    status.classList.toggle("error", isError);
  };
  train.addEventListener("click", () => {
    if (job) return job.stop();
    train.textContent = "Stop";
    status.classList.remove("error");
    status.textContent = "Training… (the baselines are fitted once per series)";
    job = api.applications.trainForecast({ dataset: dataset.value, cell: cell.value, units: Number(units.value) }, {
      progress: (m) => { status.textContent = `step ${m.step} · validation MSE ${num(m.val, 4)} · ${m.seconds.toFixed(1)} s`; },
      done: (m) => {
        drawForecast(plot, table, m.result);
        const r = m.result;
        finish(`${r.network}: ${r.training.steps} steps in ${r.training.seconds.toFixed(1)} s, kept the best validation step (${r.training.best_step}).`);
      },
      error: (m) => finish(m.message, true),
      close: () => { if (job) finish("Training stopped."); },
    });
  });
  return el("div", { class: "panel app-panel", id: "app-ts" },
    el("h3", { text: "Time-series forecasting against the baselines" }),
    el("div", { class: "row app-controls" }, dataset, cell, units, train), status, plot, table,
    el("p", { class: "hint", text: "MASE = MAE / the mean absolute one-step change in the training part: below 1 beats the naive forecast's training-period error. The multi-step forecasts feed each prediction back as the next input." }));
}

function drawForecast(plot, table, r) {
  plot.hidden = false;
  const names = Object.keys(r.forecasts).filter((n) => n !== "last value");
  const data = [
    { x: r.history.time, y: r.history.value, name: "history", mode: "lines", line: { color: MUTED, width: 1 } },
    { x: r.test.time, y: r.test.value, name: "actual (test tail)", mode: "lines", line: { color: INK, width: 2 } },
    ...names.map((n, i) => ({ x: r.test.time, y: r.forecasts[n], name: n, mode: "lines", line: { color: SERIES_COLOURS[i % SERIES_COLOURS.length], width: 1.5 } })),
  ];
  render(plot, { data, layout: { ...LINE, title: { text: `${r.series}${r.column === r.series ? "" : ` [${r.column}]`}: one-step forecasts of the test tail`, font: { size: 12 } },
    xaxis: { gridcolor: GRID }, yaxis: { gridcolor: GRID } } });
  const best = Math.min(...r.methods.map((m) => m.one_step.mase));
  const head = el("tr", {}, ["method", "1-step MAE", "1-step RMSE", "1-step MASE", `${r.horizon}-step MASE`].map((h) => el("th", { text: h })));
  const rows = r.methods.map((m) => el("tr", { class: m.one_step.mase === best ? "best" : null },
    el("td", { text: m.name }), el("td", { text: num(m.one_step.mae, 4) }), el("td", { text: num(m.one_step.rmse, 4) }),
    el("td", { text: num(m.one_step.mase) }), el("td", { text: num(m.multi_step.mase) })));
  table.replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, rows)),
    r.notes.length ? el("p", { class: "hint", text: r.notes.join("; ") }) : "");
}

// ---- panels that answer as you type (sentiment, labelling) ----------------------------------------------
// Each edit asks the server again (debounced); an answer that arrives after a newer question is dropped.
// Without the panel's bundled model, the result says how to get one.
function answerAsYouType(input, result, status, emptyHint, ask, draw) {
  let asked = 0;
  const update = debounce(async () => {
    const id = ++asked;
    if (!input.value.trim()) return result.replaceChildren(el("span", { class: "hint", text: emptyHint }));
    try {
      const r = await ask(input.value);
      if (id === asked) draw(r);
    } catch (e) {
      if (id === asked) result.replaceChildren(el("span", { class: "status error", text: e.message }));
    }
  }, 150);
  input.addEventListener("input", update);
  if (status.available) update();
  else result.replaceChildren(el("p", { class: "status", text: status.message }));
}

// ---- sentiment ------------------------------------------------------------------------------------
function sentiment(status) {
  const input = el("input", { type: "text", "data-testid": "app-cls-input", maxlength: 1000, "aria-label": "A sentence",
    value: "A slow start, but the ending is wonderful.", disabled: !status.available });
  const result = el("div", { class: "app-cls-result", "data-testid": "app-cls-result" });
  const plot = el("div", { class: "plot plot-small", "data-testid": "app-cls-curve" });
  answerAsYouType(input, result, status, "Type a sentence.",
    (text) => api.applications.classify({ sentence: text }), (r) => drawSentiment(result, plot, r));
  return el("div", { class: "panel app-panel", id: "app-cls" },
    el("h3", { text: "Sentiment: the opinion forms word by word" }),
    el("p", { class: "hint", text: `${status.message}. Each word is shaded by P(fresh) after reading it: blue positive, red negative.` }),
    input, result, plot);
}

function drawSentiment(result, plot, r) {
  const pos = r.classes.indexOf("fresh") >= 0 ? r.classes.indexOf("fresh") : 0;
  const p = r.probabilities.map((row) => row[pos]);
  const words = r.tokens.map((t, i) => el("span", { class: "app-word", title: `P(${r.classes[pos]}) = ${p[i].toFixed(3)}`,
    style: `background:${diverging(2 * p[i] - 1, 1)};color:${inkOn(2 * p[i] - 1, 1)}`, text: t }));
  const colour = r.label === r.classes[pos] ? POSITIVE : NEGATIVE;
  result.replaceChildren(el("div", { class: "app-words" }, words),
    el("p", { class: "app-verdict" }, el("strong", { style: `color:${colour}`, text: r.label }), ` with ${(100 * r.confidence).toFixed(0)}% confidence`));
  render(plot, { data: [{ x: r.tokens.map((t, i) => `${i + 1}:${t}`), y: p, mode: "lines+markers", name: `P(${r.classes[pos]})`,
    line: { color: POSITIVE }, marker: { color: p.map((v) => (v >= 0.5 ? POSITIVE : NEGATIVE)) } }],
  layout: { ...LINE, title: { text: `P(${r.classes[pos]}) after each word`, font: { size: 12 } }, showlegend: false,
    yaxis: { range: [0, 1], gridcolor: GRID }, xaxis: { tickangle: -40, automargin: true },
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0.5, y1: 0.5, line: { color: HIGHLIGHT, dash: "dot", width: 1 } }] } });
}

// ---- sequence labelling -----------------------------------------------------------------------------
function labelling(status) {
  const input = el("input", { type: "text", "data-testid": "app-seg-input", maxlength: status.max_chars, "aria-label": "A text",
    value: "A charming and funny film that never forgets its heart.", disabled: !status.available });
  const result = el("div", { class: "app-seg-result", "data-testid": "app-seg-result", "aria-live": "polite" });
  answerAsYouType(input, result, status, "Type a text with spaces.",
    (text) => api.applications.segment({ text }), (r) => drawSegments(result, r));
  return el("div", { class: "panel app-panel", id: "app-seg" },
    el("h3", { text: "Sequence labelling: put the spaces back" }),
    el("p", { class: "hint", text: `${status.message} Type any text: it loses its spaces too, and, reading left to right, the ` +
      "network tags every character with P(a word begins here), before it has seen the rest of the word. Blue: " +
      "a boundary is likely; a bar: where it puts one; wavy red underline: a character it tags wrong." }),
    input, result);
}

function drawSegments(result, r) {
  const chars = r.chars.map((c, i) => {
    if (i === 0) return el("span", { class: "app-char", title: "The text starts here: nothing to decide", text: c });
    const p = r.p_boundary[i];
    const wrong = r.predicted[i] !== r.truth[i];
    return el("span", { class: `app-char${r.predicted[i] ? " cut" : ""}${wrong ? " wrong" : ""}`,
      title: `P(a word begins at “${c}”) = ${p.toFixed(3)}; ${r.truth[i] ? "a word began here" : "inside a word"}`,
      style: `background:${diverging(p, 1)};color:${inkOn(p, 1)}`, text: c });
  });
  // one group per word the network cuts out, so a line breaks only where it puts a boundary
  const words = [];
  chars.forEach((c, i) => {
    if (i === 0 || r.predicted[i]) words.push([]);
    words[words.length - 1].push(c);
  });
  const m = r.metrics;
  const right = r.predicted.filter((t, i) => t === r.truth[i]).length;
  const test = Object.entries(r.test || {}).sort((a, b) => b[1].accuracy - a[1].accuracy);
  result.replaceChildren(
    el("div", { class: "app-chars", "data-testid": "app-seg-chars" }, words.map((w) => el("span", { class: "app-seg-word" }, w))),
    el("p", { class: "app-verdict" }, el("span", { class: "hint", text: "Re-segmented: " }),
      el("span", { class: "app-seg-text", "data-testid": "app-seg-text", text: r.segmented })),
    el("p", { class: "hint", text: `${right} of ${r.chars.length} characters tagged right (accuracy ${num(m.accuracy, 3)}, ` +
      `boundary F1 ${num(m.boundary_f1, 3)}).` + (r.unknown.length ? ` Not in its vocabulary, read as unknown: ${r.unknown.join(" ")}.` : "") +
      (test.length ? ` On held-out review text: ${test.map(([name, t]) => `${name} ${num(t.accuracy, 3)}`).join(", ")} (accuracy).` : "") }));
}
