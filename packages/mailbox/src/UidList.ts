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

// Almost no name needs it, and three indexOf calls cost a fraction of a regular expression's replace (the list of a
// first open encodes 100,000 names).
const encodeBase = (base: string): string =>
  base.indexOf("%") === -1 && base.indexOf("\r") === -1 && base.indexOf("\n") === -1
    ? base
    : base.replace(/[%\r\n]/g, (c) => c === "%" ? "%25" : c === "\r" ? "%0D" : "%0A")

const decodeBase = (text: string): string =>
  text.replace(/%(25|0D|0A)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))

const header = /^pop3d-uidlist (\d+) next=(\d+)$/

// What `.` refuses in a base name besides LF, which ends the line.
const lineBreak = /[\r\u2028\u2029]/

const toInt = (digits: string): number | undefined => {
  const n = Number(digits)
  return Number.isSafeInteger(n) ? n : undefined
}

/** Writes the decimal digits of the safe integer `n` at `at`; returns where they end. */
const putDigits = (buffer: Buffer, at: number, n: number): number => {
  let end = at + 1
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) end++
  for (let k = end - 1, rest = n; k >= at; k--, rest = Math.floor(rest / 10)) buffer[k] = 48 + (rest % 10)
  return end
}

/** Where a list is being encoded: one buffer sized for the worst case (see `encode`), filled entry by entry. */
interface Encoding {
  readonly buffer: Buffer
  at: number
  next: number
}

const startEncoding = (list: UidList): Encoding => {
  const head = `pop3d-uidlist ${version} next=${list.next}\n`
  const entries = list.entries
  // Per entry: a UTF-16 unit takes at most 3 octets (and `%XX` is 3 ASCII octets), three safe integers at most 16
  // digits each, three spaces and the line end.
  let size = head.length
  for (let i = 0; i < entries.length; i++) size += 3 * entries[i]!.base.length + 52
  const buffer = Buffer.allocUnsafe(size)
  return { buffer, at: buffer.write(head, 0, "latin1"), next: 0 }
}

/**
 * Encodes entries from where `encoding` stands until the end or `until` (a `performance.now()` time, looked at every
 * 256 entries, after at least one); `true`: more.
 */
const encodeUntil = (encoding: Encoding, entries: ReadonlyArray<Entry>, until: number): boolean => {
  const buffer = encoding.buffer
  let at = encoding.at
  let i = encoding.next
  while (i < entries.length) {
    const e = entries[i++]!
    at = putDigits(buffer, at, e.uid)
    buffer[at++] = 32
    at = putDigits(buffer, at, e.storageSize)
    buffer[at++] = 32
    at = putDigits(buffer, at, e.wireSize)
    buffer[at++] = 32
    at += buffer.write(encodeBase(e.base), at, "utf8")
    buffer[at++] = 10
    if ((i & 255) === 0 && performance.now() >= until) break
  }
  encoding.at = at
  encoding.next = i
  return i < entries.length
}

/**
 * Encodes a list as the file's UTF-8 octets. A first open encodes 100,000 entries, once, so this code runs cold:
 * the numbers are written as digits straight into one buffer sized for the worst case, which costs less than half
 * of building the lines as strings (about 120 against 300 ms here).
 */
export const encode = (list: UidList): Buffer => {
  const encoding = startEncoding(list)
  encodeUntil(encoding, list.entries, Number.POSITIVE_INFINITY)
  return encoding.buffer.subarray(0, encoding.at)
}

/**
 * `encode` in slices of a millisecond, the event loop turning between them (`Files.bySlices`): for a long list
 * written while sessions are being served. Short slices, because each one holds a turn of the loop: the session that
 * opened the mailbox is sending its `LIST` meanwhile (1.2 MB for 100,000 messages, a socket buffer per turn), and
 * 8 ms slices made that `LIST` about 40 ms slower.
 */
export const encodeInSlices = (list: UidList, sliceMs = 1): Effect.Effect<Buffer> =>
  Effect.suspend(() => {
    const encoding = startEncoding(list)
    return Files.bySlices((until) => encodeUntil(encoding, list.entries, until), sliceMs).pipe(
      Effect.orDie,
      Effect.map(() => encoding.buffer.subarray(0, encoding.at))
    )
  })

/** Renders a list as file text. */
export const render = (list: UidList): string => encode(list).toString("utf8")

/** The number written in `text` from `from` to `to`: ASCII digits only, a safe integer; otherwise -1. */
const numberAt = (text: string, from: number, to: number): number => {
  if (from >= to) return -1
  let n = 0
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return -1
    n = n * 10 + digit
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : -1
}

/**
 * Parses file text, failing with a human reason at the first thing that is not exactly as `render` writes. An
 * entry line is scanned in place (a list may hold 100,000 of them): `<uid> <storage> <wire> <base>`, the numbers
 * decimal digits, the base name not empty.
 */
export const parse = (text: string): Result.Result<UidList, string> => {
  if (!text.endsWith("\n")) return Result.fail("file does not end with a line end (truncated?)")
  const headEnd = text.indexOf("\n")
  const head = header.exec(text.slice(0, headEnd))
  if (head === null) return Result.fail("bad header line")
  if (head[1] !== String(version)) return Result.fail(`unknown version ${head[1]}`)
  const next = toInt(head[2]!)
  if (next === undefined || next < 1) return Result.fail("bad next UID")
  const entries: Array<Entry> = []
  const bases = new Set<string>()
  for (let start = headEnd + 1, lineNo = 2; start < text.length; lineNo++) {
    const end = text.indexOf("\n", start)
    const first = text.indexOf(" ", start)
    const second = first === -1 || first > end ? -1 : text.indexOf(" ", first + 1)
    const third = second === -1 || second > end ? -1 : text.indexOf(" ", second + 1)
    if (third === -1 || third + 1 >= end) return Result.fail(`bad entry on line ${lineNo}`)
    const uid = numberAt(text, start, first)
    const storageSize = numberAt(text, first + 1, second)
    const wireSize = numberAt(text, second + 1, third)
    const written = text.slice(third + 1, end)
    if (uid < 1 || storageSize < 0 || wireSize < 0 || lineBreak.test(written)) {
      return Result.fail(`bad entry on line ${lineNo}`)
    }
    const base = written.includes("%") ? decodeBase(written) : written
    if (base.includes("/") || base.includes(":")) return Result.fail(`bad base name on line ${lineNo}`)
    if (uid >= next) return Result.fail(`UID ${uid} on line ${lineNo} is not below next=${next}`)
    if (entries.length > 0 && uid <= entries[entries.length - 1]!.uid) {
      return Result.fail(`UIDs out of order on line ${lineNo}`)
    }
    if (bases.has(base)) return Result.fail(`base name repeated on line ${lineNo}`)
    bases.add(base)
    entries.push({ uid, storageSize, wireSize, base })
    start = end + 1
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

/**
 * Under the lock: replaces the list atomically (temp file, fsync, rename, fsync directory), from the list or from
 * its octets already encoded (`encode`).
 */
export const write = (dir: string, list: UidList | Uint8Array): Effect.Effect<void, MailboxError> =>
  Files.writeFileAtomic(Path.join(dir, fileName), list instanceof Uint8Array ? list : encode(list)).pipe(
    Effect.mapError(Files.toMailboxError("write the UID list"))
  )
