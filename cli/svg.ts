/**
 * A minimal SVG line chart (axes, ticks, grid, legend) with no dependencies: enough for loss
 * and accuracy curves that open in any browser. Pure: returns the SVG text.
 * @module
 */

/** One line of a chart. */
export interface Series {
  /** Legend label. */
  label: string;
  /** Points (x, y); non-finite y values are skipped. */
  points: readonly (readonly [number, number])[];
}

/** Options of `lineChart`. */
export interface ChartOptions {
  /** Title above the plot. */
  title: string;
  /** x-axis label. */
  xLabel: string;
  /** y-axis label. */
  yLabel: string;
  /** Fixed y range (default: the data's, padded). */
  yRange?: readonly [number, number];
  /** Width and height in pixels (default 640×400). */
  size?: readonly [number, number];
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/**
 * Renders series as an SVG line chart with markers.
 *
 * @example
 * ```ts
 * import { lineChart } from "./svg.ts";
 * const svg = lineChart([{ label: "loss", points: [[1, 2], [2, 1]] }], {
 *   title: "Loss", xLabel: "epoch", yLabel: "loss",
 * });
 * ```
 */
export function lineChart(series: readonly Series[], opts: ChartOptions): string {
  const [W, H] = opts.size ?? [640, 400];
  const m = { l: 64, r: 150, t: 36, b: 48 };
  const pts = series.flatMap((s) =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
  );
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  if (x1 === x0) x1 = x0 + 1;
  let [y0, y1] = opts.yRange ?? (ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1]);
  if (!opts.yRange) {
    const pad = (y1 - y0) * 0.05 || 0.5;
    y0 -= pad;
    y1 += pad;
  }
  if (y1 === y0) y1 = y0 + 1;
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const sx = (x: number): number => m.l + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l + pw / 2}" y="22" text-anchor="middle" font-size="15">${
      esc(opts.title)
    }</text>`,
  ];
  for (const t of niceTicks(y0, y1)) {
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${sy(t)}" y2="${sy(t)}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${t}</text>`,
    );
  }
  for (const t of niceTicks(x0, x1)) {
    out.push(
      `<line x1="${sx(t)}" x2="${sx(t)}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`,
      `<text x="${sx(t)}" y="${m.t + ph + 16}" text-anchor="middle">${t}</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.l + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${
      esc(opts.yLabel)
    }</text>`,
  );
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (p.length) {
      const d = p.map(([x, y], j) => `${j ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
        .join(" ");
      out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>`);
      if (p.length <= 60) {
        for (const [x, y] of p) {
          out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${c}"/>`);
        }
      }
    }
    const ly = m.t + 10 + i * 18;
    out.push(
      `<line x1="${m.l + pw + 12}" x2="${
        m.l + pw + 32
      }" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"/>`,
      `<text x="${m.l + pw + 38}" y="${ly + 4}">${esc(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
