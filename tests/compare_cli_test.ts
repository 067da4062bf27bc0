/**
 * `sll compare` end to end on a tiny budget and subset (one layer, a few steps): the JSON rows,
 * compare.json, the three SVG charts and the Markdown table; the budget parser, the table's
 * winner line and the bar chart as units; bad --budget and --layers values as usage errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sll } from "./cli_helpers.ts";
import { type CompareRow, compareTable, parseBudget } from "../cli/compare_cmd.ts";
import { barChart } from "../cli/compare_svg.ts";
import { layerNames } from "../layers/registry.ts";

Deno.test("compare: trains a layer on a tiny budget; table, JSON and SVG charts", async () => {
  const out = await Deno.makeTempDir({ prefix: "sll-compare-" });
  try {
    const r = await sll([
      "compare",
      "--budget",
      "1s",
      "--layers",
      "aol",
      "--size",
      "tiny",
      "--limit-train",
      "64",
      "--limit-test",
      "32",
      "--batch-size",
      "16",
      "--out",
      out,
      "--backend",
      "cpu",
      "--offline",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim()) as { budgetSeconds: number; rows: CompareRow[] };
    assert.equal(res.budgetSeconds, 1);
    assert.equal(res.rows.length, 1);
    const row = res.rows[0];
    assert.equal(row.layer, "aol");
    assert.ok(row.steps >= 1 && row.images === row.steps * 16, JSON.stringify(row));
    assert.ok(row.accuracy >= 0 && row.accuracy <= 1);
    assert.deepEqual(Object.keys(row.certified), ["36", "72", "108", "255"]);
    assert.ok(row.inferenceImagesPerSecond > 0 && row.peakBytes > 0 && row.params > 0);
    const saved = JSON.parse(await Deno.readTextFile(join(out, "compare.json")));
    assert.equal(saved.rows[0].layer, "aol");
    for (const f of ["compare_accuracy.svg", "compare_speed.svg", "compare_memory.svg"]) {
      const svg = await Deno.readTextFile(join(out, f));
      assert.match(svg, /^<svg[^>]*>/, f);
      assert.match(svg, />aol</, f);
    }
    assert.match(r.stderr, /aol: \d+ ms per step → \d+ steps/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("compare: bad --budget and --layers are usage errors naming the flag", async () => {
  const bad = await sll(["compare", "--budget", "10x"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid value for --budget: "10x"/);
  const nope = await sll(["compare", "--layers", "sll,nope"]);
  assert.equal(nope.code, 2);
  assert.match(nope.stderr, /"nope" is not a registered layer/);
  for (const n of layerNames()) assert.ok(nope.stderr.includes(n), nope.stderr);
});

Deno.test("compare: budget parsing, the table's winner and the bar chart", () => {
  assert.equal(parseBudget("90s"), 90);
  assert.equal(parseBudget("10m"), 600);
  assert.equal(parseBudget("1.5h"), 5400);
  assert.throws(() => parseBudget("0m"), /--budget/);
  const row = (layer: string, c: number, ips: number): CompareRow => ({
    layer,
    params: 1000,
    steps: 10,
    images: 160,
    trainSeconds: 1,
    accuracy: 0.8,
    certified: { "36": c },
    trainImagesPerSecond: ips,
    inferenceImagesPerSecond: 100,
    peakBytes: 2 ** 20,
    trainDir: "x",
  });
  const t = compareTable([row("a", 0.5, 10), row("b", 0.6, 5), row("c", 0.6, 7)], 120);
  assert.match(t, /\| a +\| 1\.0k/);
  assert.match(t, /Per 2m00s of CPU training, c wins: 60\.0% certified at 36\/255/);
  const svg = barChart(["x", "y"], [{ label: "s", values: [1, NaN] }], { title: "T", yLabel: "v" });
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 1 + 1); // one bar (NaN skipped) + legend
});
