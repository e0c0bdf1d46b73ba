/**
 * A lock between processes (and fibers) sharing one mail store, made of a
 * file created with O_CREAT|O_EXCL (`open(path, "wx")`): Node has no flock.
 * It guards UID-list updates, never a POP3 session. It must never be held
 * across anything unbounded, and never be released by anyone but its holder
 * (release checks the token). Its longest hold is a big first open's: the
 * list's write and the moves from new/ (about half a second for 20,000 files),
 * well within the 10 s others wait and the 60 s after which it is stale.
 *
 * The file holds `<pid> <millis> <host> <instance> <n>`. A holder is stale when
 * its process is gone (same host, pid dead, or same pid but another process
 * instance, as after a container restart) or the lock is older than
 * `staleAfter`. A stale lock is taken over by renaming it aside and checking
 * that what was moved is the very lock judged stale; if a fresh lock was
 * moved by mistake, it is linked back. Limit: three processes racing for the
 * same stale lock within microseconds could, in theory, both believe they
 * hold it.
 */
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import { Clock, Duration, Effect } from "effect"
import { MailboxError } from "./Mailbox.ts"
import * as Files from "./internal/files.ts"

/** How long to wait for a lock and when to call a holder stale. */
export interface Options {
  /** Give up (Unavailable) after waiting this long; default 10 s. */
  readonly timeout?: Duration.Input | undefined
  /** A lock older than this is stale whoever holds it; default 60 s. */
  readonly staleAfter?: Duration.Input | undefined
}

/** Default wait before `withLock` gives up. */
export const defaultTimeout: Duration.Duration = Duration.seconds(10)

/** Default age past which any lock is considered abandoned. */
export const defaultStaleAfter: Duration.Duration = Duration.seconds(60)

const hostname = Os.hostname()
const instance = Math.random().toString(36).slice(2, 12)
let acquisitions = 0

/** What a lock file says about its holder. */
export interface Holder {
  readonly raw: string
  readonly pid: number | undefined
  readonly time: number | undefined
  readonly host: string | undefined
  readonly instance: string | undefined
  readonly mtime: number
}

/** Parses a lock file's content; fields that do not parse are `undefined` (a holder caught mid-write). */
export const parseHolder = (raw: string, mtime: number): Holder => {
  const [pid, time, host, inst] = raw.trim().split(" ")
  const int = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined)
  return { raw, pid: int(pid), time: int(time), host: host || undefined, instance: inst || undefined, mtime }
}

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Decides whether a holder has gone: dead process on this host, or older than `staleAfter` milliseconds. */
export const isStale = (holder: Holder, now: number, staleAfter: number): boolean => {
  const since = holder.time ?? holder.mtime
  if (now - since > staleAfter) return true
  if (holder.pid === undefined || holder.host !== hostname) return false
  if (holder.pid === process.pid) return holder.instance !== undefined && holder.instance !== instance
  return !processAlive(holder.pid)
}

const inspect = (path: string): Effect.Effect<Holder | undefined, Files.FsError> =>
  Effect.gen(function*() {
    const stat = yield* Files.orAbsent(Files.attempt(() => Fs.stat(path)))
    const raw = yield* Files.orAbsent(Files.attempt(() => Fs.readFile(path, "latin1")))
    if (stat === undefined || raw === undefined) return undefined
    return parseHolder(raw, stat.mtimeMs)
  })

/** Creates the lock file if nobody holds it; `false` when it exists. */
const tryCreate = (path: string, token: string): Effect.Effect<boolean, Files.FsError> =>
  Effect.catchIf(
    Effect.acquireUseRelease(
      Files.attempt(() => Fs.open(path, "wx", 0o600)),
      (handle) => Effect.as(Files.attempt(() => handle.writeFile(token)), true),
      (handle) => Effect.promise(() => handle.close().catch(() => undefined))
    ),
    (e) => Files.isCode(e, "EEXIST"),
    () => Effect.succeed(false)
  )

/** Moves a stale lock out of the way, making sure it was that lock and not a fresh one that got moved. */
const takeOver = (path: string, holder: Holder): Effect.Effect<void, Files.FsError> =>
  Effect.gen(function*() {
    const aside = `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2, 10)}`
    const moved = yield* Files.orAbsent(Effect.as(Files.attempt(() => Fs.rename(path, aside)), true))
    if (moved === undefined) return // someone else took it over first
    const raw = yield* Files.orAbsent(Files.attempt(() => Fs.readFile(aside, "latin1")))
    if (raw !== undefined && raw !== holder.raw) {
      // A live lock replaced the stale one between our look and our rename: put it back.
      yield* Effect.ignore(Files.attempt(() => Fs.link(aside, path)))
    } else {
      yield* Effect.logWarning(`mail store: took over stale lock ${path} held by ${holder.raw.trim() || "nobody"}`)
    }
    yield* Files.unlinkIfPresent(aside)
  })

const acquire = (path: string, timeout: number, staleAfter: number): Effect.Effect<string, MailboxError> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    for (let attempt = 0;; attempt++) {
      const now = yield* Clock.currentTimeMillis
      const token = `${process.pid} ${now} ${hostname} ${instance} ${++acquisitions}\n`
      if (yield* tryCreate(path, token)) return token
      const holder = yield* inspect(path)
      if (holder === undefined) continue // released between our create and our look
      if (isStale(holder, now, staleAfter)) {
        yield* takeOver(path, holder)
        continue
      }
      if (now - started >= timeout) {
        return yield* new MailboxError({
          reason: "Unavailable",
          message: `mailbox is locked by another process (pid ${holder.pid ?? "unknown"}); try again later`
        })
      }
      const backoff = Math.min(100, 2 ** Math.min(attempt, 7)) * (0.5 + Math.random())
      yield* Effect.sleep(Duration.millis(backoff))
    }
  }).pipe(Effect.mapError((e) => (e instanceof MailboxError ? e : Files.toMailboxError("take the mailbox lock")(e))))

const release = (path: string, token: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    const raw = yield* Files.orAbsent(Files.attempt(() => Fs.readFile(path, "latin1")))
    if (raw === token) {
      yield* Files.unlinkIfPresent(path)
    } else {
      yield* Effect.logWarning(`mail store: lock ${path} was taken over while held; not removing it`)
    }
  }).pipe(Effect.ignore({ log: "Warn", message: `mail store: could not release lock ${path}` }))

/** Runs `use` while holding the lock file at `path`; fails `Unavailable` if the lock cannot be had in time. */
export const withLock = <A, E, R>(
  path: string,
  use: Effect.Effect<A, E, R>,
  options?: Options
): Effect.Effect<A, E | MailboxError, R> =>
  Effect.acquireUseRelease(
    acquire(
      path,
      Duration.toMillis(Duration.fromInputUnsafe(options?.timeout ?? defaultTimeout)),
      Duration.toMillis(Duration.fromInputUnsafe(options?.staleAfter ?? defaultStaleAfter))
    ),
    () => use,
    (token) => release(path, token)
  )
