// The page's one colour config. The same values as rnnlab/viz/theme.py (tests/viz compares them).
// Activations use a diverging scale centred on 0: blue positive, red negative.

export const POSITIVE = "#2166ac";
export const NEGATIVE = "#b2182b";
export const ZERO = "#f7f7f7";
export const HIGHLIGHT = "#f59e0b";
export const INK = "#1f2937";
export const MUTED = "#6b7280";
export const GRID = "#e5e7eb";
export const PRIMARY = "#4338ca";
export const PREDICTION = "#7c3aed";
export const TARGET = "#1f2937";
export const SURPRISAL = "#7c3aed";
export const BANDS = {
  conservative: "#0ea5e9",
  balanced: "#10b981",
  creative: "#f97316",
};
export const LEGEND = "Blue: positive activations | Red: negative activations";

export const DIVERGING = [
  [0.0, "#b2182b"],
  [0.125, "#d6604d"],
  [0.25, "#f4a582"],
  [0.375, "#fddbc7"],
  [0.5, "#f7f7f7"],
  [0.625, "#d1e5f0"],
  [0.75, "#92c5de"],
  [0.875, "#4393c3"],
  [1.0, "#2166ac"],
];

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const STOPS = DIVERGING.map(([pos, hex]) => [pos, hexToRgb(hex)]);

// value in [-max, max] -> CSS colour on the diverging scale (blue positive, red negative)
export function diverging(value, max = 1) {
  if (!Number.isFinite(value)) return "#9ca3af";
  const x = Math.min(1, Math.max(0, 0.5 + value / (2 * (max || 1))));
  for (let i = 1; i < STOPS.length; i++) {
    const [p1, c1] = STOPS[i];
    if (x <= p1) {
      const [p0, c0] = STOPS[i - 1];
      const f = (x - p0) / (p1 - p0 || 1);
      const c = c0.map((v, k) => Math.round(v + f * (c1[k] - v)));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return POSITIVE;
}

// WCAG relative luminance of an "rgb(r,g,b)" or "#rrggbb" colour
function luminance(colour) {
  const rgb = colour.startsWith("#") ? hexToRgb(colour) : colour.match(/\d+/g).slice(0, 3).map(Number);
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

// readable text colour on top of diverging(value, max): white or ink, whichever contrasts more
export function inkOn(value, max = 1) {
  const bg = luminance(diverging(value, max));
  return 1.05 / (bg + 0.05) > (bg + 0.05) / (luminance(INK) + 0.05) ? "#ffffff" : INK;
}

// surprisal in bits -> a translucent violet background, stronger for more surprising characters
export function surprisalShade(bits, maxBits = 8) {
  const a = Math.min(1, Math.max(0, bits / maxBits)) * 0.85;
  const [r, g, b] = hexToRgb(SURPRISAL);
  return `rgba(${r},${g},${b},${a.toFixed(3)})`;
}

export const PLOT_CONFIG = { displayModeBar: false, responsive: true };
