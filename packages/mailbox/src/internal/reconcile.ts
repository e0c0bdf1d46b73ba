/**
 * The UID list brought in line with a Maildir's files: which files the list lacks (measured once, before the lock),
 * whether open needs the lock at all, and, under the lock, moving new/ to cur/, dropping entries whose files are
 * gone and giving unknown files the next UIDs in delivery order. Used by the Maildir store only; it never lowers
 * `next` and never writes the list without the caller holding the mailbox lock.
 *
 * A first open of a big mailbox touches every file: those calls are synchronous, in short slices between which the
 * event loop serves the other sessions (`Files.inSlices`), since a promise call's thread-pool round trip costs
 * several times the call itself; a worker thread measures beside them when there are many (`parallel.ts`).
 */
import * as Fs from "node:fs"
import { Effect } from "effect"
import type { MailboxError } from "../Mailbox.ts"
import * as UidList from "../UidList.ts"
import * as Files from "./files.ts"
import type { Found, Paths } from "./layout.ts"
import { curName, scan } from "./layout.ts"
import type { FileMeasure, Table } from "./measure.ts"
import { gone } from "./measure.ts"
import type { Feed } from "./parallel.ts"
import { doAll, measureFeed } from "./parallel.ts"

/** A message file the UID list lacks, measured: where it was then, its sizes, and when it was delivered. */
export interface Measured extends FileMeasure {
  readonly found: Found
}

/** How many files are stat-ed at once by the store's promise-based sweeps (stats, mailboxes, expire). */
export const fileConcurrency = 32

/** The bases of the list's entries that have a file. */
const knownIn = (list: UidList.UidList, files: ReadonlyMap<string, Found>): Set<string> => {
  const known = new Set<string>()
  for (const e of list.entries) if (files.has(e.base)) known.add(e.base)
  return known
}

/**
 * The files whose base is not in `known`, measured. Files that vanish
 * meanwhile are left out. A file measured earlier (outside the lock, `earlier`)
 * and found under the same name, or under the name a move to cur/ gave it, is
 * not read again: a Maildir file's content never changes under one name.
 */
const describe = (
  p: Paths,
  files: ReadonlyMap<string, Found>,
  known: ReadonlySet<string>,
  earlier: ReadonlyArray<Measured>
): Effect.Effect<Array<Measured>, MailboxError> =>
  Effect.gen(function*() {
    const cache = new Map(earlier.map((m) => [m.found.base, m]))
    const reused: Array<Measured> = []
    const toMeasure: Array<Found> = []
    for (const found of files.values()) {
      if (known.has(found.base)) continue
      const cached = cache.get(found.base)
      if (cached === undefined || (cached.found.name !== found.name && curName(cached.found.name) !== found.name)) {
        toMeasure.push(found)
      } else reused.push(cached.found === found ? cached : { ...cached, found })
    }
    const table = yield* doAll("measure", p.home, toMeasure.map((found) => `${found.dir}/${found.name}`))
    return rowsOf(table, toMeasure, reused)
  }).pipe(Effect.mapError(Files.toMailboxError("read a new message")))

/** Appends to `out` the files measured in `table` (row i: `found[i]`), leaving out those that were gone. */
const rowsOf = (table: Table, found: ReadonlyArray<Found>, out: Array<Measured>): Array<Measured> => {
  for (let i = 0; i < found.length; i++) {
    const storageSize = table.cells[3 * i]!
    if (storageSize !== gone) {
      out.push({ storageSize, wireSize: table.cells[3 * i + 1]!, deliveredMs: table.cells[3 * i + 2]!, found: found[i]! })
    }
  }
  return out
}

/**
 * The files in delivery order: by delivery time, then by name (as it will be after the move). A first open sorts a
 * hundred thousand of them: when no two share a time, which is usual, the times are sorted as bare numbers and each
 * file finds its place among them by binary search, several times faster than sorting the records.
 */
const inDeliveryOrder = (unknown: Array<Measured>, nameOf: (f: Found) => string): Array<Measured> => {
  const byTimeThenName = (a: Measured, b: Measured) => {
    if (a.deliveredMs !== b.deliveredMs) return a.deliveredMs - b.deliveredMs
    const nameA = nameOf(a.found)
    const nameB = nameOf(b.found)
    return nameA < nameB ? -1 : nameA > nameB ? 1 : 0
  }
  const times = new Float64Array(unknown.length)
  for (let i = 0; i < unknown.length; i++) times[i] = unknown[i]!.deliveredMs
  const sorted = times.slice().sort()
  for (let i = 1; i < sorted.length; i++) if (!(sorted[i - 1]! < sorted[i]!)) return unknown.sort(byTimeThenName)
  const out = new Array<Measured>(unknown.length)
  for (let i = 0; i < times.length; i++) {
    let low = 0
    let high = sorted.length - 1
    while (low < high) {
      const mid = (low + high) >>> 1
      if (sorted[mid]! < times[i]!) low = mid + 1
      else high = mid
    }
    out[low] = unknown[i]!
  }
  return out
}

const sameMembers = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean => {
  if (a.size !== b.size) return false
  for (const x of a) if (!b.has(x)) return false
  return true
}

/** True when list and files agree exactly and nothing waits in new/: open needs no lock then. */
const isClean = (list: UidList.UidList, files: ReadonlyMap<string, Found>): boolean =>
  list.entries.length === files.size && list.entries.every((e) => files.get(e.base)?.dir === "cur")

export interface State {
  readonly list: UidList.UidList
  readonly files: ReadonlyMap<string, Found>
}

/** A folder is trusted unchanged by its mtime only when that is this much older than the look (coarse timestamps). */
const settleMs = 2_000

/**
 * The mtimes of new/ and cur/, taken before listing them: while they stay the same, the listing holds (any file
 * added, removed or renamed changes its folder's mtime). `undefined` when a folder changed too recently to tell.
 */
const folderStamp = (p: Paths): string | undefined => {
  try {
    const fresh = Fs.statSync(p.new, { bigint: true })
    const cur = Fs.statSync(p.cur, { bigint: true })
    const settled = Date.now() - Math.max(Number(fresh.mtimeMs), Number(cur.mtimeMs)) > settleMs
    return settled ? `${fresh.ino}:${fresh.mtimeNs}:${cur.ino}:${cur.mtimeNs}` : undefined
  } catch {
    return undefined
  }
}

/**
 * True when new/ and cur/ together look like thousands of entries by their size on disk (ext4 gives a folder about
 * 4 KiB per 50 entries, and other file systems no less; a folder never shrinks, so this is only asked when the
 * mailbox has no UID list yet).
 */
const looksBig = (p: Paths): boolean => {
  try {
    return Fs.statSync(p.new).size + Fs.statSync(p.cur).size >= 256 * 1024
  } catch {
    return false
  }
}

/** What open and deliver learn before taking the lock: the list, the files, and the files the list lacks, measured. */
export interface Survey {
  readonly clean: State | undefined
  /** The listing of new/ and cur/ (handed on to `reconcile`, which updates it). */
  readonly files: Map<string, Found>
  /** The folders' stamp, taken before the listing (see `folderStamp`). */
  readonly stamp: string | undefined
  /** The bases the list knew, and the other files, measured. */
  readonly known: ReadonlySet<string>
  readonly measured: ReadonlyArray<Measured>
}

/**
 * Without the lock: looks at the list and the directory. When they agree
 * (`clean`), open needs no lock at all; otherwise the unknown files are
 * measured now, so that the lock is later held only briefly.
 */
export const survey = (p: Paths): Effect.Effect<Survey, MailboxError> =>
  Effect.gen(function*() {
    const first = yield* UidList.load(p.home)
    const stamp = folderStamp(p)
    // A big mailbox without a UID list (its first open, or a damaged list): every file is unknown, and the files
    // are measured as they are listed, the worker starting on the first ones while the rest are listed.
    const feed = (first._tag !== "Ok" || first.list.entries.length === 0) && looksBig(p)
      ? measureFeed(p.home)
      : undefined
    const listed = Effect.gen(function*() {
      const fed: Array<Found> = []
      const files = yield* scan(p, feed === undefined ? undefined : (found) => {
        fed.push(found)
        feed.add(found.dir, found.name)
      })
      if (first._tag === "Ok" && isClean(first.list, files)) {
        return { clean: { list: first.list, files }, files, stamp, known: new Set<string>(), measured: [] }
      }
      const known = first._tag === "Ok" ? knownIn(first.list, files) : new Set<string>()
      if (feed === undefined) return { clean: undefined, files, stamp, known, measured: yield* describe(p, files, known, []) }
      // A base listed in both folders was fed twice, and only the file the listing kept counts: `describe` takes
      // its measure. If the feed failed and some file was such a duplicate, the failure may be the other file's (a
      // copy in new/ that cannot be read): the kept files are measured again without it.
      if (fed.length === files.size && known.size === 0) {
        return { clean: undefined, files, stamp, known, measured: yield* measuredFeed(feed, fed) }
      }
      const earlier = yield* Effect.orElseSucceed(measuredFeed(feed, fed), (): Array<Measured> => [])
      return { clean: undefined, files, stamp, known, measured: yield* describe(p, files, known, earlier) }
    })
    // However the survey ends (a failure, an interruption), the worker stops claiming the files fed to it.
    return yield* feed === undefined ? listed : Effect.ensuring(listed, feed.close)
  })

/** The files fed to `feed` (in order, `fed`), measured; those gone meanwhile are left out. */
const measuredFeed = (feed: Feed, fed: ReadonlyArray<Found>): Effect.Effect<Array<Measured>, MailboxError> =>
  Effect.map(feed.done, (table) => rowsOf(table, fed, [])).pipe(
    Effect.mapError(Files.toMailboxError("read a new message"))
  )

/**
 * What `reconcile` leaves: the state, and when the work was left for later (`writeLater`, then `moveLater`, run by
 * the caller still holding the lock), the files still to move to cur/ and the list still to write.
 */
export interface Reconciled extends State {
  /** Files still in new/; `files` names them as they will be in cur/. */
  readonly later: ReadonlyArray<Found>
  /** With `later`: the list as it must be written (`state.list`), if it changed. */
  readonly unwritten: UidList.UidList | undefined
}

/**
 * From this many files waiting in new/, an open (`moveNew: "later"`) leaves the list's write and the moves for
 * after it returns (`writeLater`, `moveLater`).
 */
export const moveLaterFrom = 4_096

/**
 * Under the lock: brings the UID list in line with the directory. Drops
 * entries whose files are gone, gives unknown files the next UIDs in delivery
 * order (delivery time, then name as after the move), rebuilds a damaged list, writes
 * the list back if anything changed, and moves new/ to cur/ (adding `:2,`):
 * `"now"`; `"later"`, which leaves both the write and the moves to `writeLater`
 * and `moveLater` when there are many (`moveLaterFrom`) so that a first open
 * answers sooner, the caller still holding the lock until they are done; or not
 * at all (`"no"`). A list rebuilt from a damaged one is written at once in every
 * mode: the damaged one has been set aside, and without a list on disk a crash
 * would let the next open start again from UID 1.
 * The survey's listing is reused while the folders are unchanged, and the files
 * it measured are not read again.
 */
export const reconcile = (
  p: Paths,
  before: Survey,
  moveNew: "now" | "later" | "no"
): Effect.Effect<Reconciled, MailboxError> =>
  Effect.gen(function*() {
    const loaded = yield* UidList.load(p.home)
    const list = loaded._tag === "Ok" ? loaded.list : yield* UidList.setAside(p.home, loaded)
    let changed = loaded._tag === "Corrupt"

    const unchanged = before.stamp !== undefined && folderStamp(p) === before.stamp
    let files = unchanged ? before.files : yield* scan(p)
    const known = knownIn(list, files)
    const entries = list.entries.filter((e) => known.has(e.base))
    changed ||= entries.length !== list.entries.length

    // Same folders and the same known files: the survey measured exactly the files the list lacks.
    const unknown = unchanged && sameMembers(known, before.known)
      ? [...before.measured]
      : yield* describe(p, files, known, before.measured)
    const nameOf = (f: Found) => (moveNew !== "no" && f.dir === "new" ? curName(f.name) : f.name)
    const ordered = inDeliveryOrder(unknown, nameOf)
    // An indexed loop: a first open adds 100,000 entries, in code that runs cold, where a destructuring `for of`
    // costs twice as much.
    let next = list.next
    for (let i = 0; i < ordered.length; i++) {
      const m = ordered[i]!
      entries.push({ uid: next++, storageSize: m.storageSize, wireSize: m.wireSize, base: m.found.base })
    }
    changed ||= unknown.length > 0

    const result: UidList.UidList = { next, entries }
    const waiting = moveNew === "no" ? [] : [...files.values()].filter((f) => f.dir === "new")
    if (moveNew === "later" && waiting.length >= moveLaterFrom) {
      for (const f of waiting) files.set(f.base, { dir: "cur", name: curName(f.name), base: f.base })
      if (loaded._tag === "Corrupt") yield* UidList.write(p.home, result)
      const unwritten = changed && loaded._tag !== "Corrupt" ? result : undefined
      return { list: result, files, later: waiting, unwritten }
    }
    // The moves run (on the worker thread, if there is one) while this thread encodes the list, which is written
    // once they are done: its fsync then waits for no rename. Neither depends on the other: a file's UID does not
    // depend on its folder, and after a crash a move not done is done at the next open, and a list not written is
    // rebuilt in the same delivery order.
    const [moves, encoded] = yield* Effect.all([
      doAll("move", p.home, waiting.map((f) => `new/${f.name}`)).pipe(
        Effect.mapError(Files.toMailboxError("move new messages"))
      ),
      Effect.sync(() => (changed ? UidList.encode(result) : undefined))
    ], { concurrency: 2 })
    if (encoded !== undefined) yield* UidList.write(p.home, encoded)
    // What moved is known; only a file that vanished under the move (another tool took it) needs a fresh look.
    if (waiting.some((_, i) => moves.cells[3 * i] === gone)) files = yield* scan(p)
    else for (const f of waiting) files.set(f.base, { dir: "cur", name: curName(f.name), base: f.base })
    return { list: result, files, later: [], unwritten: undefined }
  })

/**
 * Under the lock: the write of the UID list `reconcile` left for later, encoded in slices so that the sessions
 * (the one that opened among them) are served meanwhile. A crash before it loses nothing: no UID has been shown
 * (`MailboxView.uidsStored`), and the next open gives the same files the same UIDs (a list rebuilt from a damaged
 * one is never left to this: `reconcile` writes it at once).
 */
export const writeLater = (p: Paths, done: Reconciled): Effect.Effect<void, MailboxError> =>
  done.unwritten === undefined
    ? Effect.void
    : Effect.flatMap(UidList.encodeInSlices(done.unwritten), (encoded) => UidList.write(p.home, encoded))

/**
 * Under the lock, after `writeLater`: the moves `reconcile` left for later. A file already gone from new/ (another
 * tool moved or removed it) is left alone: a session finds it again by its base name.
 */
export const moveLater = (p: Paths, later: ReadonlyArray<Found>): Effect.Effect<void, MailboxError> =>
  doAll("move", p.home, later.map((f) => `new/${f.name}`)).pipe(
    Effect.asVoid,
    Effect.mapError(Files.toMailboxError("move new messages"))
  )

/** Under the lock: drops removed messages from the UID list (the next open would drop them too). */
export const forget = (p: Paths, bases: ReadonlySet<string>) =>
  Effect.gen(function*() {
    const loaded = yield* UidList.load(p.home)
    if (loaded._tag !== "Ok") return
    const entries = loaded.list.entries.filter((e) => !bases.has(e.base))
    if (entries.length !== loaded.list.entries.length) {
      yield* UidList.write(p.home, { next: loaded.list.next, entries })
    }
  })
