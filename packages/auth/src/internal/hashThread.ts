/**
 * A hashing thread (started by `HashThreads.ts`): computes each posted password digest at once and posts it back
 * under the request's id, or `undefined` when the computation threw (the event loop then computes it itself). It
 * loads only Node, bcryptjs and the SHA-crypt core, never Effect, so that it costs about 20 MiB. Nothing here logs
 * or keeps a password: the job is dropped once answered.
 */
import { parentPort } from "node:worker_threads"
import * as bcryptjs from "bcryptjs"
import type { Job } from "./hashJob.ts"
import { digestNow } from "./shaCryptCore.ts"

const compute = (job: Job): string =>
  job.kind === "sha-crypt" ? digestNow(job.password, job.setting) : bcryptjs.hashSync(job.password, job.setting).slice(-31)

parentPort?.on("message", ({ id, job }: { readonly id: number; readonly job: Job }) => {
  let digest: string | undefined
  try {
    digest = compute(job)
  } catch {
    digest = undefined
  }
  parentPort?.postMessage({ id, digest })
})
