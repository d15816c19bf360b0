// Small formatting helpers shared by the views (no model logic).

const SPECIAL = { " ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍" };

// a character as a visible label (same symbols as rnnlab.viz.display_char)
export function displayChar(c) {
  if (c in SPECIAL) return SPECIAL[c];
  const code = c.charCodeAt(0);
  if (c.length === 1 && (code < 32 || code === 127)) return `\\x${code.toString(16).padStart(2, "0")}`;
  return c;
}

export function num(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 1e4) return v.toExponential(2);
  return v.toFixed(digits).replace(/^-0\.0+$/, "0." + "0".repeat(digits));
}

export function signed(v, digits = 3) {
  const s = num(v, digits);
  return v >= 0 ? `\u2007${s}` : s.replace("-", "−");
}

// a region that scrolls gets a tab stop, so the keyboard can scroll it too; one that fits gets none
export function focusableIfScrolls(node, label) {
  const scrolls = node.scrollWidth > node.clientWidth + 1 || node.scrollHeight > node.clientHeight + 1;
  if (scrolls) {
    node.tabIndex = 0;
    if (label && !node.hasAttribute("aria-label")) {
      node.setAttribute("role", "group"); // a named region (aria-label needs a role on a div)
      node.setAttribute("aria-label", label);
    }
  } else node.removeAttribute("tabindex");
}

let fieldCount = 0;

// a <label> tied to its control (screen readers name the control by it; a click on it focuses the
// control): the first input, select or textarea in `control` gets an id if it has none
export function labelFor(control, ...children) {
  const target = control.matches("input, select, textarea") ? control : control.querySelector("input, select, textarea");
  if (!target) return el("label", {}, ...children);
  if (!target.id) target.id = `field-${++fieldCount}`;
  return el("label", { for: target.id }, ...children);
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// a generated character's hidden state, sent as int8 in base64 with a scale (tasks.visualizer.encode_hidden)
// -> an array of L arrays of H numbers
export function decodeHidden(scale, b64, layers, hidden) {
  const bytes = Int8Array.from(atob(b64), (ch) => {
    const v = ch.charCodeAt(0);
    return v > 127 ? v - 256 : v;
  });
  const out = [];
  for (let k = 0; k < layers; k++) {
    out.push(Array.from(bytes.subarray(k * hidden, (k + 1) * hidden), (q) => (q * scale) / 127));
  }
  return out;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// call fn at most once per animation frame, with the latest arguments
export function perFrame(fn) {
  let pending = null;
  return (...args) => {
    const first = pending === null;
    pending = args;
    if (first) {
      requestAnimationFrame(() => {
        const a = pending;
        pending = null;
        fn(...a);
      });
    }
  };
}
