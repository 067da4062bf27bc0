/**
 * The certified-accuracy chart: the fractions at the marked radii (strict: radius > ε, correct
 * only), and an SVG whose step curve starts at the natural accuracy and ends at zero.
 * @module
 */
import assert from "node:assert/strict";
import { certifiedAt, certifiedCurveSvg } from "./chart.ts";

Deno.test("chart: certified accuracy at ε counts correct images with radius > ε", () => {
  const radii = [0.5, 36 / 255, 0.9, 2];
  const correct = [1, 1, 0, 1];
  assert.equal(certifiedAt(radii, correct, 0), 3 / 4);
  assert.equal(
    certifiedAt(radii, correct, 36 / 255),
    2 / 4,
    "a radius equal to ε is not certified",
  );
  assert.equal(certifiedAt(radii, correct, 1), 1 / 4);
  assert.equal(certifiedAt([], [], 0), 0);
  const svg = certifiedCurveSvg(radii, correct, { marks: [36, 255] });
  assert.match(svg, /^<svg [^>]*viewBox="0 0 520 260"/);
  assert.ok(svg.endsWith("</svg>"));
  const marks = [...svg.matchAll(/<title>ε = (\d+)\/255: ([\d.]+)%<\/title>/g)].map((
    m,
  ) => [m[1], m[2]]);
  assert.deepEqual(marks, [["36", "50.0"], ["255", "25.0"]]);
  // the path: from 75% at ε = 0, three steps down (one per correct image), flat to the end
  const d = /<path d="([^"]+)"/.exec(svg)![1];
  assert.equal((d.match(/V/g) ?? []).length, 3);
  const ys = [...d.matchAll(/V([\d.]+)/g)].map((m) => Number(m[1]));
  assert.ok(ys[0] < ys[1] && ys[1] < ys[2], `the curve steps down: ${ys}`);
});
