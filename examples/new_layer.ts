/**
 * Writing a new layer and checking it with the `isOneLipschitz` property: a Householder
 * reflection y = x − 2·v(vᵀx)/‖v‖² (orthogonal, hence 1-Lipschitz), and a broken variant that
 * forgets the normalisation, which the property rejects.
 *
 * Run: deno run -A examples/new_layer.ts
 * @module
 */
import { add, div, type Layer, mul, normal, sub, sum, type Tensor } from "../mod.ts";
import { isOneLipschitz } from "../testing.ts";

/** Parameters of the reflection: the normal vector v. */
interface HouseholderParams {
  v: Tensor;
}

/** y = x − 2·v(vᵀx)/‖v‖² on [B, features]; `normalised: false` drops the ‖v‖² (not 1-Lipschitz). */
function householder(features: number, normalised = true): Layer<HouseholderParams> {
  return {
    init(key, inShape) {
      return { outShape: [...inShape], params: { v: normal(key, [features]) } };
    },
    apply(p, x) {
      const proj = sum(mul(x, p.v), -1, true); // [B, 1] = vᵀx
      const step = mul(mul(proj, p.v), 2);
      return sub(x, normalised ? div(step, add(sum(mul(p.v, p.v)), 1e-30)) : step);
    },
  };
}

await isOneLipschitz(householder(6), { inShape: [6], seed: 7, name: "householder" });
console.log("householder: 1-Lipschitz (property held)");
try {
  await isOneLipschitz(householder(6, false), { inShape: [6], seed: 7, name: "unnormalised" });
  console.log("unnormalised: unexpectedly passed");
  Deno.exitCode = 1;
} catch (e) {
  console.log(
    `unnormalised variant rejected as expected: ${
      (e as Error).message.split("\n")[0].slice(0, 100)
    }`,
  );
}
