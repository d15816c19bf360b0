// Step controls: reset, step back, play/pause, step forward, speed; ← and → keys step.

import { store } from "../store.js";
import { el } from "../format.js";

const ICONS = {
  reset: "M6 5h2v14H6zM20 5v14L9 12z",
  back: "M17 5v14L6 12z",
  forward: "M7 5v14l11-7z",
  play: "M7 5v14l11-7z",
  pause: "M7 5h4v14H7zM13 5h4v14h-4z",
};

function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

let timer = null;

function lastStep(s) {
  return s.trace ? s.trace.sequence.length - 1 : 0;
}

export function stepBy(delta) {
  const s = store.get();
  if (!s.trace) return;
  const step = Math.min(lastStep(s), Math.max(0, s.step + delta));
  store.set({ step });
}

function setPlaying(playing) {
  store.set({ playing });
}

function schedule(s) {
  clearInterval(timer);
  timer = null;
  if (!s.playing) return;
  timer = setInterval(() => {
    const st = store.get();
    if (!st.trace) return;
    if (st.step >= lastStep(st)) {
      setPlaying(false);
      return;
    }
    store.set({ step: st.step + 1 });
  }, 1000 / s.speed);
}

function isTyping(target) {
  const tag = target && target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
}

export function initControls() {
  const root = document.getElementById("controls");
  const reset = el("button", { type: "button", class: "icon", title: "Reset to step 0 (Home)", "aria-label": "Reset", "data-testid": "reset" }, icon("reset"));
  const back = el("button", { type: "button", class: "icon", title: "Step back (←)", "aria-label": "Step back", "data-testid": "step-back" }, icon("back"));
  const play = el("button", { type: "button", class: "primary", title: "Play / pause", "data-testid": "play" });
  const fwd = el("button", { type: "button", class: "icon", title: "Step forward (→)", "aria-label": "Step forward", "data-testid": "step-forward" }, icon("forward"));
  const label = el("span", { class: "step-label", "data-testid": "step-label", text: "t = 0" });
  const speed = el("select", { "aria-label": "Speed", "data-testid": "speed" },
    [1, 2, 4, 8, 16].map((v) => el("option", { value: v, selected: v === store.get().speed, text: `${v} steps/s` })));

  reset.addEventListener("click", () => store.set({ step: 0, playing: false }));
  back.addEventListener("click", () => stepBy(-1));
  fwd.addEventListener("click", () => stepBy(1));
  play.addEventListener("click", () => {
    const s = store.get();
    if (!s.playing && s.step >= lastStep(s)) store.set({ step: 0 });
    setPlaying(!s.playing);
  });
  speed.addEventListener("change", () => store.set({ speed: Number(speed.value) }));

  root.replaceChildren(reset, back, play, fwd, label, el("label", { class: "speed" }, "Speed", speed));

  const update = (s) => {
    const T = s.trace ? s.trace.sequence.length : 0;
    label.textContent = `t = ${s.step} / ${Math.max(0, T - 1)}`;
    back.disabled = !s.trace || s.step <= 0;
    fwd.disabled = !s.trace || s.step >= T - 1;
    play.replaceChildren(icon(s.playing ? "pause" : "play"), s.playing ? "Pause" : "Play");
    play.setAttribute("aria-pressed", String(s.playing));
  };
  store.on(["step", "trace", "playing"], update);
  store.on(["playing", "speed"], schedule);
  update(store.get());

  document.addEventListener("keydown", (event) => {
    if (isTyping(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowRight") {
      stepBy(1);
      event.preventDefault();
    } else if (event.key === "ArrowLeft") {
      stepBy(-1);
      event.preventDefault();
    } else if (event.key === "Home" && store.get().trace) {
      store.set({ step: 0, playing: false });
      event.preventDefault();
    }
  });
}
