/**
 * The UID list brought in line with a Maildir's files: which files the list lacks (sized once, before the lock),
 * whether open needs the lock at all, and, under the lock, moving new/ to cur/, dropping entries whose files are
 * gone and giving unknown files the next UIDs in delivery order. Used by the Maildir store only; it never lowers
 * `next` and never writes the list without the caller holding the mailbox lock.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Rfc822 } from "@pop3d/protocol"
import { Effect } from "effect"
import { MailboxError, readChunkSize } from "../Mailbox.ts"
import * as UidList from "../UidList.ts"
import * as Files from "./files.ts"
import type { Found, Paths, Sizes } from "./layout.ts"
import { filePath, scan, sizesFromName } from "./layout.ts"

/** Reads a file once, in chunks, to learn its sizes. */
export const measure = (path: string): Effect.Effect<Sizes, Files.FsError> =>
  Effect.acquireUseRelease(
    Files.attempt(() => Fs.open(path, "r")),
    (handle) =>
      Files.attempt(async () => {
        const buffer = Buffer.allocUnsafe(readChunkSize)
        const counter = Rfc822.makeSizeCounter()
        let storageSize = 0
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
          if (bytesRead === 0) break
          counter.push(buffer.subarray(0, bytesRead))
          storageSize += bytesRead
        }
        return { storageSize, wireSize: counter.total() }
      }),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )

/** How many files are stat-ed, measured or renamed at once when a mailbox has many new messages. */
export const fileConcurrency = 32

interface Unknown {
  readonly found: Found
  readonly mtimeMs: number
  readonly sizes: Sizes
}

/**
 * Sizes and mtimes of the files whose base is not in `known`, in delivery
 * order (mtime, then name). Files that vanish meanwhile are left out. `cache`
 * holds sizes measured earlier (outside the lock); a file is read only if its
 * sizes are neither cached, nor in its name.
 */
const describe = (
  p: Paths,
  files: ReadonlyMap<string, Found>,
  known: ReadonlySet<string>,
  cache: ReadonlyMap<string, Sizes>
): Effect.Effect<Array<Unknown>, MailboxError> =>
  Effect.gen(function*() {
    const candidates = [...files.values()].filter((found) => !known.has(found.base))
    const described = yield* Effect.forEach(candidates, (found) =>
      Effect.gen(function*() {
        const path = filePath(p, found)
        const stat = yield* Files.orAbsent(Files.attempt(() => Fs.stat(path)))
        if (stat === undefined) return undefined
        const cached = cache.get(found.base)
        const sizes = cached?.storageSize === stat.size
          ? cached
          : sizesFromName(found.base, stat.size) ?? (yield* Files.orAbsent(measure(path)))
        return sizes === undefined ? undefined : { found, mtimeMs: stat.mtimeMs, sizes }
      }), { concurrency: fileConcurrency })
    const out = described.filter((u): u is Unknown => u !== undefined)
    return out.sort((a, b) =>
      a.mtimeMs - b.mtimeMs || (a.found.name < b.found.name ? -1 : a.found.name > b.found.name ? 1 : 0)
    )
  }).pipe(Effect.mapError(Files.toMailboxError("read a new message")))

/** True when list and files agree exactly and nothing waits in new/: open needs no lock then. */
const isClean = (list: UidList.UidList, files: ReadonlyMap<string, Found>): boolean =>
  list.entries.length === files.size && list.entries.every((e) => files.get(e.base)?.dir === "cur")

export interface State {
  readonly list: UidList.UidList
  readonly files: ReadonlyMap<string, Found>
}

/** What open and deliver learn before taking the lock: the list, the files, and sizes of files the list lacks. */
export interface Survey {
  readonly clean: State | undefined
  readonly cache: ReadonlyMap<string, Sizes>
}

/**
 * Without the lock: looks at the list and the directory. When they agree
 * (`clean`), open needs no lock at all; otherwise the bodies of unknown files
 * are read now, so that the lock is later held only briefly.
 */
export const survey = (p: Paths): Effect.Effect<Survey, MailboxError> =>
  Effect.gen(function*() {
    const first = yield* UidList.load(p.home)
    const files = yield* scan(p)
    if (first._tag === "Ok" && isClean(first.list, files)) return { clean: { list: first.list, files }, cache: new Map() }
    const known = new Set(first._tag === "Ok" ? first.list.entries.map((e) => e.base) : [])
    const unknown = yield* describe(p, files, known, new Map())
    return { clean: undefined, cache: new Map(unknown.map((u) => [u.found.base, u.sizes])) }
  })

/**
 * Under the lock: brings the UID list in line with the directory. Moves new/
 * to cur/ (adding `:2,`) if `moveNew`, drops entries whose files are gone,
 * gives unknown files the next UIDs in delivery order (mtime, then name),
 * rebuilds a damaged list, and writes the list back if anything changed.
 */
export const reconcile = (
  p: Paths,
  cache: ReadonlyMap<string, Sizes>,
  moveNew: boolean
): Effect.Effect<State, MailboxError> =>
  Effect.gen(function*() {
    const loaded = yield* UidList.load(p.home)
    const list = loaded._tag === "Ok" ? loaded.list : yield* UidList.setAside(p.home, loaded)
    let changed = loaded._tag === "Corrupt"

    let files = yield* scan(p)
    const waiting = moveNew ? [...files.values()].filter((f) => f.dir === "new") : []
    yield* Effect.forEach(waiting, (f) => {
      const target = f.name.includes(":") ? f.name : `${f.name}:2,`
      return Files.orAbsent(Files.attempt(() => Fs.rename(Path.join(p.new, f.name), Path.join(p.cur, target))))
    }, { concurrency: fileConcurrency, discard: true })
    if (waiting.length > 0) files = yield* scan(p)
    const entries = list.entries.filter((e) => files.has(e.base))
    changed ||= entries.length !== list.entries.length

    const unknown = yield* describe(p, files, new Set(entries.map((e) => e.base)), cache)
    let next = list.next
    for (const u of unknown) entries.push({ uid: next++, ...u.sizes, base: u.found.base })
    changed ||= unknown.length > 0

    const result: UidList.UidList = { next, entries }
    if (changed) yield* UidList.write(p.home, result)
    return { list: result, files }
  }).pipe(Effect.mapError((e) => (e instanceof MailboxError ? e : Files.toMailboxError("move new messages")(e))))

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
