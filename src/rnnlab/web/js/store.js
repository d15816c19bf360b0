// The page's one state store: a plain object, replaced on every set(), with listeners per key.
//
//   store.set({ step: 3 });                       // notify listeners of "step"
//   store.on(["trace", "step"], (s) => draw(s));  // call draw when either key changes

export function createStore(initial) {
  let state = { ...initial };
  const listeners = [];

  return {
    get: () => state,
    set(patch) {
      const changed = Object.keys(patch).filter((k) => state[k] !== patch[k]);
      if (!changed.length) return;
      state = { ...state, ...patch };
      for (const { keys, fn } of listeners) {
        if (keys.some((k) => changed.includes(k))) fn(state, changed);
      }
    },
    on(keys, fn) {
      listeners.push({ keys: Array.isArray(keys) ? keys : [keys], fn });
    },
  };
}

export const store = createStore({
  // visualizer
  options: null, // GET /api/visualizer/options
  network: null, // {cell, hidden_size, activation, init, recurrent_scale, seed}
  sequence: null, // {type, example, length, text}
  trainedId: null, // id of a network trained in the page
  trace: null, // POST /api/visualizer/trace
  traceError: null,
  step: 0, // the current time step t
  playing: false,
  speed: 4, // steps per second
  gate: null, // which gate heatmap is shown
  training: null, // {running, steps: [], losses: [], message}
  // text generation
  models: null, // GET /api/models
  gen: { model: null, prompt: "The ", temperature: 0.8, length: 300 },
  run: null, // {running, vocab, steps: [...], firstInput, maxEntropy, numLayers, hiddenSize}
  runVersion: 0, // bumped when run.steps grows
  distSource: "prompt", // the chart shows the prompt's distribution ("prompt") or a generated step ("run")
  selected: null, // index of the clicked generated character (null: follow the latest)
  colorMode: "plain", // "plain" | "surprisal" | "unit"
  unit: { layer: 0, index: 0 },
  dist: null, // POST /api/models/{id}/distribution for the prompt
});
