/**
 * The page's chart: certified accuracy against the radius ε as an SVG string (a step curve from
 * the per-image radii, the four reported radii marked). Pure: numbers in, markup out.
 * @module
 */

/** Options of {@linkcode certifiedCurveSvg}. */
export interface CurveOptions {
  /** Radii (units of 1/255) marked with a dot and a label. */
  marks?: readonly number[];
  /** Width and height of the SVG in pixels. */
  width?: number;
  /** Height of the SVG in pixels. */
  height?: number;
}

/**
 * Certified accuracy at ε: the fraction of images that are correct with a radius > ε.
 *
 * @example
 * ```ts
 * import { certifiedAt } from "./chart.ts";
 * certifiedAt([0.5, 0.1], [1, 1], 0.2); // 0.5
 * ```
 */
export function certifiedAt(
  radii: readonly number[],
  correct: readonly number[],
  eps: number,
): number {
  let c = 0;
  for (let i = 0; i < radii.length; i++) if (correct[i] && radii[i] > eps) c++;
  return radii.length ? c / radii.length : 0;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/**
 * An SVG of certified accuracy (0–100 %) against ε in units of 1/255, from per-image radii
 * (input units) and correctness (1/0). The curve steps down at each correct image's radius.
 *
 * @example
 * ```ts
 * import { certifiedCurveSvg } from "./chart.ts";
 * const svg = certifiedCurveSvg([0.3, 0.6], [1, 1], { marks: [36, 72] });
 * svg.startsWith("<svg"); // true
 * ```
 */
export function certifiedCurveSvg(
  radii: readonly number[],
  correct: readonly number[],
  options: CurveOptions = {},
): string {
  const W = options.width ?? 520, H = options.height ?? 260;
  const marks = options.marks ?? [36, 72, 108, 255];
  const pad = { l: 48, r: 16, t: 16, b: 40 };
  const maxR255 = Math.max(
    ...marks,
    ...radii.filter((r, i) => correct[i] && Number.isFinite(r)).map((r) => r * 255),
    1,
  );
  const xMax = Math.ceil(maxR255 * 1.05 / 50) * 50;
  const x = (e255: number): number => pad.l + (e255 / xMax) * (W - pad.l - pad.r);
  const y = (f: number): number => H - pad.b - f * (H - pad.t - pad.b);
  // Steps: sorted radii of correct images; the curve holds its value up to each radius.
  const rs = radii.map((r, i) => (correct[i] ? r * 255 : -1)).filter((r) => r >= 0).sort((a, b) =>
    a - b
  );
  const n = radii.length || 1;
  let left = rs.length;
  let d = `M${x(0).toFixed(1)},${y(left / n).toFixed(1)}`;
  for (const r of rs) {
    const xr = Math.min(x(r), x(xMax));
    d += ` H${xr.toFixed(1)}`;
    left--;
    d += ` V${y(left / n).toFixed(1)}`;
  }
  d += ` H${x(xMax).toFixed(1)}`;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="certified accuracy against radius">`,
  );
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(f)}" y2="${y(f)}" class="grid"/>`,
      `<text x="${pad.l - 6}" y="${y(f) + 4}" text-anchor="end">${f * 100}%</text>`,
    );
  }
  const step = xMax <= 300 ? 50 : 100;
  for (let e = 0; e <= xMax; e += step) {
    parts.push(`<text x="${x(e)}" y="${H - pad.b + 16}" text-anchor="middle">${e}</text>`);
  }
  parts.push(
    `<text x="${(pad.l + W - pad.r) / 2}" y="${
      H - 6
    }" text-anchor="middle">radius ε (×1/255, L2)</text>`,
    `<path d="${d}" class="curve" fill="none"/>`,
  );
  marks.forEach((m, j) => {
    const f = certifiedAt(radii, correct, m / 255);
    const dy = j % 2 ? 16 : -6; // alternate above and below: neighbouring marks stay legible
    parts.push(
      `<circle cx="${x(m)}" cy="${y(f)}" r="4" class="mark"><title>${
        esc(`ε = ${m}/255: ${(f * 100).toFixed(1)}%`)
      }</title></circle>`,
      `<text x="${x(m) + 6}" y="${y(f) + dy}" class="mark-label">${(f * 100).toFixed(1)}%</text>`,
    );
  });
  parts.push(`</svg>`);
  return parts.join("");
}
