/**
 * Does one job (`measure` or `move`, see `measure.ts`) to many files of a mailbox, on two threads when there are
 * many: the store's thread in short slices (the event loop keeps serving the other sessions between them) and a
 * worker thread (`worker.ts`, one for the process, started at the first big job and stopped after 30 s without
 * one) claim chunks of one shared table, so a big mailbox's first open uses a second core. No worker is started
 * where the process may run on one CPU only (taskset, a cgroup): there the two would only take turns; and a job
 * that finds the worker busy is done here alone. Whatever the worker left undone (it failed, or could not start) the store's thread does
 * afterwards, so the worker can only make it faster.
 */
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { Effect } from "effect"
import * as Files from "./files.ts"
import type { Job, Table } from "./measure.ts"
import { doChunks, doInto, makeTable, pending } from "./measure.ts"

/** Below this many files one thread does the job: starting a worker costs its thread and tens of milliseconds. */
export const parallelFrom = 4_096

/** The worker thread, started at the first job that wants it and kept while in use; `busy` while it has a job. */
interface Helper {
  readonly worker: Worker
  busy: boolean
  /** Settles the job in hand (when the worker posts "done", fails or exits). */
  settle: () => void
  /** Stops an idle worker after `idleMs` (its isolate holds about 45 MiB). */
  idle: ReturnType<typeof setTimeout> | undefined
}

/** How long the worker is kept without a job: big first opens come in bursts (a migration), then rarely. */
const idleMs = 30_000

let helper: Helper | undefined

/** Stops the worker once it has been idle for `idleMs`. */
const armIdle = (h: Helper): void => {
  clearTimeout(h.idle)
  h.idle = setTimeout(() => {
    if (helper === h) helper = undefined
    void h.worker.terminate()
  }, idleMs).unref()
}

/** The worker, started if need be; `undefined` where it would not help (one CPU) or cannot start. */
const theHelper = (): Helper | undefined => {
  if (helper !== undefined) return helper
  if (availableParallelism() < 2) return undefined
  try {
    const worker = new Worker(new URL("./worker.ts", import.meta.url))
    // It never holds the process open: at exit it may stop mid-chunk, and a half-done item is simply pending.
    worker.unref()
    const started: Helper = { worker, busy: false, settle: () => {}, idle: undefined }
    const gone = () => {
      if (helper === started) helper = undefined
      started.settle()
    }
    worker.on("message", () => started.settle())
    worker.on("error", gone)
    worker.on("exit", gone)
    helper = started
    armIdle(started)
    return started
  } catch {
    return undefined
  }
}

/**
 * Starts the worker ahead of a job that will want it (a big mailbox is about to be listed), so that it has booted
 * (a few hundred milliseconds here) by the time the job comes. Does nothing on one CPU.
 */
export const prepare = (): void => {
  theHelper()
}

/** Hands `table`'s job to the worker if it is free; the promise settles once it will write no more. */
const handOver = (job: Job, table: Table, home: string, items: ReadonlyArray<string>): Promise<void> | undefined => {
  const h = theHelper()
  if (h === undefined || h.busy) return undefined
  // Its own buffer (a small Buffer would sit in Node's shared pool, which cannot be transferred).
  const encoded = new TextEncoder().encode(items.join("\0"))
  let settled: () => void = () => {}
  const done = new Promise<void>((resolve) => (settled = resolve))
  clearTimeout(h.idle)
  h.settle = () => {
    h.busy = false
    h.settle = () => {}
    armIdle(h)
    settled()
  }
  try {
    h.worker.postMessage({ job, home, items: encoded, shared: table.claim.buffer }, [encoded.buffer])
  } catch {
    h.settle()
    return undefined
  }
  h.busy = true
  return done
}

/**
 * Does `job` to every item (a path under `home`, `new/<name>` or `cur/<name>`) and returns the filled table. The
 * worker starts from `parallelAt` items (default `parallelFrom`). Measuring is shared between the two threads; moves
 * are left to the worker alone, since renames into one folder take its lock in turn and a second thread renaming
 * would only wait (this thread is free meanwhile to write the UID list). Fails with the first errno error met; the
 * worker then stops at the end of its chunk.
 */
export const doAll = (
  job: Job,
  home: string,
  items: ReadonlyArray<string>,
  parallelAt: number = parallelFrom
): Effect.Effect<Table, Files.FsError> =>
  Effect.suspend(() => {
    const table = makeTable(items.length)
    const worker = items.length >= parallelAt ? handOver(job, table, home, items) : undefined
    // No more claims once this thread is done, failed or interrupted.
    const closeClaims = Effect.sync(() => Atomics.store(table.claim, 0, items.length))
    return Effect.gen(function*() {
      if (worker === undefined || job === "measure") {
        yield* Files.bySlices((until) => doChunks(job, table, home, items, until))
      }
      if (worker === undefined) return table
      // Every item claimed here before the worker even started on the job (it was still booting): it can claim
      // none now, and is not waited for.
      if (job === "measure" && Atomics.load(table.claim, 2) === 0) return table
      yield* Effect.promise(() => worker)
      const undone = Array.from(items.keys()).filter((i) => table.cells[3 * i] === pending)
      yield* Files.inSlices(undone, (i) => doInto(job, table, i, home, items))
      return table
    }).pipe(Effect.ensuring(closeClaims))
  })
