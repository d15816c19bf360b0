// The page's only module that talks to the server: fetch for JSON, WebSocket for streams.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `request failed with status ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function request(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    // the browser's own words ("Failed to fetch", "NetworkError when…") say nothing to a learner
    throw new ApiError(0, { message: "the server did not answer: is `rnnlab serve` still running?" });
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function socketUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

// Open a stream: send `body` first, call handlers[msg.type](msg) for each message.
// Returns { stop() } which asks the server to stop and closes the socket.
function stream(path, body, handlers) {
  const ws = new WebSocket(socketUrl(path));
  let closed = false;
  ws.onopen = () => ws.send(JSON.stringify(body));
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    const fn = handlers[msg.type];
    if (fn) fn(msg);
  };
  ws.onclose = (event) => {
    closed = true;
    if (handlers.close) handlers.close(event);
  };
  ws.onerror = () => {
    if (handlers.error && !closed) {
      handlers.error({ status: 0, message: "the connection to the server failed: is `rnnlab serve` still running?" });
    }
  };
  return {
    stop() {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "stop" }));
      setTimeout(() => ws.close(), 200);
    },
  };
}

export const api = {
  health: () => request("GET", "/api/health"),
  visualizerOptions: () => request("GET", "/api/visualizer/options"),
  trace: (body) => request("POST", "/api/visualizer/trace", body),
  train: (body, handlers) => stream("/api/visualizer/train", body, handlers),
  models: () => request("GET", "/api/models"),
  distribution: (modelId, body) => request("POST", `/api/models/${encodeURIComponent(modelId)}/distribution`, body),
  generate: (body, handlers) => stream("/api/generate/stream", body, handlers),
  openapi: () => request("GET", "/openapi.json"),
  applications: { options: () => request("GET", "/api/applications/options"), sample: () => request("GET", "/api/applications/lm/sample"), trainLM: (body, handlers) => stream("/api/applications/lm/train", body, handlers), generate: (body) => request("POST", "/api/applications/lm/generate", body), trainForecast: (body, handlers) => stream("/api/applications/forecast/train", body, handlers), classify: (body) => request("POST", "/api/applications/classify", body), segment: (body) => request("POST", "/api/applications/segment", body) },
  gradients: { options: () => request("GET", "/api/gradients/options"), norms: (body) => request("POST", "/api/gradients/norms", body), check: (body) => request("POST", "/api/gradients/check", body) },
};
