/**
 * Node file-system calls as Effects for the Maildir store: every call fails
 * with the raw errno error (so callers can branch on `code`), and `toMailboxError`
 * turns what is left into a `MailboxError`. Many small calls in a row run
 * synchronously in short slices (`inSlices`), never holding the event loop for
 * long. Nothing here throws (but `absentSync`, which throws on into `inSlices`)
 * or knows about UIDs; nothing outside this package imports it.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Effect } from "effect"
import { MailboxError } from "../Mailbox.ts"

/** A failed file-system call, as Node reports it. */
export type FsError = NodeJS.ErrnoException

const asFsError = (cause: unknown): FsError => (cause instanceof Error ? cause : new Error(String(cause))) as FsError

/** Runs one promise-returning fs call, failing with its errno error. */
export const attempt = <A>(f: () => Promise<A>): Effect.Effect<A, FsError> =>
  Effect.tryPromise({ try: f, catch: asFsError })

/** Runs one synchronous fs call, failing with its errno error. */
export const attemptSync = <A>(f: () => A): Effect.Effect<A, FsError> =>
  Effect.try({ try: f, catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause))) as FsError })

/** How long one slice of synchronous fs calls may hold the event loop before the other sessions get it back. */
const sliceMs = 8

/** Gives the event loop a full turn (I/O callbacks included), not just the microtask queue. */
const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * Runs synchronous work in slices: `slice(until)` works until it is done (`false`) or until `performance.now()`
 * reaches `until` (`true`: there is more), and the event loop gets a full turn between slices. For runs of small
 * calls (stat, open, rename, directory reads), where a promise call's thread-pool round trip costs many times the
 * call itself. A throw from `slice` (an errno error) stops the run and fails with it. `ms`: the slices' length
 * (default 8), shorter for work that must not slow the sessions' I/O down (each slice holds one turn of the loop).
 */
export const bySlices = (slice: (until: number) => boolean, ms: number = sliceMs): Effect.Effect<void, FsError> =>
  Effect.gen(function*() {
    const once = () => slice(performance.now() + ms)
    while (yield* Effect.try({ try: once, catch: asFsError })) yield* nextTurn
  })

/** Calls the synchronous `f` on every item in order and collects the results, in slices (`bySlices`). */
export const inSlices = <A, B>(items: ReadonlyArray<A>, f: (item: A) => B): Effect.Effect<Array<B>, FsError> =>
  Effect.suspend(() => {
    const out: Array<B> = []
    return Effect.as(
      bySlices((until) => {
        while (out.length < items.length) {
          out.push(f(items[out.length]!))
          if (performance.now() >= until) break
        }
        return out.length < items.length
      }),
      out
    )
  })

/** True when the error has this errno code. */
export const isCode = (error: FsError, ...codes: ReadonlyArray<string>): boolean =>
  error.code !== undefined && codes.includes(error.code)

/** Maps ENOENT to `undefined`, leaving other failures alone. */
export const orAbsent = <A>(self: Effect.Effect<A, FsError>): Effect.Effect<A | undefined, FsError> =>
  Effect.catchIf(self, (e) => isCode(e, "ENOENT"), () => Effect.succeed(undefined))

/** Runs a synchronous fs call, with ENOENT as `undefined`; other errors are thrown on (for `inSlices`). */
export const absentSync = <A>(f: () => A): A | undefined => {
  try {
    return f()
  } catch (e) {
    if (isCode(e as FsError, "ENOENT")) return undefined
    throw e
  }
}

/** Wraps a leftover fs failure as `Unavailable`, naming what was being done. */
export const toMailboxError = (doing: string) => (cause: FsError): MailboxError =>
  new MailboxError({
    reason: "Unavailable",
    message: `mail store: could not ${doing}${cause.code === undefined ? "" : ` (${cause.code})`}`,
    cause
  })

/** The entries of a directory; a missing directory has none. */
export const readdir = (dir: string): Effect.Effect<ReadonlyArray<string>, FsError> =>
  Effect.map(orAbsent(attempt(() => Fs.readdir(dir))), (names) => names ?? [])

/** Creates a directory unless it exists already. */
export const ensureDir = (dir: string): Effect.Effect<void, FsError> =>
  Effect.catchIf(attempt(() => Fs.mkdir(dir)), (e) => isCode(e, "EEXIST"), () => Effect.void)

/** fsyncs a directory so that a rename or link into it survives a crash. */
export const syncDir = (dir: string): Effect.Effect<void, FsError> =>
  Effect.acquireUseRelease(
    attempt(() => Fs.open(dir, "r")),
    (handle) => attempt(() => handle.sync()),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )

/** Removes a file, treating "already gone" as done. */
export const unlinkIfPresent = (path: string): Effect.Effect<boolean, FsError> =>
  Effect.map(orAbsent(Effect.as(attempt(() => Fs.unlink(path)), true)), (done) => done === true)

let tmpCounter = 0

/**
 * Replaces `path` atomically with `data`: write a fresh temp file beside it,
 * fsync, rename over, fsync the directory. A reader sees the old or the new
 * content, never a mix; a crash leaves at worst a stray temp file.
 */
export const writeFileAtomic = (path: string, data: string | Uint8Array): Effect.Effect<void, FsError> => {
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`
  const write = Effect.acquireUseRelease(
    attempt(() => Fs.open(tmp, "wx", 0o600)),
    (handle) =>
      Effect.andThen(
        attempt(() => handle.writeFile(data)),
        attempt(() => handle.sync())
      ),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )
  return write.pipe(
    Effect.andThen(attempt(() => Fs.rename(tmp, path))),
    Effect.andThen(syncDir(Path.dirname(path))),
    Effect.onError(() => Effect.ignore(unlinkIfPresent(tmp)))
  )
}
