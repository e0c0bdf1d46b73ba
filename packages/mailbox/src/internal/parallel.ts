/**
 * Does one job (`measure` or `move`, see `measure.ts`) to many files of a mailbox, on two threads when there are
 * many: the store's thread in short slices (the event loop keeps serving the other sessions between them) and a
 * worker thread (`worker.ts`, one for the process, started at the first big job and stopped after 30 s without
 * one) claim chunks of shared tables, so a big mailbox's first open uses a second core. A first open's files are
 * fed to the worker in batches while the mailbox is still being listed (`measureFeed`). No worker is started where
 * the process may run on one CPU only (taskset, a cgroup): there the two would only take turns; and a job that
 * finds the worker busy is done here alone. Whatever the worker left undone (it failed, or could not start) the
 * store's thread does afterwards, so the worker can only make it faster.
 */
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { Effect } from "effect"
import * as Files from "./files.ts"
import type { Job, Table } from "./measure.ts"
import { doChunks, doInto, makeTable, pending } from "./measure.ts"

/** Below this many files one thread does the job: starting a worker costs its thread and tens of milliseconds. */
export const parallelFrom = 4_096

/** The worker thread, started at the first job that wants it and kept while in use. */
interface Helper {
  readonly worker: Worker
  /** The jobs posted and not yet done, oldest first: each settles when the worker posts "done" (or fails, or exits). */
  readonly jobs: Array<() => void>
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
    const started: Helper = { worker, jobs: [], idle: undefined }
    const gone = () => {
      if (helper === started) helper = undefined
      for (const settle of started.jobs.splice(0)) settle()
    }
    worker.on("message", () => {
      started.jobs.shift()?.()
      if (started.jobs.length === 0) armIdle(started)
    })
    worker.on("error", gone)
    worker.on("exit", gone)
    helper = started
    armIdle(started)
    return started
  } catch {
    return undefined
  }
}

/** Posts `table`'s job to the worker, after the jobs it already has; the promise settles once it will write no more. */
const post = (h: Helper, job: Job, table: Table, home: string, items: ReadonlyArray<string>): Promise<void> | undefined => {
  // A worker that has since been stopped (idle) or has failed takes no more jobs.
  if (helper !== h) return undefined
  // Its own buffer (a small Buffer would sit in Node's shared pool, which cannot be transferred).
  const encoded = new TextEncoder().encode(items.join("\0"))
  let settle: () => void = () => {}
  const done = new Promise<void>((resolve) => (settle = resolve))
  try {
    h.worker.postMessage({ job, home, items: encoded, shared: table.claim.buffer }, [encoded.buffer])
  } catch {
    return undefined
  }
  clearTimeout(h.idle)
  h.jobs.push(settle)
  return done
}

/** Hands `table`'s job to the worker if it is free. */
const handOver = (job: Job, table: Table, home: string, items: ReadonlyArray<string>): Promise<void> | undefined => {
  const h = theHelper()
  return h === undefined || h.jobs.length > 0 ? undefined : post(h, job, table, home, items)
}

/**
 * Does what the worker left undone of a table it was handed (`worker`): waits for it unless it never started on the
 * table (every item was claimed here first, so it can claim none now), then does here whatever is still pending.
 */
const finish = (
  job: Job,
  table: Table,
  home: string,
  items: ReadonlyArray<string>,
  worker: Promise<void> | undefined
): Effect.Effect<void, Files.FsError> =>
  Effect.gen(function*() {
    if (worker === undefined) return
    if (job === "measure" && Atomics.load(table.claim, 2) === 0) return
    yield* Effect.promise(() => worker)
    const undone = Array.from(items.keys()).filter((i) => table.cells[3 * i] === pending)
    yield* Files.inSlices(undone, (i) => doInto(job, table, i, home, items))
  })

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
      yield* finish(job, table, home, items, worker)
      return table
    }).pipe(Effect.ensuring(closeClaims))
  })

/** How many items a feed hands the worker at a time. */
export const batchSize = 2_048

/**
 * `doAll("measure")` over files still being listed: a mailbox's first open measures every file, and the worker
 * starts on the first ones while the rest are listed, a third of a second in which it would otherwise wait.
 */
export interface Feed {
  /** One more file, `folder/name` under the mailbox; every `batchSize` of them go to the worker at once. */
  add(folder: string, name: string): void
  /**
   * Measures every file added that is not yet, on both threads, and returns the table, its rows in the order of
   * `add` (the second claim counter: how many the worker did). Fails as `doAll` does.
   */
  readonly done: Effect.Effect<Table, Files.FsError>
  /** Stops the worker's claims (when the listing failed and `done` will not run); `done` ends with it too. */
  readonly close: Effect.Effect<void>
}

/** Files of one folder handed over together: the items are bare names under `home` (the folder). */
interface Batch {
  readonly home: string
  readonly items: ReadonlyArray<string>
  readonly table: Table
  readonly worker: Promise<void> | undefined
}

/**
 * A feed of files under `home` to measure. The worker takes part if it is free now; it then takes each full batch in
 * turn, while this thread, once the listing is done, claims from the last batch back, so that the two meet in the
 * middle. Without the worker (one CPU, another mailbox's job) this thread measures everything, in slices. A batch
 * holds one folder's files, so that the names are handed over as they were listed, with no path built for each.
 */
export const measureFeed = (home: string): Feed => {
  const h = theHelper()
  const worker = h !== undefined && h.jobs.length === 0 ? h : undefined
  // Kept while the files are listed, even before the first batch is posted; `close` lets it go idle again.
  if (worker !== undefined) clearTimeout(worker.idle)
  const batches: Array<Batch> = []
  let folder = ""
  let items: Array<string> = []
  const seal = (toWorker: boolean) => {
    if (items.length === 0) return
    const table = makeTable(items.length)
    const batchHome = `${home}/${folder}`
    const posted = toWorker && worker !== undefined ? post(worker, "measure", table, batchHome, items) : undefined
    batches.push({ home: batchHome, items, table, worker: posted })
    items = []
  }
  const close = Effect.sync(() => {
    for (const b of batches) Atomics.store(b.table.claim, 0, b.items.length)
    if (worker !== undefined && helper === worker && worker.jobs.length === 0) armIdle(worker)
  })
  const done = Effect.gen(function*() {
    seal(false)
    for (let k = batches.length - 1; k >= 0; k--) {
      const b = batches[k]!
      yield* Files.bySlices((until) => doChunks("measure", b.table, b.home, b.items, until))
    }
    for (const b of batches) yield* finish("measure", b.table, b.home, b.items, b.worker)
    let count = 0
    for (const b of batches) count += b.items.length
    const all = makeTable(count)
    let row = 0
    for (const b of batches) {
      all.cells.set(b.table.cells, 3 * row)
      row += b.items.length
      all.claim[1] += b.table.claim[1]!
    }
    all.claim[0] = count
    return all
  }).pipe(Effect.ensuring(close))
  return {
    add: (inFolder, name) => {
      if (inFolder !== folder) {
        seal(true)
        folder = inFolder
      }
      items.push(name)
      if (items.length === batchSize) seal(true)
    },
    done,
    close
  }
}
