/**
 * The store's worker thread (started by `parallel.ts`, once, and kept): for each job posted to it, does the job to
 * the items it claims from the job's shared table until none is left, then posts "done". It never reports an
 * error: at the first one it stops that job, the items it could not do stay pending, and the store's thread does
 * them again (and fails there, with the error in hand).
 */
import { parentPort } from "node:worker_threads"
import type { Job } from "./measure.ts"
import { doChunks, tableOf } from "./measure.ts"

interface Posted {
  readonly job: Job
  readonly home: string
  /** The items, UTF-8, `\0`-separated (one transferred buffer clones much faster than an array of strings). */
  readonly items: Uint8Array
  readonly shared: SharedArrayBuffer
}

parentPort?.on("message", ({ job, home, items, shared }: Posted) => {
  try {
    const all = Buffer.from(items.buffer, items.byteOffset, items.byteLength).toString("utf8").split("\0")
    doChunks(job, tableOf(shared), home, all, Number.POSITIVE_INFINITY, true)
  } catch {
    // Left pending: see above.
  } finally {
    parentPort?.postMessage("done")
  }
})
