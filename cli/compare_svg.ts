/**
 * A minimal grouped bar chart in SVG (axis, ticks, grid, legend, one group of bars per category)
 * for `sll compare`. Pure: returns the SVG text; non-finite values draw no bar.
 * @module
 */

/** One series of bars: one value per category. */
export interface BarSeries {
  /** Legend label. */
  label: string;
  /** One value per category (NaN: no bar). */
  values: readonly number[];
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Renders `series` as grouped bars over `categories`.
 *
 * @example
 * ```ts
 * import { barChart } from "./compare_svg.ts";
 * const svg = barChart(["sll", "aol"], [{ label: "natural", values: [80, 78] }], {
 *   title: "Accuracy", yLabel: "%",
 * });
 * ```
 */
export function barChart(
  categories: readonly string[],
  series: readonly BarSeries[],
  opts: { title: string; yLabel: string; yMax?: number; size?: readonly [number, number] },
): string {
  const [W, H] = opts.size ?? [640, 400];
  const m = { l: 64, r: 16, t: 40, b: 56 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  const top = opts.yMax ?? Math.max(1e-9, ...finite) * 1.1;
  const raw = top / 5, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
  const y = (v: number): number => m.t + ph - (Math.min(v, top) / top) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`,
  ];
  for (let v = 0; v <= top + step * 1e-9; v += step) {
    const yy = y(v).toFixed(1);
    parts.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${m.l - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${
        Number(v.toPrecision(6))
      }</text>`,
    );
  }
  const group = pw / Math.max(1, categories.length);
  const bw = (group * 0.8) / Math.max(1, series.length);
  categories.forEach((c, i) => {
    const gx = m.l + i * group + group * 0.1;
    series.forEach((s, j) => {
      const v = s.values[i];
      if (!Number.isFinite(v)) return;
      const x = gx + j * bw;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${
          (bw * 0.95).toFixed(1)
        }" height="${(m.t + ph - y(v)).toFixed(1)}" fill="${COLORS[j % COLORS.length]}"><title>${
          esc(`${c} ${s.label}: ${v}`)
        }</title></rect>`,
      );
    });
    parts.push(
      `<text x="${(gx + group * 0.4).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${
        esc(c)
      }</text>`,
    );
  });
  parts.push(
    `<line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#333"/>`,
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#333"/>`,
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${
      esc(opts.yLabel)
    }</text>`,
  );
  series.forEach((s, j) => {
    const lx = m.l + 8 + j * 150, ly = H - 14;
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[j % COLORS.length]}"/>`,
      `<text x="${lx + 14}" y="${ly}">${esc(s.label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
