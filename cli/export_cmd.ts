/**
 * `sll export --checkpoint <ours> --to model.pth|model.safetensors`: one of our checkpoints as
 * the reference's state dict (`module.model.model.{i}.{kernel,bias,q,weight}`), written by our
 * own zip + pickle writer (`torch.load` + `load_state_dict(strict=True)` read it) or as
 * safetensors. The checkpoint is fully checked first (checksum, shapes, finite parameters).
 * @module
 */
import { archKind } from "../train/model.ts";
import { writeFileAtomic } from "../io/files.ts";
import type { HostTensor } from "../io/host_tensor.ts";
import { writePth } from "../io/pth_write.ts";
import { writeSafetensors } from "../io/safetensors.ts";
import { loadCheckpoint, resolveCheckpoint, sha256Hex } from "../train/checkpoint.ts";
import { isPthPath } from "../train/load_model.ts";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./args.ts";

/** Flags of `sll export`. */
export const EXPORT_FLAGS: readonly FlagSpec[] = [
  { name: "checkpoint", kind: "string", help: "our checkpoint file or train dir (latest)" },
  { name: "to", kind: "string", help: "output file: <name>.pth or <name>.safetensors" },
  { name: "json", kind: "bool", help: "print the result as one JSON line on stdout" },
  { name: "help", kind: "bool", help: "show this help" },
];

/** The reference trainer's key prefix (DataParallel → NormalizedModel → Sequential). */
const PREFIX = "module.model.model.";

/** Runs `sll export`; returns the exit code. */
export async function exportCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseFlags("export", argv, EXPORT_FLAGS);
  if (values.help) {
    console.log(helpText("export", "a checkpoint as a PyTorch .pth or safetensors", EXPORT_FLAGS));
    return 0;
  }
  if (values.checkpoint === undefined) {
    throw new UsageError("export needs --checkpoint <file or train dir>");
  }
  const to = values.to as string | undefined;
  if (to === undefined || !(to.endsWith(".pth") || to.endsWith(".safetensors"))) {
    throw new UsageError(
      `export needs --to <file>.pth or --to <file>.safetensors${
        to === undefined ? "" : `, got "${to}"`
      }`,
    );
  }
  const path = await resolveCheckpoint(values.checkpoint as string);
  if (isPthPath(path)) {
    throw new UsageError(
      `${path} is already a PyTorch checkpoint; export reads our checkpoints (.safetensors + .json)`,
    );
  }
  const ck = await loadCheckpoint(path);
  if (archKind(ck.meta.model.arch) === "convnet") {
    throw new UsageError(
      `${path} is a ConvNet of ${ck.meta.model.arch.layer} layers; export writes the reference's ` +
        `SLL architecture only (train with --arch sll to export); certify, attack and lipschitz ` +
        `read this checkpoint as it is`,
    );
  }
  const sd: Record<string, HostTensor> = {};
  for (const [p, h] of Object.entries(ck.params)) sd[PREFIX + p] = h;
  const spec = ck.meta.model;
  const bytes = to.endsWith(".pth")
    ? writePth(sd, { checkpoint: { epoch: Math.floor(ck.meta.epoch), global_step: ck.meta.step } })
    : writeSafetensors(sd, { format: "pt", sll_model: JSON.stringify(spec) });
  await writeFileAtomic(to, bytes);
  const down = spec.arch.spaceToDepth ?? 1;
  if (down !== 1) {
    console.error(
      `note: ${path} starts with a space-to-depth by ${down} (not in the reference's code): ` +
        `in PyTorch, module 0 of the Sequential is nn.PixelUnshuffle(${down}), the channel ` +
        `padding module 1, and the sum-pool AvgPool2d(${4 / down}, divisor_override=${4 / down})`,
    );
  }
  if (spec.arch.qMode === "paper") {
    console.error(
      `note: ${path} uses qMode "paper"; the reference's own SLL conv applies q on one axis ` +
        `(q cancels there), so its logits differ unless the PyTorch side uses the paper's formula`,
    );
  }
  const sha = await sha256Hex(bytes);
  if (values.json) {
    console.log(JSON.stringify({
      from: path,
      to,
      tensors: Object.keys(sd).length,
      bytes: bytes.byteLength,
      sha256: sha,
      model: spec,
    }));
  } else {
    console.log(
      `wrote ${to} (${
        Object.keys(sd).length
      } tensors, ${bytes.byteLength} bytes, SHA-256 ${sha}) ` +
        `from ${path}: ${spec.dataset}, input [${spec.inputShape}], mean [${spec.mean}], ` +
        `qMode ${spec.arch.qMode}`,
    );
  }
  return 0;
}
