/**
 * The synchronous file work of a big open, shared by the store's thread and the worker thread (`worker.ts`): measuring
 * message files (the sizes a name promises, checked by one stat, or found by reading the file through, and when it
 * was delivered) and moving them from new/ to cur/, each item's outcome written into a shared table (`Table`).
 * Plain Node calls with no Effect, so the worker loads little. Errno errors are thrown as Node throws them, but a
 * file that is gone is an outcome (`gone`), not an error.
 */
import * as Fs from "node:fs"
import { makeSizeCounter, sizesOfRead } from "@pop3d/protocol/Rfc822"
import { baseName, curName, deliveredFromName, namesSizes, sizesFromName } from "./names.ts"
import type { Sizes } from "./names.ts"

/** A file's sizes and when it was delivered (ms): the time its name gives (`deliveredFromName`), else its mtime. */
export interface FileMeasure extends Sizes {
  readonly deliveredMs: number
}

// Where `measureFile` reads a message longer than the counting kernel's 1 MiB (synchronously, so one buffer serves
// every mailbox of a thread).
const scratch = Buffer.allocUnsafe(1024 * 1024)

const isAbsent = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === "ENOENT"

// Files are measured without updating their access time where the kernel allows it (the files' owner, or
// CAP_FOWNER): the first read of a freshly linked file would otherwise dirty its inode. Given up at the first EPERM.
let measureFlags = Fs.constants.O_RDONLY | (Fs.constants.O_NOATIME ?? 0)

const openToMeasure = (path: string): number | undefined => {
  try {
    return Fs.openSync(path, measureFlags)
  } catch (e) {
    if (isAbsent(e)) return undefined
    if (measureFlags === Fs.constants.O_RDONLY || (e as NodeJS.ErrnoException).code !== "EPERM") throw e
    measureFlags = Fs.constants.O_RDONLY
    return openToMeasure(path)
  }
}

/**
 * Measures the message file at `path` (named `name`) with as few system calls as it can, since a first open of a
 * big mailbox measures every file: a name carrying both sizes is checked by one stat; another file is opened once
 * and read through, a short read being the end of a regular file, and stat-ed only when its name gives no delivery
 * time. `undefined` when the file is gone; other errors throw.
 */
export const measureFile = (path: string, name: string): FileMeasure | undefined => {
  const named = deliveredFromName(name)
  const base = baseName(name)
  if (namesSizes(base)) {
    const stat = Fs.statSync(path, { throwIfNoEntry: false })
    if (stat === undefined) return undefined
    const sizes = sizesFromName(base, stat.size)
    if (sizes !== undefined) return { ...sizes, deliveredMs: named ?? stat.mtimeMs }
  }
  const fd = openToMeasure(path)
  if (fd === undefined) return undefined
  try {
    const deliveredMs = named ?? Fs.fstatSync(fd).mtimeMs
    // Most messages: one read, into the counting kernel's memory.
    const whole = sizesOfRead((into) => Fs.readSync(fd, into, 0, into.length, 0))
    if (whole !== undefined) return { ...whole, deliveredMs }
    const counter = makeSizeCounter()
    let storageSize = 0
    for (let bytesRead = -1; bytesRead !== 0;) {
      bytesRead = Fs.readSync(fd, scratch, 0, scratch.length, storageSize)
      counter.push(bytesRead === scratch.length ? scratch : scratch.subarray(0, bytesRead))
      storageSize += bytesRead
      if (bytesRead < scratch.length) break
    }
    return { storageSize, wireSize: counter.total(), deliveredMs }
  } finally {
    Fs.closeSync(fd)
  }
}

/**
 * The table the store's thread and a worker fill together (`parallel.ts`), in one SharedArrayBuffer: a claim counter
 * (items are claimed `chunk` at a time with `Atomics.add`, so whichever thread is free takes the next ones), then
 * three numbers per item. For `measure`: storage size (`pending` until done, `gone` for a vanished file), wire size,
 * delivery time; for `move`: `moved` or `gone`.
 */
export interface Table {
  /**
   * The next item to claim; how many items the worker did (for tests and diagnostics); whether the worker has
   * started on the job (set before its first claim).
   */
  readonly claim: Int32Array
  readonly cells: Float64Array
}

export const pending = -2
export const gone = -1
export const moved = 1
/** How many items one claim takes. */
export const chunk = 64

/** What a worker can be asked to do to each item: an item is a path relative to the mailbox, `new/<name>` or `cur/<name>`. */
export type Job = "measure" | "move"

// The claim counters' octets, a multiple of 8 so that the cells are aligned.
const header = 16

/** A table for `count` items, every one pending. */
export const makeTable = (count: number): Table => {
  const shared = new SharedArrayBuffer(header + 24 * count)
  const table = { claim: new Int32Array(shared, 0, 3), cells: new Float64Array(shared, header, 3 * count) }
  for (let i = 0; i < count; i++) table.cells[3 * i] = pending
  return table
}

/** The table over a buffer `makeTable` made (in the worker). */
export const tableOf = (shared: SharedArrayBuffer): Table => ({
  claim: new Int32Array(shared, 0, 3),
  cells: new Float64Array(shared, header, (shared.byteLength - header) / 8)
})

/** Measures the file `home/item` into row `i` (the item's last part is the file's name). */
const measureInto = (table: Table, i: number, home: string, item: string): void => {
  const m = measureFile(`${home}/${item}`, item.slice(item.lastIndexOf("/") + 1))
  if (m === undefined) table.cells[3 * i] = gone
  else {
    table.cells[3 * i + 1] = m.wireSize
    table.cells[3 * i + 2] = m.deliveredMs
    table.cells[3 * i] = m.storageSize
  }
}

/** Moves the file `home/new/<name>` to cur/ (as `curName`), noting in row `i` whether it was still there. */
const moveInto = (table: Table, i: number, home: string, item: string): void => {
  try {
    Fs.renameSync(`${home}/${item}`, `${home}/cur/${curName(item.slice(4))}`)
    table.cells[3 * i] = moved
  } catch (e) {
    if (!isAbsent(e)) throw e
    table.cells[3 * i] = gone
  }
}

/** Does `job` to item `i` of `items` (paths under `home`), writing its row of the table. */
export const doInto = (job: Job, table: Table, i: number, home: string, items: ReadonlyArray<string>): void =>
  (job === "measure" ? measureInto : moveInto)(table, i, home, items[i]!)

/**
 * Claims chunks and does `job` to their items until none is left, or until `until` (a `performance.now()` time)
 * has passed at the end of a chunk: then `true`, there may be more. The worker counts what it did (`byWorker`).
 */
export const doChunks = (
  job: Job,
  table: Table,
  home: string,
  items: ReadonlyArray<string>,
  until = Number.POSITIVE_INFINITY,
  byWorker = false
): boolean => {
  if (byWorker) Atomics.store(table.claim, 2, 1)
  for (let first = Atomics.add(table.claim, 0, chunk); first < items.length; first = Atomics.add(table.claim, 0, chunk)) {
    const end = Math.min(first + chunk, items.length)
    for (let i = first; i < end; i++) doInto(job, table, i, home, items)
    if (byWorker) Atomics.add(table.claim, 1, end - first)
    if (performance.now() >= until) return true
  }
  return false
}
