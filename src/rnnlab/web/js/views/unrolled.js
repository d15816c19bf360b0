// "RNN unrolled through time": hand-built SVG. For each step t the input x_t (bottom) feeds the cell
// (middle, its hidden units drawn as coloured squares) which feeds the output y_t (top); the recurrent
// arrow carries h_{t-1} into step t (and c_{t-1} for an LSTM). Built once per trace; stepping only
// moves the highlight. Hover a column for its values, click it to jump there.

import { store } from "../store.js";
import { el, displayChar, num } from "../format.js";
import { diverging } from "../theme.js";

const NS = "http://www.w3.org/2000/svg";
const STEP_W = 88, LEFT = 92, HEIGHT = 272;
const CELL_W = 68, CELL_H = 68, BOX_W = 62, BOX_H = 30;
const Y_TARGET = 14, Y_OUT = 24, Y_CELL = 98, Y_IN = 210, Y_TIME = 262;
const MAX_UNITS = 16;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function arrowHead(id, colour) {
  return svg("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    svg("path", { d: "M0,0 L10,5 L0,10 z", fill: colour }));
}

function hiddenRange(trace) {
  let m = 1;
  for (const row of trace.hidden) for (const v of row) m = Math.max(m, Math.abs(v));
  return m;
}

function label(trace, kind, t) {
  const seq = trace.sequence;
  if (kind === "input") return seq.kind === "regression" ? seq.input_labels[t] : displayChar(seq.input_labels[t]);
  if (kind === "target") return seq.target_labels[t] === "" ? "" : displayChar(seq.target_labels[t]);
  return seq.kind === "regression" ? num(trace.outputs.prediction[t], 2) : displayChar(trace.predicted_labels[t]);
}

function column(trace, t, zmax) {
  const cx = LEFT + t * STEP_W + CELL_W / 2;
  const seq = trace.sequence;
  const g = svg("g", { class: "col", "data-t": t, role: "button", "aria-label": `step ${t}` });
  g.append(svg("rect", { class: "colbg", x: cx - STEP_W / 2, y: 0, width: STEP_W, height: HEIGHT, rx: 8 }));

  // output y_t and its target
  const target = label(trace, "target", t);
  if (target !== "") g.append(svg("text", { class: "sub", x: cx, y: Y_TARGET, "text-anchor": "middle", text: `target ${target}` }));
  g.append(svg("rect", { class: "box", x: cx - BOX_W / 2, y: Y_OUT, width: BOX_W, height: BOX_H, rx: 6 }));
  let cls = "value";
  if (seq.kind === "classification" && target !== "") cls += trace.predicted_labels[t] === seq.target_labels[t] ? " right" : " wrong";
  g.append(svg("text", { class: cls, x: cx, y: Y_OUT + 20, "text-anchor": "middle", text: label(trace, "output", t) }));
  g.append(svg("line", { class: "arrow", x1: cx, y1: Y_CELL - 2, x2: cx, y2: Y_OUT + BOX_H + 3, "marker-end": "url(#ah)" }));

  // the cell: hidden units as squares
  g.append(svg("rect", { class: "cellbox", x: cx - CELL_W / 2, y: Y_CELL, width: CELL_W, height: CELL_H, rx: 10 }));
  const h = trace.hidden[t];
  const n = Math.min(MAX_UNITS, h.length);
  const cols = Math.min(4, n), rows = Math.ceil(n / cols);
  const size = 12, gap = 2;
  const x0 = cx - (cols * size + (cols - 1) * gap) / 2;
  const y0 = Y_CELL + (CELL_H - (rows * size + (rows - 1) * gap)) / 2;
  for (let j = 0; j < n; j++) {
    const r = Math.floor(j / cols), c = j % cols;
    g.append(svg("rect", { class: "u", x: x0 + c * (size + gap), y: y0 + r * (size + gap), width: size, height: size, rx: 2, fill: diverging(h[j], zmax) }));
  }
  g.append(svg("line", { class: "arrow", x1: cx, y1: Y_IN - 2, x2: cx, y2: Y_CELL + CELL_H + 3, "marker-end": "url(#ah)" }));

  // input x_t and the time label
  g.append(svg("rect", { class: "box", x: cx - BOX_W / 2, y: Y_IN, width: BOX_W, height: BOX_H, rx: 6 }));
  g.append(svg("text", { class: "value xval", x: cx, y: Y_IN + 20, "text-anchor": "middle", text: label(trace, "input", t) }));
  g.append(svg("text", { class: "tlabel", x: cx, y: Y_TIME, "text-anchor": "middle", text: `t=${t}` }));
  return g;
}

function recurrentArrows(trace, T) {
  const g = svg("g", {});
  const lstm = trace.network.cell === "lstm";
  for (let t = 0; t < T; t++) {
    const xEnd = LEFT + t * STEP_W - 3;
    const xStart = t === 0 ? LEFT - 26 : LEFT + (t - 1) * STEP_W + CELL_W + 1;
    g.append(svg("line", { class: "arrow rec", x1: xStart, y1: Y_CELL + CELL_H / 2 + (lstm ? 10 : 0), x2: xEnd, y2: Y_CELL + CELL_H / 2 + (lstm ? 10 : 0), "marker-end": "url(#ahr)" }));
    if (lstm) g.append(svg("line", { class: "arrow cstate", x1: xStart, y1: Y_CELL + 14, x2: xEnd, y2: Y_CELL + 14, "marker-end": "url(#ahc)" }));
  }
  return g;
}

function rowLabels(trace) {
  const g = svg("g", {});
  const cell = trace.network.cell.toUpperCase();
  const lstm = trace.network.cell === "lstm";
  g.append(svg("text", { x: 4, y: Y_OUT + 20, text: "output yₜ" }));
  g.append(svg("text", { x: 4, y: Y_CELL + 30, text: `${cell} hₜ` }));
  g.append(svg("text", { class: "sub", x: 4, y: Y_CELL + 46, text: `${trace.network.hidden_size} units` }));
  g.append(svg("text", { x: 4, y: Y_IN + 20, text: "input xₜ" }));
  g.append(svg("circle", { cx: LEFT - 34, cy: Y_CELL + CELL_H / 2 + (lstm ? 10 : 0), r: 8, fill: "#fff", stroke: "#6366f1", "stroke-width": 1.4 }));
  g.append(svg("text", { class: "sub", x: LEFT - 34, y: Y_CELL + CELL_H / 2 + (lstm ? 14 : 4), "text-anchor": "middle", text: "0" }));
  g.append(svg("text", { class: "sub", x: LEFT - 34, y: Y_CELL + CELL_H + 20, "text-anchor": "middle", text: lstm ? "h₋₁, c₋₁" : "h₋₁" }));
  if (lstm) g.append(svg("text", { class: "sub", x: LEFT - 30, y: Y_CELL + 10, "text-anchor": "middle", text: "c" }));
  return g;
}

function tooltipHtml(trace, t) {
  const seq = trace.sequence;
  const h = trace.hidden[t];
  const zmax = hiddenRange(trace);
  const units = h.slice(0, 32).map((v) => `<span style="background:${diverging(v, zmax)}"></span>`).join("");
  const norm = Math.sqrt(h.reduce((a, v) => a + v * v, 0));
  const pred = seq.kind === "regression" ? num(trace.outputs.prediction[t], 3) : `${displayChar(trace.predicted_labels[t])} (p=${num(Math.max(...trace.outputs.probs[t]), 2)})`;
  const lines = [
    `<b>Step t = ${t}</b>`,
    `input x<sub>t</sub> = <span class="mono">${escapeHtml(label(trace, "input", t))}</span>`,
    `h<sub>t</sub> (${Math.min(32, h.length)} of ${h.length} units), ‖h<sub>t</sub>‖ = ${num(norm, 3)}<div class="units">${units}</div>`,
    `<span class="mono">[${h.slice(0, 6).map((v) => num(v, 3)).join(", ")}${h.length > 6 ? ", …" : ""}]</span>`,
  ];
  if (trace.cell_state) lines.push(`c<sub>t</sub> = <span class="mono">[${trace.cell_state[t].slice(0, 4).map((v) => num(v, 3)).join(", ")}, …]</span>`);
  lines.push(`prediction y<sub>t</sub> = <span class="mono">${escapeHtml(pred)}</span>`);
  if (seq.mask[t]) lines.push(`target = <span class="mono">${escapeHtml(label(trace, "target", t))}</span>, loss = ${num(trace.step_loss[t], 4)}`);
  return lines.map((line) => `<div>${line}</div>`).join("");
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

export function initUnrolled() {
  const root = document.getElementById("unrolled");
  const tip = document.getElementById("tooltip");
  const readout = document.getElementById("step-readout");
  let columns = [];

  const build = (s) => {
    const trace = s.trace;
    if (!trace) return;
    const T = trace.sequence.length;
    const zmax = hiddenRange(trace);
    const width = LEFT + T * STEP_W;
    const root_svg = svg("svg", { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, "data-cell": trace.network.cell, "data-hidden": trace.network.hidden_size });
    root_svg.append(svg("defs", {}, arrowHead("ah", "#9ca3af"), arrowHead("ahr", "#6366f1"), arrowHead("ahc", "#0d9488")));
    root_svg.append(rowLabels(trace), recurrentArrows(trace, T));
    columns = [];
    for (let t = 0; t < T; t++) {
      const col = column(trace, t, zmax);
      columns.push(col);
      root_svg.append(col);
    }
    root.replaceChildren(root_svg);
    highlight(store.get());
  };

  const highlight = (s) => {
    if (!s.trace) return;
    columns.forEach((col, t) => {
      col.classList.toggle("current", t === s.step);
      col.classList.toggle("future", t > s.step);
    });
    const x = LEFT + s.step * STEP_W;
    if (x < root.scrollLeft + LEFT || x + STEP_W > root.scrollLeft + root.clientWidth) {
      root.scrollLeft = Math.max(0, x - root.clientWidth / 2);
    }
    const tr = s.trace, t = s.step, seq = tr.sequence;
    readout.replaceChildren(
      el("span", {}, "step ", el("b", { text: String(t) })),
      el("span", {}, "input ", el("b", { text: label(tr, "input", t) })),
      el("span", {}, "prediction ", el("b", { text: label(tr, "output", t) })),
      el("span", {}, "target ", el("b", { text: seq.mask[t] ? label(tr, "target", t) : "–" })),
      el("span", {}, "loss ", el("b", { text: seq.mask[t] ? num(tr.step_loss[t], 4) : "–" })),
    );
  };

  root.addEventListener("mousemove", (event) => {
    const col = event.target.closest && event.target.closest(".col");
    const s = store.get();
    if (!col || !s.trace) {
      tip.hidden = true;
      return;
    }
    tip.innerHTML = tooltipHtml(s.trace, Number(col.dataset.t));
    tip.hidden = false;
    const x = Math.min(window.innerWidth - tip.offsetWidth - 8, event.clientX + 14);
    const y = Math.min(window.innerHeight - tip.offsetHeight - 8, event.clientY + 14);
    tip.style.left = `${Math.max(8, x)}px`;
    tip.style.top = `${Math.max(8, y)}px`;
  });
  root.addEventListener("mouseleave", () => { tip.hidden = true; });
  root.addEventListener("click", (event) => {
    const col = event.target.closest && event.target.closest(".col");
    if (col) store.set({ step: Number(col.dataset.t), playing: false });
  });

  store.on("trace", build);
  store.on("step", highlight);
}
