/**
 * The per-mailbox UID list (`<mailbox>/pop3d-uidlist`): which Maildir base name
 * holds which UID, the cached sizes, and the next UID to hand out. Owns the text
 * codec, loading (with corruption detected, never guessed around) and the
 * atomic rewrite. It must never lower `next` and never write without the
 * caller holding the mailbox lock (see `LockFile`).
 *
 * Format (UTF-8, LF line ends, every line LF-terminated):
 *
 *     pop3d-uidlist 1 next=<next uid>
 *     <uid> <storage size> <wire size> <base name>
 *     ...
 *
 * Entries are in increasing UID order, every UID is below `next`, base names
 * are unique. In a base name `%`, CR and LF are written `%25`, `%0D`, `%0A`.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Clock, Effect, Result } from "effect"
import type { MailboxError } from "./Mailbox.ts"
import * as Files from "./internal/files.ts"

/** The UID list's file name inside a mailbox directory. */
export const fileName = "pop3d-uidlist"

/** The format version written in the header. */
export const version = 1

/** One message's line: its UID, cached sizes, and the Maildir base name (the file name before `:`). */
export interface Entry {
  readonly uid: number
  readonly storageSize: number
  readonly wireSize: number
  readonly base: string
}

/** A whole UID list. */
export interface UidList {
  /** The next UID to hand out; greater than every UID ever given in this mailbox. */
  readonly next: number
  /** Known messages in increasing UID order. */
  readonly entries: ReadonlyArray<Entry>
}

/** The list of a mailbox that never had a message. */
export const empty: UidList = { next: 1, entries: [] }

const encodeBase = (base: string): string => base.replace(/[%\r\n]/g, (c) => c === "%" ? "%25" : c === "\r" ? "%0D" : "%0A")

const decodeBase = (text: string): string =>
  text.replace(/%(25|0D|0A)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))

const header = /^pop3d-uidlist (\d+) next=(\d+)$/
const line = /^(\d+) (\d+) (\d+) (.+)$/

const toInt = (digits: string): number | undefined => {
  const n = Number(digits)
  return Number.isSafeInteger(n) ? n : undefined
}

/** Renders a list as file text. */
export const render = (list: UidList): string => {
  let text = `pop3d-uidlist ${version} next=${list.next}\n`
  for (const e of list.entries) text += `${e.uid} ${e.storageSize} ${e.wireSize} ${encodeBase(e.base)}\n`
  return text
}

/** Parses file text, failing with a human reason at the first thing that is not exactly as `render` writes. */
export const parse = (text: string): Result.Result<UidList, string> => {
  if (!text.endsWith("\n")) return Result.fail("file does not end with a line end (truncated?)")
  const lines = text.slice(0, -1).split("\n")
  const head = header.exec(lines[0]!)
  if (head === null) return Result.fail("bad header line")
  if (head[1] !== String(version)) return Result.fail(`unknown version ${head[1]}`)
  const next = toInt(head[2]!)
  if (next === undefined || next < 1) return Result.fail("bad next UID")
  const entries: Array<Entry> = []
  const bases = new Set<string>()
  for (let i = 1; i < lines.length; i++) {
    const m = line.exec(lines[i]!)
    const uid = m && toInt(m[1]!)
    const storageSize = m && toInt(m[2]!)
    const wireSize = m && toInt(m[3]!)
    if (!m || !uid || storageSize == null || wireSize == null) return Result.fail(`bad entry on line ${i + 1}`)
    const base = decodeBase(m[4]!)
    if (base.includes("/") || base.includes(":")) return Result.fail(`bad base name on line ${i + 1}`)
    if (uid >= next) return Result.fail(`UID ${uid} on line ${i + 1} is not below next=${next}`)
    if (entries.length > 0 && uid <= entries[entries.length - 1]!.uid) {
      return Result.fail(`UIDs out of order on line ${i + 1}`)
    }
    if (bases.has(base)) return Result.fail(`base name repeated on line ${i + 1}`)
    bases.add(base)
    entries.push({ uid, storageSize, wireSize, base })
  }
  return Result.succeed({ next, entries })
}

/**
 * The highest UID a damaged file mentions anywhere (header `next=` minus one,
 * or the first number on any line), so that a rebuilt list starts past it.
 */
export const highestMentioned = (text: string): number => {
  let highest = 0
  for (const l of text.split("\n")) {
    const next = /next=(\d+)/.exec(l)
    if (next) highest = Math.max(highest, (toInt(next[1]!) ?? 1) - 1)
    const first = /^\s*(\d+)/.exec(l)
    if (first) highest = Math.max(highest, toInt(first[1]!) ?? 0)
  }
  return highest
}

/** What `load` found: a good list, or a damaged file with the highest UID it mentions. */
export type Loaded =
  | { readonly _tag: "Ok"; readonly list: UidList }
  | { readonly _tag: "Corrupt"; readonly reason: string; readonly highest: number }

/** Reads and parses the list in a mailbox directory; a missing file is the empty list. Safe without the lock. */
export const load = (dir: string): Effect.Effect<Loaded, MailboxError> =>
  Files.orAbsent(Files.attempt(() => Fs.readFile(Path.join(dir, fileName), "utf8"))).pipe(
    Effect.map((text): Loaded => {
      if (text === undefined) return { _tag: "Ok", list: empty }
      const parsed = parse(text)
      return Result.isSuccess(parsed)
        ? { _tag: "Ok", list: parsed.success }
        : { _tag: "Corrupt", reason: parsed.failure, highest: highestMentioned(text) }
    }),
    Effect.mapError(Files.toMailboxError("read the UID list"))
  )

/**
 * Under the lock: moves a damaged list aside as `pop3d-uidlist.corrupt-<millis>`
 * and returns the empty list to rebuild from, starting past the highest UID the
 * damaged file mentions. Every message then gets a fresh UID (clients see them
 * as new and may download them again; none is ever given a UID seen before).
 */
export const setAside = (dir: string, corrupt: { readonly reason: string; readonly highest: number }) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const from = Path.join(dir, fileName)
    const to = `${from}.corrupt-${now}`
    yield* Files.orAbsent(Files.attempt(() => Fs.rename(from, to)))
    yield* Effect.logWarning(
      `mail store: UID list ${from} is damaged (${corrupt.reason}); kept as ${to}, ` +
        `rebuilding with UIDs from ${corrupt.highest + 1}`
    )
    return { next: corrupt.highest + 1, entries: [] } satisfies UidList as UidList
  }).pipe(Effect.mapError(Files.toMailboxError("set the damaged UID list aside")))

/** Under the lock: replaces the list atomically (temp file, fsync, rename, fsync directory). */
export const write = (dir: string, list: UidList): Effect.Effect<void, MailboxError> =>
  Files.writeFileAtomic(Path.join(dir, fileName), render(list)).pipe(
    Effect.mapError(Files.toMailboxError("write the UID list"))
  )
