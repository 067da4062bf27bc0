/**
 * Writing a new layer and checking it with the `isOneLipschitz` property: a Householder
 * reflection y = x − 2·v(vᵀx)/‖v‖² (orthogonal, hence 1-Lipschitz), and a broken variant that
 * forgets the normalisation, which the property rejects. The layer opts in to a proof: its map is
 * linear, x ↦ (I − 2vvᵀ/‖v‖²)x, and a certified bound of that matrix's spectral norm
 * (`denseSpectralBound`) turns "no counterexample found" into "proved".
 *
 * Run: deno run -A examples/new_layer.ts
 * @module
 */
import {
  add,
  div,
  matmul,
  mul,
  normal,
  reshape,
  scope,
  sub,
  sum,
  type Tensor,
  tensor,
} from "../mod.ts";
import { type BoundedLayer, denseSpectralBound, isOneLipschitz } from "../testing.ts";

/** Parameters of the reflection: the normal vector v. */
interface HouseholderParams {
  v: Tensor;
}

/** y = x − 2·v(vᵀx)/‖v‖² on [B, features]; `normalised: false` drops the ‖v‖² (not 1-Lipschitz). */
function householder(features: number, normalised = true): BoundedLayer<HouseholderParams> {
  return {
    // the certified bound of the layer's (linear) map for these parameters
    async lipschitzBound(p) {
      const m = scope(() => {
        const v = reshape(p.v, [features, 1]);
        const eye = tensor(
          Array.from({ length: features * features }, (_, i) => (i % (features + 1) ? 0 : 1)),
          { shape: [features, features], dtype: p.v.dtype },
        );
        const vvt = mul(matmul(v, reshape(v, [1, features])), 2);
        return sub(eye, normalised ? div(vvt, add(sum(mul(p.v, p.v)), 1e-30)) : vvt);
      });
      try {
        return await denseSpectralBound(m);
      } finally {
        m.dispose();
      }
    },
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

const r = await isOneLipschitz(householder(6), { inShape: [6], seed: 7, name: "householder" });
console.log(`householder: 1-Lipschitz (${r.summary})`);
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
