/**
 * Password digests off the event loop. A SHA-crypt verify costs 8-15 ms of JavaScript here, and bcrypt at cost 10
 * about 60 ms: on the event loop (in slices) that delays every other connection's replies and keeps all logins on
 * one core. Where the process may use more than one CPU, the digests go to hashing threads instead (worker
 * threads running `internal/hashThread.ts`: one per CPU beyond the first, at most `maxThreads`), so that logins use
 * the other cores, as Dovecot's auth worker processes do. Each costs about 20 MiB; they start with the server
 * (`start`), or at the first digest, and are never stopped while the process runs.
 *
 * The event loop computes a digest itself (`inline`, the caller's sliced computation) when the process is confined
 * to one CPU (taskset, a cgroup), when every thread already has `queueLimit` digests waiting, or when a thread
 * fails or exits with the digest in hand. The result is the same either way; only where the CPU is spent differs.
 * A password crosses to a thread as a structured clone and is never logged or kept there.
 */
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { Effect } from "effect"
import type { Job } from "./internal/hashJob.ts"

export type { Job } from "./internal/hashJob.ts"

/** The most hashing threads a process starts, however many CPUs it may use. */
export const maxThreads = 4

/**
 * Digests waiting on one thread (the one it computes and the next, so that it never idles between two) beyond which
 * the next is computed on the event loop instead: under a burst of logins every core hashes, the event loop in
 * slices between its other work.
 */
export const queueLimit = 2

/** Threads that may fail and be replaced before the process gives up on them and hashes on the event loop. */
const maxFailures = 3

interface Thread {
  readonly worker: Worker
  /** The digests asked of it and not yet answered, by request id: each resumes its caller. */
  readonly waiting: Map<number, (digest: string | undefined) => void>
}

let threads: Array<Thread> = []
let failures = 0
let nextId = 0

/** How many threads the process should have: one per CPU it may use beyond the first. */
const wanted = (): number => (failures >= maxFailures ? 0 : Math.min(maxThreads, availableParallelism() - 1))

/** Drops a thread that failed or exited; its waiting digests are computed on the event loop. */
const lose = (thread: Thread): void => {
  if (!threads.includes(thread)) return
  threads = threads.filter((t) => t !== thread)
  failures++
  const waiting = [...thread.waiting.values()]
  thread.waiting.clear()
  for (const resume of waiting) resume(undefined)
}

const spawn = (): Thread | undefined => {
  let worker: Worker
  try {
    worker = new Worker(new URL("./internal/hashThread.ts", import.meta.url))
  } catch {
    failures++
    return undefined
  }
  const thread: Thread = { worker, waiting: new Map() }
  // Held open only while a digest is waiting on it: an idle thread never keeps the process alive.
  worker.unref()
  worker.on("message", ({ id, digest }: { readonly id: number; readonly digest: string | undefined }) => {
    const resume = thread.waiting.get(id)
    if (resume === undefined) return // its caller was interrupted
    forget(thread, id)
    resume(digest)
  })
  worker.on("error", () => lose(thread))
  worker.on("exit", () => lose(thread))
  return thread
}

const forget = (thread: Thread, id: number): void => {
  thread.waiting.delete(id)
  if (thread.waiting.size === 0) thread.worker.unref()
}

/** Starts the hashing threads the process should have (none on one CPU); does nothing when they run already. */
export const start = (): void => {
  for (let n = wanted() - threads.length; n > 0; n--) {
    const thread = spawn()
    if (thread === undefined) return
    threads.push(thread)
  }
}

/** How many hashing threads run, and how many digests wait on them (for tests and diagnostics). */
export const status = (): { readonly threads: number; readonly waiting: number } => ({
  threads: threads.length,
  waiting: threads.reduce((n, t) => n + t.waiting.size, 0)
})

/** The least busy thread with room, if any. */
const pick = (): Thread | undefined => {
  start()
  let best: Thread | undefined
  for (const t of threads) if (t.waiting.size < queueLimit && (best === undefined || t.waiting.size < best.waiting.size)) best = t
  return best
}

/**
 * The digest `job` asks for, computed on a hashing thread when one has room, else by `inline` (which must compute
 * the same). An interrupted caller's digest is dropped when it arrives.
 */
export const digest = (job: Job, inline: Effect.Effect<string>): Effect.Effect<string> =>
  Effect.suspend(() => {
    const thread = pick()
    if (thread === undefined) return inline
    return Effect.callback<string>((resume) => {
      const id = nextId++
      thread.waiting.set(id, (digest) => resume(digest === undefined ? inline : Effect.succeed(digest)))
      if (thread.waiting.size === 1) thread.worker.ref()
      try {
        thread.worker.postMessage({ id, job })
      } catch {
        forget(thread, id)
        resume(inline)
        return
      }
      return Effect.sync(() => forget(thread, id))
    })
  })

/** Stops the hashing threads (tests); digests waiting on them are computed on the event loop. */
export const stop = (): Promise<void> => {
  const stopping = threads
  threads = []
  failures = 0
  return Promise.all(stopping.map((t) => {
    const waiting = [...t.waiting.values()]
    t.waiting.clear()
    for (const resume of waiting) resume(undefined)
    return t.worker.terminate()
  })).then(() => undefined)
}
