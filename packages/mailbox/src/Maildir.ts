/**
 * The Maildir store: `<root>/<user>/{new,cur,tmp}` as Postfix, Dovecot LDA and
 * procmail write it, plus `pop3d-uidlist` for UIDs and cached sizes. It owns
 * delivery (tmp → fsync → link into new), the snapshot at open (new → cur with
 * `:2,`, UIDs for unknown files in delivery order: name time, else mtime), streaming reads and removal.
 * It must never hold the mailbox lock for a session, never read a message
 * whole into memory, never hand a UID out twice, and never throw.
 *
 * Quota: deliveries are checked and recorded in Maildir++'s `maildirsize`
 * under the mailbox lock (see `Maildirsize`), removals recorded there too;
 * the warning message is delivered after the lock is released. Retention:
 * `expire` removes by the files' modification time (delivery) and the `S`
 * (seen) flag that `markRetrieved` adds, as Dovecot does for POP3 RETR.
 *
 * Crash safety: a file without an entry gets a fresh UID at the next open; an
 * entry without a file is dropped at the next open; `next` only grows. Other
 * tools may rename files (flags after `:`); the UID list is keyed by the base
 * name, so they keep their UIDs. Lock backoff and file names use Effect's
 * Clock, so run this store under a live clock.
 */
import * as FsSync from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Rfc822 } from "@pop3d/protocol"
import { Cause, Clock, Deferred, Effect, Exit, Layer, Option, Result } from "effect"
import type { Scope } from "effect"
import type { MailboxView, MessageFile, MessageInfo, MessageReader, Stats } from "./Mailbox.ts"
import { checkIndex, Mailbox, MailboxError, messageGone, readerOf, streamOf, validateUser } from "./Mailbox.ts"
import * as LockFile from "./LockFile.ts"
import * as Maildirsize from "./Maildirsize.ts"
import * as Quota from "./Quota.ts"
import * as Retention from "./Retention.ts"
import * as UidList from "./UidList.ts"
import * as Files from "./internal/files.ts"
import type { Found, Paths, Sizes } from "./internal/layout.ts"
import * as Layout from "./internal/layout.ts"
import { filePath, pathsOf, scan } from "./internal/layout.ts"
import * as MaildirQuota from "./internal/maildirQuota.ts"
import type { Reconciled, State } from "./internal/reconcile.ts"
import { fileConcurrency, forget, moveLater, reconcile, survey, writeLater } from "./internal/reconcile.ts"

/** Where the store lives and how it locks. */
export interface Options {
  /** The directory holding one Maildir per user. */
  readonly root: string
  /** Lock timing between processes sharing the root. */
  readonly lock?: LockFile.Options | undefined
  /** Quota limits and warnings (default: none; an existing `maildirsize` is still kept up to date). */
  readonly quota?: Quota.Policy | undefined
}

/** The name of the per-mailbox lock file guarding the UID list. */
export const lockFileName = Layout.lockFileName

/** The Maildir base name: the file name before the `:` that starts the info (flags). */
export const baseName = Layout.baseName

/** Sizes written into a name in Dovecot's style (`,S=<storage>,W=<wire>`), trusted only if S matches the file. */
export const sizesFromName = Layout.sizesFromName

const sanitizedHost = Os.hostname().replace(/[/:,]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`)
let deliveryCounter = 0

/** A Maildir file name unique on this host: `<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<wire>`. */
const uniqueName = (sizes: Sizes) =>
  Effect.map(Clock.currentTimeNanos, (nanos) => {
    const secs = nanos / 1_000_000_000n
    const usecs = (nanos / 1000n) % 1_000_000n
    return `${secs}.M${usecs}P${process.pid}Q${++deliveryCounter}.${sanitizedHost},S=${sizes.storageSize},W=${sizes.wireSize}`
  })

/**
 * A mailbox state is reused for warm opens only when nothing in it changed for this long: file timestamps are coarse
 * (one kernel tick, at most 10 ms), so a change within the tick of the last one would not move them.
 */
const warmSettleMs = 500

/** Mailboxes of at least this many messages are surveyed again in the background after an open changed them. */
const rewarmFrom = 1_000

/** At most this many of those background surveys run at once. */
const rewarmsAtOnce = 2

/** How many mailboxes' last states are kept for warm opens. */
const warmMailboxes = 1_000

/** Builds the Maildir store's service value over `options.root`. */
export const make = (options: Options): Effect.Effect<Mailbox["Service"]> =>
  Effect.sync(() => {
    const root = Path.resolve(options.root)
    const policy = options.quota ?? Quota.noPolicy
    const withLock = <A, E>(p: Paths, use: Effect.Effect<A, E>) => LockFile.withLock(p.lock, use, options.lock)

    /**
     * After messages were unlinked: syncs the directories, then under the lock drops them from the UID list and
     * records them in `maildirsize` (best effort: the next open and the next recalculation catch up).
     */
    const afterRemoval = (p: Paths, user: string, bases: ReadonlySet<string>, freed: Quota.Usage) =>
      Effect.forEach([p.cur, p.new], Files.syncDir, { discard: true }).pipe(
        Effect.mapError(Files.toMailboxError("sync the mailbox")),
        Effect.andThen(withLock(
          p,
          Effect.andThen(forget(p, bases), MaildirQuota.removed(p.home, user, freed, policy))
        )),
        Effect.ignore({ log: "Warn", message: "mail store: UID list or maildirsize not updated after removal" })
      )

    /** The user's mailbox paths, after creating its directories if needed. */
    const mailbox = (user: string) =>
      Effect.gen(function*() {
        const p = pathsOf(root, yield* validateUser(user))
        const stat = yield* Files.attempt(() => Fs.stat(root)).pipe(
          Effect.tap(() => Files.attempt(() => Fs.access(root, Fs.constants.R_OK | Fs.constants.W_OK | Fs.constants.X_OK))),
          Effect.mapError((cause) =>
            new MailboxError({ reason: "Unavailable", message: "the mail store root is missing or unreadable", cause })
          )
        )
        if (!stat.isDirectory()) {
          return yield* new MailboxError({ reason: "Unavailable", message: "the mail store root is not a directory" })
        }
        // Every login comes here: check the usual case (all three folders there) with stats, and only then create.
        const present = yield* Effect.promise(() =>
          Promise.all([p.new, p.cur, p.tmp].map((dir) => Fs.stat(dir).then((s) => s.isDirectory(), () => false)))
        )
        if (!present.every(Boolean)) {
          yield* Effect.forEach([p.home, p.new, p.cur, p.tmp], Files.ensureDir, { discard: true }).pipe(
            Effect.mapError(Files.toMailboxError("create the mailbox"))
          )
        }
        return p
      })

    /**
     * Warm opens: the last clean state of a mailbox, reused while its UID list and both folders are unchanged (any
     * delivery, removal or rename changes a folder's mtime). A state is kept only when nothing changed in the last
     * `warmSettleMs`, so a change within one coarse timestamp tick is never missed. At most `warmMailboxes` kept.
     */
    const warm = new Map<string, { readonly stamp: string; readonly state: State }>()
    /** What a mailbox's UID list and folders look like now, and whether nothing in them changed lately. */
    interface Stamp {
      readonly stamp: string
      readonly settled: boolean
    }
    const stampOf = (p: Paths): Effect.Effect<Stamp | undefined> =>
      Effect.promise(async () => {
        const [list, fresh, cur] = await Promise.all([
          Fs.stat(Path.join(p.home, UidList.fileName), { bigint: true }),
          Fs.stat(p.new, { bigint: true }),
          Fs.stat(p.cur, { bigint: true })
        ]).catch(() => [undefined, undefined, undefined] as const)
        if (list === undefined || fresh === undefined || cur === undefined) return undefined
        const newestMs = Math.max(Number(list.mtimeMs), Number(fresh.mtimeMs), Number(cur.mtimeMs))
        return {
          stamp: `${list.ino}:${list.size}:${list.mtimeNs}:${fresh.mtimeNs}:${cur.mtimeNs}`,
          settled: Date.now() - newestMs > warmSettleMs
        }
      })

    /**
     * Keeps `state` (listed after `before` was taken) for warm opens if the mailbox had already settled at `before` and
     * is unchanged since: a change after a settled stamp always moves a timestamp, a change within the tick of a
     * recent one may not.
     */
    const remember = (p: Paths, before: Stamp | undefined, state: State) =>
      Effect.map(stampOf(p), (after) => {
        warm.delete(p.home)
        if (after !== undefined && before !== undefined && before.settled && after.stamp === before.stamp) {
          warm.set(p.home, { stamp: after.stamp, state })
          if (warm.size > warmMailboxes) warm.delete(warm.keys().next().value!)
        }
      })

    /** Surveys the mailbox, keeping the state for warm opens when it is clean (see `remember`). */
    const surveyAndKeep = (p: Paths, before: Stamp | undefined) =>
      Effect.tap(survey(p), (surveyed) => (surveyed.clean === undefined ? Effect.void : remember(p, before, surveyed.clean)))

    // The state an open has just written (a reconcile) cannot be kept at once: a change within the same timestamp
    // tick would not show. The mailbox is surveyed again once it has settled, in the background, so that the next
    // open finds it warm instead of paying for the survey (a large mailbox's first open is followed by a warm one).
    const rewarming = new Set<string>()
    const rewarm = (p: Paths, state: State) => {
      // Only where a survey is costly, and at most `rewarmsAtOnce` at a time (a burst of logins after new mail).
      if (state.list.entries.length < rewarmFrom || rewarming.has(p.home) || rewarming.size >= rewarmsAtOnce) {
        return Effect.void
      }
      rewarming.add(p.home)
      // Nothing is surveyed while the mailbox is still changing: that state could not be kept.
      const keep = Effect.flatMap(stampOf(p), (before) => (before?.settled === true ? surveyAndKeep(p, before) : Effect.void))
      return Effect.forkDetach(
        Effect.sleep(2 * warmSettleMs).pipe(
          Effect.andThen(keep),
          Effect.ignore,
          Effect.ensuring(Effect.sync(() => rewarming.delete(p.home)))
        )
      )
    }

    const open = Effect.fn("Maildir.open")(function*(user: string) {
      const p = yield* mailbox(user)
      const before = yield* stampOf(p)
      const hit = warm.get(p.home)
      if (before !== undefined && hit !== undefined && hit.stamp === before.stamp) return view(p, user, hit.state)
      const surveyed = yield* surveyAndKeep(p, before)
      if (surveyed.clean !== undefined) return view(p, user, surveyed.clean)
      // The reconcile runs under the lock in a fiber of its own, so that the lock can outlive this call: when it left
      // work for later (many new messages, as at a big first open), the same fiber writes the UID list and then moves
      // the files to cur/, while the session already runs. The session shows no UID before the list is written
      // (`uidsStored`), and its file operations wait for the moves (`view`). No other open or delivery can change
      // the list in between: they wait for the lock (up to its timeout; a survey without the lock may read the
      // mailbox meanwhile, and finds the list not yet written). If the files could not all be moved, the view is
      // handed the folders as they are instead.
      const reconciled = yield* Deferred.make<Reconciled, MailboxError>()
      const stored = yield* Deferred.make<void, MailboxError>()
      const moved = yield* Deferred.make<ReadonlyMap<string, Found> | undefined>()
      const finish = (state: Reconciled) =>
        Effect.gen(function*() {
          const written = yield* Effect.result(writeLater(p, state))
          if (Result.isSuccess(written)) yield* Deferred.succeed(stored, undefined)
          else {
            yield* Deferred.fail(stored, written.failure)
            yield* Effect.logWarning(`mail store: UID list not written (the next login does it): ${written.failure.message}`)
          }
          // The moves do not depend on the list: after a crash, or without the list, the next open gives the files the
          // same UIDs in the same delivery order.
          const movedAll = yield* Effect.result(moveLater(p, state.later))
          if (Result.isSuccess(movedAll)) return undefined
          yield* Effect.logWarning(`mail store: new messages not moved to cur/ (the next login does it): ${movedAll.failure.message}`)
          return yield* Effect.orElseSucceed(scan(p), () => undefined)
        })
      yield* Effect.forkDetach(
        withLock(
          p,
          Effect.gen(function*() {
            const state = yield* reconcile(p, surveyed, "later")
            yield* Deferred.succeed(reconciled, state)
            if (state.later.length === 0) return
            yield* Deferred.succeed(moved, yield* finish(state))
            yield* rewarm(p, state)
          })
        ).pipe(
          // Whatever ended the fiber early (no lock, a failed reconcile, a defect, an interruption) reaches every
          // waiter as a MailboxError, which the session answers with -ERR rather than losing the connection.
          Effect.onExit((exit) => {
            if (Exit.isSuccess(exit)) return Effect.void
            const typed = Cause.findErrorOption(exit.cause)
            const error = Option.isSome(typed) ? typed.value : new MailboxError({
              reason: "Unavailable",
              message: "the mailbox could not be brought up to date",
              cause: Cause.squash(exit.cause)
            })
            return Effect.andThen(
              Effect.all([Deferred.fail(reconciled, error), Deferred.fail(stored, error)]),
              Deferred.succeed(moved, undefined)
            )
          })
        )
      )
      const state = yield* Deferred.await(reconciled)
      warm.delete(p.home)
      if (state.later.length === 0) {
        yield* rewarm(p, state)
        return view(p, user, state)
      }
      return view(p, user, state, moved, stored)
    })

    /**
     * A session's view of a state. `moving`: the state's new messages are still being moved to cur/ (where the
     * state already names them); every file operation waits for that first. `storing`: the state's UID list is
     * still being written; `uidsStored` waits for that.
     */
    const view = (
      p: Paths,
      user: string,
      state: State,
      moving?: Deferred.Deferred<ReadonlyMap<string, Found> | undefined>,
      storing?: Deferred.Deferred<void, MailboxError>
    ): MailboxView => {
      const entries = state.list.entries
      // Where the files are: the state's listing, or the folders as they were after moves that failed.
      let files = state.files
      let settled = moving === undefined
      const ready: Effect.Effect<void> = moving === undefined
        ? Effect.void
        : Effect.suspend(() =>
          settled ? Effect.void : Effect.map(Deferred.await(moving), (found) => {
            if (!settled && found !== undefined) {
              files = found
              located.fill(null)
            }
            settled = true
          })
        )
      // The list's entries are the messages (an entry is a `MessageInfo` and a base name): a first open of 100,000
      // messages allocates no second array of them, and a warm open reuses the state's.
      const messages: ReadonlyArray<MessageInfo> = state.list.entries
      // Last known file of each message: null until first needed (then the snapshot's), undefined when it must be
      // looked up again by base name (another tool renamed it). Filled lazily, so a large mailbox opens in O(1).
      const located: Array<Found | undefined | null> = new Array<null>(entries.length).fill(null)
      const known = (index: number): Found | undefined => {
        const found = located[index]
        return found !== null ? found : (located[index] = files.get(entries[index]!.base))
      }
      const locate = (index: number) =>
        known(index) !== undefined
          ? Effect.succeed(located[index] as Found)
          : Effect.map(scan(p), (files) => (located[index] = files.get(entries[index]!.base)))

      /** Runs `f` on the message's current path, re-locating it when it moved; `undefined` if it is gone. */
      const onFile = <A>(index: number, f: (path: string) => Effect.Effect<A | undefined, Files.FsError>) =>
        Effect.gen(function*() {
          for (let attempt = 0; attempt < 5; attempt++) {
            const found = yield* locate(index)
            if (found === undefined) return undefined
            const result = yield* f(filePath(p, found))
            if (result !== undefined) return result
            located[index] = undefined
          }
          return yield* new MailboxError({
            reason: "Unavailable",
            message: `message with UID ${entries[index]!.uid} keeps being renamed; try again`
          })
        })

      // Message files are read with synchronous calls: on a local, page-cached file an open, a read and a close
      // cost a few microseconds each, where a thread-pool round trip costs tens (the bulk of a RETR's CPU). A cold
      // disk blocks the event loop for one read, of at most the caller's buffer.
      const openMessageNow = (index: number): Result.Result<MessageFile, MailboxError> | undefined => {
        if (!settled || !Number.isInteger(index) || index < 0 || index >= entries.length) return undefined
        // Taken by almost every RETR: the file is where it was last seen. Otherwise it must be searched for.
        const found = known(index)
        if (found === undefined) return undefined
        try {
          return Result.succeed(fileOf(FsSync.openSync(filePath(p, found), "r")))
        } catch (e) {
          if (!Files.isCode(e as Files.FsError, "ENOENT")) {
            return Result.fail(Files.toMailboxError("open a message")(e as Files.FsError))
          }
          located[index] = undefined
          return undefined
        }
      }

      // Uninterruptible: a file opened is always handed to the scope that closes it.
      const openMessage = (index: number): Effect.Effect<MessageReader, MailboxError, Scope.Scope> =>
        Effect.andThen(ready, Effect.uninterruptible(Effect.flatMap(checkIndex(entries, index), () => {
          const now = openMessageNow(index)
          if (now !== undefined) return readerOf(now)
          return onFile(index, (path) => Files.orAbsent(Files.attemptSync(() => FsSync.openSync(path, "r")))).pipe(
            Effect.mapError((e) => (e instanceof MailboxError ? e : Files.toMailboxError("open a message")(e))),
            Effect.flatMap((fd) =>
              fd === undefined ? Effect.fail(messageGone(entries[index]!.uid)) : readerOf(Result.succeed(fileOf(fd)))
            )
          )
        })))

      /** An open message file; a short read of a regular file is its end: the file is closed then. */
      const fileOf = (descriptor: number): MessageFile => {
        let fd: number | undefined = descriptor
        const close = () => {
          if (fd === undefined) return
          try {
            FsSync.closeSync(fd)
          } catch {
            // the file was only read: a failed close loses nothing
          }
          fd = undefined
        }
        return {
          readNow: (buffer) => {
            if (fd === undefined || buffer.length === 0) return Result.succeed(0)
            try {
              const n = FsSync.readSync(fd, buffer, 0, buffer.length, null)
              if (n < buffer.length) close()
              return Result.succeed(n)
            } catch (e) {
              return Result.fail(Files.toMailboxError("read a message")(e as Files.FsError))
            }
          },
          close
        }
      }

      const commitUpdate = (indices: ReadonlyArray<number>) =>
        Effect.gen(function*() {
          if (indices.length > 0) yield* ready
          for (const index of indices) yield* checkIndex(entries, index)
          const marked = [...new Set(indices)]
          const removed = new Set<string>()
          const freed = { storage: 0, messages: 0 }
          const failures: Array<unknown> = []
          for (const index of marked) {
            const unlink = onFile(index, (path) => Files.orAbsent(Effect.as(Files.attempt(() => Fs.unlink(path)), true)))
            const outcome = yield* Effect.result(unlink)
            if (outcome._tag === "Failure") {
              failures.push(outcome.failure)
              continue
            }
            const entry = entries[index]!
            removed.add(entry.base)
            // Only a file this session unlinked counts: one gone already was counted by whoever removed it.
            if (outcome.success !== undefined) {
              freed.storage += Layout.quotaSize(entry.base, entry.storageSize)
              freed.messages++
            }
          }
          if (removed.size > 0) yield* afterRemoval(p, user, removed, freed)
          if (failures.length > 0) {
            return yield* new MailboxError({
              reason: "PartialUpdate",
              message: `removed ${removed.size} of ${marked.length} messages marked for deletion; ` +
                `${failures.length} could not be removed`,
              removed: removed.size,
              cause: failures[0]
            })
          }
          return { removed: removed.size }
        }).pipe(Effect.uninterruptible)

      const markRetrieved = (index: number) => {
        // Nothing to do, without an Effect of its own, when the file is known to carry the S flag in cur/ already.
        const found = settled && index >= 0 && index < entries.length ? known(index) : undefined
        if (found !== undefined && found.dir === "cur" && Layout.withFlag(found.name, "S") === found.name) return Effect.void
        return Effect.gen(function*() {
          yield* checkIndex(entries, index)
          yield* ready
          for (let attempt = 0; attempt < 5; attempt++) {
            const found = yield* locate(index)
            if (found === undefined) return
            const target = Layout.withFlag(found.name, "S")
            if (target === undefined || (found.dir === "cur" && target === found.name)) return
            const rename = Files.attemptSync(() => FsSync.renameSync(filePath(p, found), Path.join(p.cur, target)))
            const moved = yield* Files.orAbsent(Effect.as(rename, true))
            located[index] = moved === undefined ? undefined : { dir: "cur", name: target, base: found.base }
            if (moved !== undefined) return
          }
        }).pipe(
          Effect.mapError((e) => (e instanceof MailboxError ? e : Files.toMailboxError("mark a message retrieved")(e)))
        )
      }

      // `undefined` once the UID list is known written.
      let stored = storing === undefined
      const uidsStored = () =>
        stored ? undefined : Effect.map(Deferred.await(storing!), () => {
          stored = true
        })

      return {
        messages,
        openMessage,
        openMessageNow,
        read: (index) => streamOf(openMessage(index)),
        commitUpdate,
        markRetrieved,
        uidsStored
      }
    }

    /** Delivers one message; `enforce` applies the quota and its warning (the warning message itself does not). */
    const deliverTo = (
      p: Paths,
      user: string,
      message: Uint8Array,
      enforce: boolean
    ): Effect.Effect<{ readonly uid: number }, MailboxError> =>
      Effect.gen(function*() {
        const sizes: Sizes = { storageSize: message.length, wireSize: Rfc822.wireSize(message) }
        const name = yield* uniqueName(sizes)
        const tmpPath = Path.join(p.tmp, name)
        const newPath = Path.join(p.new, name)
        const cleanUp = Effect.ignore(Effect.all([Files.unlinkIfPresent(tmpPath), Files.unlinkIfPresent(newPath)]))
        // Files another MTA dropped earlier must get their (lower) UIDs first: measure them before locking.
        const surveyed = yield* survey(p)

        // The name's time, else the file's mtime (kept by the link into new/), places it among other files in
        // delivery order, as at any other open.
        const { mtimeMs } = yield* Effect.acquireUseRelease(
          Files.attempt(() => Fs.open(tmpPath, "wx", 0o600)),
          (handle) =>
            Files.attempt(() => handle.writeFile(message)).pipe(
              Effect.andThen(Files.attempt(() => handle.sync())),
              Effect.andThen(Files.attempt(() => handle.stat()))
            ),
          (handle) => Effect.promise(() => handle.close().catch(() => undefined))
        ).pipe(Effect.mapError(Files.toMailboxError("write the message")), Effect.onError(() => cleanUp))

        const { uid, warning } = yield* withLock(
          p,
          Effect.gen(function*() {
            const admitted = yield* MaildirQuota.admit(p.home, user, message.length, policy, enforce)
            yield* Files.attempt(() => Fs.link(tmpPath, newPath)).pipe(
              Effect.andThen(Files.unlinkIfPresent(tmpPath)),
              Effect.andThen(Files.syncDir(p.new)),
              Effect.mapError(Files.toMailboxError("move the message into new/"))
            )
            const deliveredMs = Layout.deliveredFromName(name) ?? mtimeMs
            const delivered = { ...sizes, found: { dir: "new", name, base: name }, deliveredMs } as const
            const state = yield* reconcile(p, { ...surveyed, measured: [...surveyed.measured, delivered] }, "no")
            const entry = state.list.entries.find((e) => e.base === name)
            if (entry === undefined) {
              return yield* new MailboxError({ reason: "Unavailable", message: "the delivered message vanished" })
            }
            const warning = yield* MaildirQuota.delivered(p.home, user, message.length, admitted, policy, enforce).pipe(
              Effect.catch((e) =>
                Effect.as(Effect.logWarning("mail store: maildirsize not updated after delivery", e), undefined)
              )
            )
            return { uid: entry.uid, warning }
          })
        ).pipe(Effect.onError(() => cleanUp))
        if (warning !== undefined) {
          yield* Effect.flatMap(policy.warning(warning), (bytes) => deliverTo(p, user, bytes, false)).pipe(
            Effect.ignore({ log: "Warn", message: "mail store: the quota warning could not be delivered" })
          )
        }
        return { uid }
      })

    const deliver = Effect.fn("Maildir.deliver")(function*(user: string, message: Uint8Array) {
      return yield* deliverTo(yield* mailbox(user), user, message, true)
    })

    /** The paths of an existing mailbox; `undefined` when its directory does not exist. */
    const existing = (user: string) =>
      Effect.gen(function*() {
        const p = pathsOf(root, yield* validateUser(user))
        const stat = yield* Files.orAbsent(Files.attempt(() => Fs.stat(p.home))).pipe(
          Effect.mapError(Files.toMailboxError("look at the mailbox"))
        )
        return stat?.isDirectory() === true ? p : undefined
      })

    const stats = Effect.fn("Maildir.stats")(function*(user: string) {
      if ((yield* existing(user)) === undefined) {
        return yield* new MailboxError({ reason: "NoSuchMailbox", message: `no mailbox "${user.slice(0, 64)}"` })
      }
      const p = yield* mailbox(user)
      const surveyed = yield* survey(p)
      const state = surveyed.clean ?? (yield* withLock(p, reconcile(p, surveyed, "now")))
      const mtimes = yield* Effect.forEach(state.list.entries, (e) => {
        const found = state.files.get(e.base)
        return found === undefined
          ? Effect.succeed(undefined)
          : Effect.map(Files.orAbsent(Files.attempt(() => Fs.stat(filePath(p, found)))), (s) => s?.mtimeMs)
      }, { concurrency: fileConcurrency }).pipe(Effect.mapError(Files.toMailboxError("look at the messages")))
      const dates = mtimes.filter((t): t is number => t !== undefined)
      const limit = yield* policy.limit(user)
      const kept = yield* withLock(p, Maildirsize.current(p.home, limit))
      return {
        messages: state.list.entries.length,
        storageOctets: state.list.entries.reduce((sum, e) => sum + e.storageSize, 0),
        wireOctets: state.list.entries.reduce((sum, e) => sum + e.wireSize, 0),
        oldest: dates.length === 0 ? undefined : Math.floor(Math.min(...dates)),
        nextUid: state.list.next,
        quota: { limit, usage: kept?.usage ?? (yield* Maildirsize.calculate(p.home)) }
      } satisfies Stats
    })

    const mailboxes = Effect.gen(function*() {
      const entries = yield* Files.attempt(() => Fs.readdir(root, { withFileTypes: true })).pipe(
        Effect.mapError(Files.toMailboxError("list the mail store"))
      )
      const names = entries.filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name)
      const isMaildir = (name: string) =>
        Effect.map(Files.orAbsent(Files.attempt(() => Fs.stat(Path.join(root, name, "cur")))), (s) => s?.isDirectory() === true)
      const maildirs = yield* Effect.forEach(names, (name) => Effect.map(isMaildir(name), (yes) => (yes ? name : undefined)), {
        concurrency: fileConcurrency
      }).pipe(Effect.mapError(Files.toMailboxError("list the mail store")))
      return maildirs.filter((n): n is string => n !== undefined).sort()
    })

    const expire = Effect.fn("Maildir.expire")(function*(user: string, cutoffs: Retention.Cutoffs) {
      const p = yield* existing(user)
      if (p === undefined || !Retention.isActive(cutoffs)) return { removed: 0 }
      const files = yield* scan(p)
      const aged = yield* Effect.forEach(files.values(), (found) =>
        Effect.map(Files.orAbsent(Files.attempt(() => Fs.stat(filePath(p, found)))), (stat) =>
          stat === undefined ? undefined : {
            found,
            size: Layout.quotaSize(found.name, stat.size),
            delivered: stat.mtimeMs,
            retrieved: found.dir === "cur" && Layout.flagsOf(found.name).includes("S")
          }), { concurrency: fileConcurrency }).pipe(Effect.mapError(Files.toMailboxError("look at the messages")))
      const expired = aged.filter((m) => m !== undefined && Retention.isExpired(m, cutoffs))
      const removed = new Set<string>()
      const freed = { storage: 0, messages: 0 }
      for (const m of expired) {
        const gone = yield* Files.orAbsent(Effect.as(Files.attempt(() => Fs.unlink(filePath(p, m!.found))), true)).pipe(
          Effect.mapError(Files.toMailboxError("remove an expired message"))
        )
        if (gone === undefined) continue // renamed or removed meanwhile: the next sweep looks again
        removed.add(m!.found.base)
        freed.storage += m!.size
        freed.messages++
      }
      if (removed.size > 0) yield* afterRemoval(p, user, removed, freed)
      return { removed: removed.size }
    }, Effect.uninterruptible)

    const create = Effect.fn("Maildir.create")(function*(user: string) {
      yield* mailbox(user)
    })

    return Mailbox.of({ open, deliver, create, stats, mailboxes, expire })
  })

/** The Maildir store as a Layer over `options.root`. */
export const layer = (options: Options): Layer.Layer<Mailbox> => Layer.effect(Mailbox, make(options))
