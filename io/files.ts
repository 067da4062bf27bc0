/**
 * File writes that never leave a partial file behind: data goes to a temp file beside the
 * target and is renamed into place (atomic on one filesystem). Shared by dataset downloads and
 * checkpoints.
 * @module
 */

/**
 * Writes `bytes` to `path` through a temp file in the same directory and a rename, creating the
 * directory when needed; readers never see a partial file.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "@sll/sll/io";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/sub/x.bin`, new Uint8Array([1, 2]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
