/**
 * The train-dir lock: one holder at a time, a clear error naming the live holder's pid, a stale
 * lock of a dead process taken over, and release only removing our own lock.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { LOCK_FILE, lockTrainDir, TrainDirLockedError } from "./lock.ts";

async function deadPid(): Promise<number> {
  const p = new Deno.Command(Deno.execPath(), { args: ["eval", ""], stdout: "null" }).spawn();
  await p.status;
  return p.pid;
}

Deno.test("lock: a second taker fails naming the holder's pid; release frees the dir", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lock = lockTrainDir(dir);
    assert.equal(Deno.readTextFileSync(join(dir, LOCK_FILE)).split("\n")[0], String(Deno.pid));
    assert.throws(() => lockTrainDir(dir), (e: Error) => {
      assert.ok(e instanceof TrainDirLockedError);
      assert.match(e.message, new RegExp(`in use by process ${Deno.pid}\\b.*kill ${Deno.pid}`));
      return true;
    });
    lock.release();
    assert.throws(() => Deno.statSync(join(dir, LOCK_FILE)), Deno.errors.NotFound);
    lockTrainDir(dir).release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lock: a stale lock of a dead process is taken over; another's lock is not released", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pid = await deadPid();
    Deno.writeTextFileSync(join(dir, LOCK_FILE), `${pid}\n${Deno.hostname()}\n2020-01-01\n`);
    const lock = lockTrainDir(dir);
    assert.equal(Deno.readTextFileSync(join(dir, LOCK_FILE)).split("\n")[0], String(Deno.pid));
    // someone replaced our lock (e.g. deleted by hand, then another run): release leaves it
    Deno.writeTextFileSync(join(dir, LOCK_FILE), `1\n${Deno.hostname()}\nx\n`);
    lock.release();
    assert.equal(Deno.readTextFileSync(join(dir, LOCK_FILE)).split("\n")[0], "1");
    // pid 1 is alive: refused
    assert.throws(() => lockTrainDir(dir), /in use by process 1 /);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [LOCK_FILE]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
