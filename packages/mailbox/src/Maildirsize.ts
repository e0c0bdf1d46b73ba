/**
 * Maildir++ quota usage: `<maildir>/maildirsize`, as Courier's README.maildirquota specifies it and Dovecot,
 * maildrop, Courier's deliverquota and Exim keep it, so that every tool agrees on how full a mailbox is. Owns the
 * file's codec, the recalculation from the folders, and appending one line per change. It never decides what fits
 * (that is `Quota`) and never holds a lock of its own: pop3d calls it under the mailbox lock, other tools append
 * without one, which the format tolerates.
 *
 * Format (ASCII, LF line ends):
 *
 *     104857600S,1000C          the quota definition: <octets>S and/or <messages>C, comma-separated
 *     2051 3                    one line per change: <octets> <messages>, either may be negative
 *     -512 -1
 *
 * The usage is the sum of the lines after the first. The file is recalculated (rebuilt from the folders, written
 * in tmp/ and renamed over, as a header and one line of totals) when it is missing or damaged, when its definition
 * is not the configured quota, when it has reached 5120 octets, and when its sum is at or over quota and it was
 * last changed more than 15 minutes ago. Counted are the files in cur/ and new/ of the Maildir and of every
 * Maildir++ folder (`.Name/`), with the size in the name's `,S=<n>` or else the file's size.
 */
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Clock, Effect, Result } from "effect"
import { MailboxError } from "./Mailbox.ts"
import * as Quota from "./Quota.ts"
import * as Files from "./internal/files.ts"
import { quotaSize } from "./internal/layout.ts"

/** The file's name in the Maildir. */
export const fileName = "maildirsize"

/** A file this large or larger is recalculated (and so shrinks back to two lines). */
export const recalculateAtSize = 5120

/** A file whose sum is at or over quota is recalculated when it is older than this (milliseconds). */
export const staleAfterMs = 15 * 60 * 1000

/** The parsed file: its quota definition and the sum of its lines. */
export interface Contents {
  readonly definition: Quota.Limit
  readonly usage: Quota.Usage
  /** Lines after the definition. */
  readonly lines: number
}

/** The quota definition line for a limit: `<octets>S`, `<messages>C` or both; `0S` for no limit. */
export const renderDefinition = (limit: Quota.Limit): string => {
  const parts: Array<string> = []
  if (limit.storage > 0 || limit.messages <= 0) parts.push(`${Math.max(0, limit.storage)}S`)
  if (limit.messages > 0) parts.push(`${limit.messages}C`)
  return parts.join(",")
}

const toInt = (digits: string): number | undefined => {
  const n = Number(digits)
  return Number.isSafeInteger(n) ? n : undefined
}

/** Parses a quota definition line (`100000S,10C`, `10C`, `0S`); each of S and C at most once. */
export const parseDefinition = (line: string): Result.Result<Quota.Limit, string> => {
  let storage: number | undefined
  let messages: number | undefined
  for (const part of line.split(",")) {
    const m = /^\s*(\d+)([SC])\s*$/.exec(part)
    const n = m === null ? undefined : toInt(m[1]!)
    if (m === null || n === undefined) return Result.fail(`bad quota definition "${line.slice(0, 40)}"`)
    if (m[2] === "S") {
      if (storage !== undefined) return Result.fail("quota definition gives S twice")
      storage = n
    } else {
      if (messages !== undefined) return Result.fail("quota definition gives C twice")
      messages = n
    }
  }
  return Result.succeed({ storage: storage ?? 0, messages: messages ?? 0 })
}

/** One change line: `<octets> <messages>` and LF. */
export const changeLine = (delta: Quota.Usage): string => `${delta.storage} ${delta.messages}\n`

/** The whole file as a recalculation writes it: the definition and one line of totals. */
export const render = (definition: Quota.Limit, usage: Quota.Usage): string =>
  `${renderDefinition(definition)}\n${changeLine(usage)}`

/** Parses the file's text; fails at anything the format does not allow (a partly written last line included). */
export const parse = (text: string): Result.Result<Contents, string> => {
  if (!text.endsWith("\n")) return Result.fail("the last line is incomplete")
  const lines = text.slice(0, -1).split("\n")
  const definition = parseDefinition(lines[0]!)
  if (Result.isFailure(definition)) return Result.fail(definition.failure)
  let storage = 0
  let messages = 0
  for (let i = 1; i < lines.length; i++) {
    const m = /^\s*(-?\d+)\s+(-?\d+)\s*$/.exec(lines[i]!)
    const octets = m === null ? undefined : toInt(m[1]!)
    const count = m === null ? undefined : toInt(m[2]!)
    if (octets === undefined || count === undefined) return Result.fail(`bad line ${i + 1}`)
    storage += octets
    messages += count
  }
  return Result.succeed({ definition: definition.success, usage: { storage, messages }, lines: lines.length - 1 })
}

// ---------------------------------------------------------------------------
// The file

const pathIn = (home: string) => Path.join(home, fileName)

/** The directories whose files count: cur/ and new/ of the Maildir and of each Maildir++ folder. */
const countedDirs = (home: string): Effect.Effect<Array<string>, Files.FsError> =>
  Effect.map(Files.orAbsent(Files.attempt(() => Fs.readdir(home, { withFileTypes: true }))), (entries) => {
    const folders = (entries ?? []).filter((e) => e.isDirectory() && e.name.startsWith(".") && e.name !== "." &&
      e.name !== "..")
    const roots = [home, ...folders.map((f) => Path.join(home, f.name))]
    return roots.flatMap((d) => [Path.join(d, "cur"), Path.join(d, "new")])
  })

/** Modification times of the counted directories, to notice changes made while counting. */
const stamps = (dirs: ReadonlyArray<string>): Effect.Effect<string, Files.FsError> =>
  Effect.map(
    Effect.forEach(dirs, (d) => Files.orAbsent(Files.attempt(() => Fs.stat(d, { bigint: true })))),
    (stats) => stats.map((s) => (s === undefined ? "-" : `${s.mtimeNs}`)).join(",")
  )

/** Counts the folders' messages the way Maildir++ does, without writing anything. */
export const calculate = (home: string): Effect.Effect<Quota.Usage, MailboxError> =>
  Effect.gen(function*() {
    let storage = 0
    let messages = 0
    for (const dir of yield* countedDirs(home)) {
      const names = (yield* Files.readdir(dir)).filter((n) => !n.startsWith("."))
      const sizes = yield* Effect.forEach(names, (name) =>
        /,S=\d+/.test(name)
          ? Effect.succeed(quotaSize(name, 0))
          : Effect.map(Files.orAbsent(Files.attempt(() => Fs.stat(Path.join(dir, name)))), (s) =>
            s === undefined || !s.isFile() ? undefined : s.size), { concurrency: 32 })
      for (const size of sizes) {
        if (size === undefined) continue
        storage += size
        messages++
      }
    }
    return { storage, messages }
  }).pipe(Effect.mapError(Files.toMailboxError("count the mailbox for its quota")))

let tmpCounter = 0

/**
 * Rebuilds the file from the folders with `definition` as its first line: written in tmp/ under a unique name,
 * then renamed over. If a counted directory changed while counting, the new file is removed again so that the
 * next reader recalculates; the totals are returned either way.
 */
export const recalculate = (home: string, definition: Quota.Limit): Effect.Effect<Quota.Usage, MailboxError> =>
  Effect.gen(function*() {
    const dirs = yield* countedDirs(home)
    const before = yield* stamps(dirs)
    const usage = yield* calculate(home)
    const now = yield* Clock.currentTimeMillis
    const tmp = Path.join(home, "tmp", `${Math.floor(now / 1000)}.M${now % 1000}P${process.pid}Q${++tmpCounter}.${
      Os.hostname().replace(/[/:]/g, "_")
    }.maildirsize`)
    yield* Effect.acquireUseRelease(
      Files.attempt(() => Fs.open(tmp, "wx", 0o600)),
      (handle) =>
        Effect.andThen(Files.attempt(() => handle.writeFile(render(definition, usage))), Files.attempt(() => handle.sync())),
      (handle) => Effect.promise(() => handle.close().catch(() => undefined))
    ).pipe(
      Effect.andThen(Files.attempt(() => Fs.rename(tmp, pathIn(home)))),
      Effect.onError(() => Effect.ignore(Files.unlinkIfPresent(tmp)))
    )
    if ((yield* stamps(dirs)) !== before) yield* Files.unlinkIfPresent(pathIn(home))
    return usage
  }).pipe(Effect.mapError((e) => (e instanceof MailboxError ? e : Files.toMailboxError("rewrite maildirsize")(e))))

/** What `current` found: the definition the file keeps and the usage. */
export interface Current {
  readonly definition: Quota.Limit
  readonly usage: Quota.Usage
}

const sameLimit = (a: Quota.Limit, b: Quota.Limit) => a.storage === b.storage && a.messages === b.messages

const atOrOver = (usage: Quota.Usage, limit: Quota.Limit) =>
  (limit.storage > 0 && usage.storage >= limit.storage) || (limit.messages > 0 && usage.messages >= limit.messages)

/**
 * The usage the file records, recalculating it when the Maildir++ rules say so. With a quota configured
 * (`configured` limited) the file is created if missing and its definition kept equal to the quota. Without one,
 * an existing file is kept up to date under its own definition and a missing one is not created (`undefined`).
 */
export const current = (home: string, configured: Quota.Limit): Effect.Effect<Current | undefined, MailboxError> =>
  Effect.gen(function*() {
    const limited = Quota.isLimited(configured)
    const path = pathIn(home)
    const stat = yield* Files.orAbsent(Files.attempt(() => Fs.stat(path)))
    const text = stat === undefined
      ? undefined
      : yield* Files.orAbsent(Files.attempt(() => Fs.readFile(path, "latin1")))
    const rebuild = (definition: Quota.Limit) =>
      Effect.map(recalculate(home, definition), (usage) => ({ definition, usage }))
    if (stat === undefined || text === undefined) return limited ? yield* rebuild(configured) : undefined
    const parsed = parse(text)
    if (Result.isFailure(parsed)) {
      if (limited) return yield* rebuild(configured)
      const header = parseDefinition(text.split("\n")[0]!)
      return Result.isSuccess(header) ? yield* rebuild(header.success) : undefined
    }
    const { definition, usage } = parsed.success
    if (limited && !sameLimit(definition, configured)) return yield* rebuild(configured)
    if (text.length >= recalculateAtSize) return yield* rebuild(definition)
    const now = yield* Clock.currentTimeMillis
    if (atOrOver(usage, definition) && now - stat.mtimeMs > staleAfterMs) return yield* rebuild(definition)
    return { definition, usage }
  }).pipe(Effect.mapError((e) => (e instanceof MailboxError ? e : Files.toMailboxError("read maildirsize")(e))))

/** Appends one change line in a single write (O_APPEND), if the file exists; a missing file stays missing. */
export const append = (home: string, delta: Quota.Usage): Effect.Effect<void, MailboxError> =>
  delta.storage === 0 && delta.messages === 0
    ? Effect.void
    : Effect.asVoid(Files.orAbsent(Effect.acquireUseRelease(
      Files.attempt(() => Fs.open(pathIn(home), Fs.constants.O_WRONLY | Fs.constants.O_APPEND)),
      (handle) => Files.attempt(() => handle.write(changeLine(delta))),
      (handle) => Effect.promise(() => handle.close().catch(() => undefined))
    ))).pipe(Effect.mapError(Files.toMailboxError("append to maildirsize")))
