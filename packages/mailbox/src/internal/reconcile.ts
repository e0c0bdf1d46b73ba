/**
 * The UID list brought in line with a Maildir's files: which files the list lacks (measured once, before the lock),
 * whether open needs the lock at all, and, under the lock, moving new/ to cur/, dropping entries whose files are
 * gone and giving unknown files the next UIDs in delivery order. Used by the Maildir store only; it never lowers
 * `next` and never writes the list without the caller holding the mailbox lock.
 *
 * A first open of a big mailbox touches every file: those calls are synchronous, in short slices between which the
 * event loop serves the other sessions (`Files.inSlices`), since a promise call's thread-pool round trip costs
 * several times the call itself.
 */
import * as Fs from "node:fs"
import { Rfc822 } from "@pop3d/protocol"
import { Effect } from "effect"
import type { MailboxError } from "../Mailbox.ts"
import * as UidList from "../UidList.ts"
import * as Files from "./files.ts"
import type { Found, Paths, Sizes } from "./layout.ts"
import { filePath, scan, sizesFromName } from "./layout.ts"

/** A message file the UID list lacks, measured: where it was then, its sizes and its modification time. */
export interface Measured extends Sizes {
  readonly found: Found
  readonly mtimeMs: number
}

// Where `measure` reads (synchronously, so one buffer serves every mailbox): most messages take one read.
const scratch = Buffer.allocUnsafe(1024 * 1024)

// Files are measured without updating their access time where the kernel allows it (the files' owner, or
// CAP_FOWNER): the first read of a freshly linked file would otherwise dirty its inode. Given up at the first EPERM.
let measureFlags = Fs.constants.O_RDONLY | (Fs.constants.O_NOATIME ?? 0)

const openToMeasure = (path: string): number => {
  try {
    return Fs.openSync(path, measureFlags)
  } catch (e) {
    if (measureFlags === Fs.constants.O_RDONLY || !Files.isCode(e as Files.FsError, "EPERM")) throw e
    measureFlags = Fs.constants.O_RDONLY
    return Fs.openSync(path, measureFlags)
  }
}

/**
 * Measures one message file synchronously: opens it once, takes size and mtime from that descriptor, and reads it
 * through only when the name carries no trustworthy sizes. `undefined` when the file is gone; other errors throw
 * (run it in `Files.inSlices`).
 */
export const measure = (p: Paths, found: Found): Measured | undefined => {
  const fd = Files.absentSync(() => openToMeasure(filePath(p, found)))
  if (fd === undefined) return undefined
  try {
    const { mtimeMs, size } = Fs.fstatSync(fd)
    const named = sizesFromName(found.base, size)
    if (named !== undefined) return { ...named, found, mtimeMs }
    // A short read of a regular file is its end: most messages take one read, and no second one to see 0 octets.
    let bytesRead = Fs.readSync(fd, scratch, 0, scratch.length, null)
    if (bytesRead < scratch.length && bytesRead >= size) {
      return { storageSize: bytesRead, wireSize: Rfc822.wireSize(scratch.subarray(0, bytesRead)), found, mtimeMs }
    }
    const counter = Rfc822.makeSizeCounter()
    let storageSize = 0
    while (bytesRead > 0) {
      counter.push(bytesRead === scratch.length ? scratch : scratch.subarray(0, bytesRead))
      storageSize += bytesRead
      if (bytesRead < scratch.length && storageSize >= size) break
      bytesRead = Fs.readSync(fd, scratch, 0, scratch.length, null)
    }
    return { storageSize, wireSize: counter.total(), found, mtimeMs }
  } finally {
    Fs.closeSync(fd)
  }
}

/** How many files are stat-ed at once by the store's promise-based sweeps (stats, mailboxes, expire). */
export const fileConcurrency = 32

/** The name `reconcile` gives a file it moves from new/ to cur/. */
const curName = (name: string): string => (name.includes(":") ? name : `${name}:2,`)

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
    const candidates = [...files.values()].filter((found) => !known.has(found.base))
    const described = yield* Files.inSlices(candidates, (found) => {
      const cached = cache.get(found.base)
      if (cached === undefined || (cached.found.name !== found.name && curName(cached.found.name) !== found.name)) {
        return measure(p, found)
      }
      return cached.found === found ? cached : { ...cached, found }
    })
    return described.filter((m) => m !== undefined)
  }).pipe(Effect.mapError(Files.toMailboxError("read a new message")))

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
    const files = yield* scan(p)
    if (first._tag === "Ok" && isClean(first.list, files)) {
      return { clean: { list: first.list, files }, files, stamp, known: new Set(), measured: [] }
    }
    const known = first._tag === "Ok" ? knownIn(first.list, files) : new Set<string>()
    return { clean: undefined, files, stamp, known, measured: yield* describe(p, files, known, []) }
  })

/**
 * Under the lock: brings the UID list in line with the directory. Drops
 * entries whose files are gone, gives unknown files the next UIDs in delivery
 * order (mtime, then name as after the move), rebuilds a damaged list, writes
 * the list back if anything changed, and then moves new/ to cur/ (adding
 * `:2,`) if `moveNew`. The survey's listing is reused while the folders are
 * unchanged, and the files it measured are not read again.
 */
export const reconcile = (
  p: Paths,
  before: Survey,
  moveNew: boolean
): Effect.Effect<State, MailboxError> =>
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
    const nameOf = (f: Found) => (moveNew && f.dir === "new" ? curName(f.name) : f.name)
    unknown.sort((a, b) => {
      if (a.mtimeMs !== b.mtimeMs) return a.mtimeMs - b.mtimeMs
      const nameA = nameOf(a.found)
      const nameB = nameOf(b.found)
      return nameA < nameB ? -1 : nameA > nameB ? 1 : 0
    })
    let next = list.next
    for (const { found, storageSize, wireSize } of unknown) {
      entries.push({ uid: next++, storageSize, wireSize, base: found.base })
    }
    changed ||= unknown.length > 0

    const result: UidList.UidList = { next, entries }
    // Written before the moves: its fsync then commits little besides itself (a file's UID does not depend on its
    // folder, and a move lost in a crash is simply done again at the next open).
    if (changed) yield* UidList.write(p.home, result)

    const waiting = moveNew ? [...files.values()].filter((f) => f.dir === "new") : []
    const moved = yield* Files.inSlices(waiting, (f): Found | undefined =>
      Files.absentSync((): Found => {
        const name = curName(f.name)
        Fs.renameSync(`${p.new}/${f.name}`, `${p.cur}/${name}`)
        return { dir: "cur", name, base: f.base }
      })).pipe(Effect.mapError(Files.toMailboxError("move new messages")))
    // What moved is known; only a file that vanished under the move (another tool took it) needs a fresh look.
    if (moved.includes(undefined)) files = yield* scan(p)
    else for (const f of moved) files.set(f!.base, f!)
    return { list: result, files }
  })

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
