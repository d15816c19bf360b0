// Building MathML (rendered by the browser with the Latin Modern Math font served by the app).
//
//   math(row(sub("h", "t"), mo("="), call("tanh", sub("a", "t"))))   // h_t = tanh(a_t)

const NS = "http://www.w3.org/1998/Math/MathML";

export function m(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" || typeof child === "number" ? mi(String(child)) : child);
  }
  return node;
}

export function mi(s, attrs = {}) {
  const node = document.createElementNS(NS, "mi");
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.textContent = s;
  return node;
}

export function mo(s, attrs = {}) {
  const node = document.createElementNS(NS, "mo");
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.textContent = s;
  return node;
}

export function mn(value, digits = 3) {
  const node = document.createElementNS(NS, "mn");
  if (typeof value === "number") {
    if (Number.isFinite(value) && Math.abs(value) >= 1e4) return scientific(value);
    node.textContent = Number.isFinite(value) ? (value < 0 ? "−" : "") + Math.abs(value).toFixed(digits) : "∞";
  } else {
    node.textContent = value;
  }
  return node;
}

// a large number as m × 10^e (three significant digits), not a row of digits: 1.40 × 10⁸
function scientific(value) {
  const e = Math.floor(Math.log10(Math.abs(value)));
  let m = Math.abs(value) / 10 ** e;
  let exp = e;
  if (Number(m.toFixed(2)) >= 10) { m /= 10; exp += 1; } // 9.999 rounds up to 10.00
  const node = document.createElementNS(NS, "mrow");
  const mant = document.createElementNS(NS, "mn");
  mant.textContent = (value < 0 ? "−" : "") + m.toFixed(2);
  const times = document.createElementNS(NS, "mo");
  times.textContent = "×";
  const power = document.createElementNS(NS, "msup");
  const ten = document.createElementNS(NS, "mn");
  ten.textContent = "10";
  const ex = document.createElementNS(NS, "mn");
  ex.textContent = String(exp);
  power.append(ten, ex);
  node.append(mant, times, power);
  return node;
}

export function mtext(s) {
  const node = document.createElementNS(NS, "mtext");
  node.textContent = s;
  return node;
}

export const row = (...children) => m("mrow", {}, ...children);
export const sub = (base, s) => m("msub", {}, typeof base === "string" ? mi(base) : base, typeof s === "string" ? mi(s, { mathvariant: "normal" }) : s);
export const sup = (base, s) => m("msup", {}, typeof base === "string" ? mi(base) : base, typeof s === "string" ? mi(s, { mathvariant: "normal" }) : s);
export const subsup = (base, a, b) => m("msubsup", {}, typeof base === "string" ? mi(base) : base, typeof a === "string" ? mi(a, { mathvariant: "normal" }) : a, typeof b === "string" ? mi(b, { mathvariant: "normal" }) : b);
export const frac = (a, b) => m("mfrac", {}, a, b);
export const space = (w = "0.4em") => m("mspace", { width: w });
// bold letters as Unicode mathematical bold characters (browsers ignore mathvariant="bold")
export function boldText(s) {
  return Array.from(s).map((c) => {
    const code = c.charCodeAt(0);
    if (code >= 65 && code <= 90) return String.fromCodePoint(0x1d400 + code - 65);
    if (code >= 97 && code <= 122) return String.fromCodePoint(0x1d41a + code - 97);
    if (c === "δ") return "\u{1d6c5}";
    return c;
  }).join("");
}
export const bold = (s) => mi(boldText(s), { mathvariant: "normal" });

// W_{hh}: a bold matrix with an upright subscript; Wt: its transpose
export const W = (s) => sub(bold("W"), mi(s, { mathvariant: "normal" }));
export const Wt = (s) => m("msubsup", {}, bold("W"), mi(s, { mathvariant: "normal" }), mo("⊤"));
// h_t, h_{t-1}: a bold vector with an index
export const vsub = (name, index) => sub(bold(name), typeof index === "string" ? tIndex(index) : index);

export function tIndex(s) {
  // "t-1" -> t−1, "t+1" -> t+1
  const match = /^([a-z0-9]+)([+-])([0-9]+)$/.exec(s);
  if (!match) return mi(s);
  return row(mi(match[1]), mo(match[2] === "-" ? "−" : "+"), mn(match[3]));
}

export function call(name, ...args) {
  return row(mi(name, { mathvariant: "normal" }), mo("("), ...args, mo(")"));
}

// a column vector of numbers, with ⋮ when it was cut
export function vec(values, { digits = 3, more = false } = {}) {
  const rows = values.map((v) => m("mtr", {}, m("mtd", {}, mn(v, digits))));
  if (more) rows.push(m("mtr", {}, m("mtd", {}, mo("⋮"))));
  return row(mo("["), m("mtable", {}, rows), mo("]"));
}

// a matrix of numbers, with ⋯ / ⋮ / ⋱ when it was cut
export function mat(values, { digits = 2, moreRows = false, moreCols = false } = {}) {
  const rows = values.map((r) => {
    const cells = r.map((v) => m("mtd", {}, mn(v, digits)));
    if (moreCols) cells.push(m("mtd", {}, mo("⋯")));
    return m("mtr", {}, cells);
  });
  if (moreRows) {
    const cells = values[0].map(() => m("mtd", {}, mo("⋮")));
    if (moreCols) cells.push(m("mtd", {}, mo("⋱")));
    rows.push(m("mtr", {}, cells));
  }
  return row(mo("["), m("mtable", {}, rows), mo("]"));
}

export function math(...children) {
  return m("math", { display: "block" }, ...children);
}
