/**
 * The store seam: what a POP3 session may ask of a mailbox (take a snapshot,
 * stream one message, commit deletions, deliver) and the in-memory store the
 * tests run against. Nothing here knows about sessions, sockets or file paths;
 * a store never throws, it fails with a `MailboxError`.
 */
import { Rfc822 } from "@pop3d/protocol"
import { Cause, Clock, Context, Effect, Layer, Result, Schema, Stream } from "effect"
import type { Scope } from "effect"
import * as Quota from "./Quota.ts"
import * as Retention from "./Retention.ts"

/** Why a store operation failed; the server turns each into one `-ERR` wording. */
export const MailboxErrorReason = Schema.Literals([
  "MessageGone",
  "Unavailable",
  "PartialUpdate",
  "NoSuchMailbox",
  "OverQuota"
])

/** Why a store operation failed, as a type. */
export type MailboxErrorReason = typeof MailboxErrorReason.Type

/**
 * A failed store operation. `MessageGone`: the message was removed by someone
 * else after the snapshot was taken. `Unavailable`: the store cannot be used
 * right now (missing root, I/O error, lock not obtained). `PartialUpdate`:
 * commitUpdate removed only `removed` of the marked messages. `NoSuchMailbox`:
 * the mailbox name is not acceptable to the store (or, for `stats`, it does not
 * exist). `OverQuota`: deliver refused a message that does not fit the
 * mailbox's quota; `tooLarge` when it is larger than the whole quota (it will
 * never fit, whatever is removed).
 */
export class MailboxError extends Schema.TaggedError<MailboxError>()("MailboxError", {
  reason: MailboxErrorReason,
  message: Schema.String,
  removed: Schema.optional(Schema.Number),
  tooLarge: Schema.optional(Schema.Boolean),
  cause: Schema.optional(Schema.Defect())
}) {}

/** One message as a session sees it in its snapshot. */
export interface MessageInfo {
  /** The UIDL unique-id: decimal, increasing in delivery order, never reused in this mailbox. */
  readonly uid: number
  /** Exact RFC 822 size: the octets RETR sends with CRLF line ends, before dot-stuffing. */
  readonly wireSize: number
  /** Octets the message occupies in the store. */
  readonly storageSize: number
}

/** One message opened for reading (`MailboxView.openMessage`). */
export interface MessageReader {
  /** Fills the front of `buffer` with the message's next stored octets and says how many; 0 at the end. */
  read(buffer: Uint8Array): Effect.Effect<number, MailboxError>
}

/**
 * One message opened with `MailboxView.openMessageNow`: every call returns at once, without an Effect (the RETR
 * fast path). The caller closes it; a reader read to its end has closed itself already.
 */
export interface MessageFile {
  /** As `MessageReader.read`: fills the front of `buffer` and says how many octets; 0 at the end. */
  readNow(buffer: Uint8Array): Result.Result<number, MailboxError>
  /** Releases the message (idempotent). */
  close(): void
}

/** One session's snapshot of a mailbox, fixed at open; message number n is index n-1. */
export interface MailboxView {
  /** The messages as they were at open; later deliveries and removals by others do not show. */
  readonly messages: ReadonlyArray<MessageInfo>
  /**
   * Opens one message (0-based index) for reading into the caller's buffers until the scope closes (so a server
   * can reuse its buffers); fails with `MessageGone` if another session removed it meanwhile.
   */
  openMessage(index: number): Effect.Effect<MessageReader, MailboxError, Scope.Scope>
  /**
   * `openMessage` without waiting, when the store can answer at once (a page-cached local file, memory): the opened
   * message, or its failure. `undefined` when it cannot (a message another tool moved must be searched for, a
   * store that waits on a network, an index out of range): then `openMessage` is the way.
   */
  openMessageNow(index: number): Result.Result<MessageFile, MailboxError> | undefined
  /** Streams the stored bytes of one message in fresh chunks of at most `readChunkSize` (`streamOf` its reader). */
  read(index: number): Stream.Stream<Uint8Array, MailboxError>
  /** Removes exactly the messages at these indices (already gone counts as removed) and no other. */
  commitUpdate(indices: ReadonlyArray<number>): Effect.Effect<{ readonly removed: number }, MailboxError>
  /**
   * Records that a session retrieved (RETR) this message, for retention; a message gone meanwhile is no error.
   * `Effect.void` itself when the store knows there is nothing to record (so that a caller can skip running it).
   */
  markRetrieved(index: number): Effect.Effect<void, MailboxError>
  /**
   * Whether the messages' UIDs are stored yet: `undefined` when they are (or the store has nothing to wait for),
   * else an Effect that waits until they are and fails if they could not be. A session shows no UID before (a big
   * first open answers while its UID list is still being written).
   */
  uidsStored?(): Effect.Effect<void, MailboxError> | undefined
}

/** What `stats` reports about one mailbox (`pop3d mailbox stats`). */
export interface Stats {
  /** Messages a login would see now. */
  readonly messages: number
  /** Their octets in the store. */
  readonly storageOctets: number
  /** Their exact RFC 822 sizes (what STAT reports with exact sizes). */
  readonly wireOctets: number
  /** When the oldest of them was delivered (epoch milliseconds), if there is one. */
  readonly oldest: number | undefined
  /** The UID the next delivery will get. */
  readonly nextUid: number
  /** The mailbox's quota limits and usage as the quota counts it (Maildir: `maildirsize`, all folders). */
  readonly quota: { readonly limit: Quota.Limit; readonly usage: Quota.Usage }
}

/** The mailbox store service; the session never knows which store is behind it. */
export class Mailbox extends Context.Service<Mailbox, {
  /** Takes a snapshot of the user's mailbox, creating it empty if it does not exist yet. No session lock. */
  open(user: string): Effect.Effect<MailboxView, MailboxError>
  /** Stores one message and returns the UID it was given. */
  deliver(user: string, message: Uint8Array): Effect.Effect<{ readonly uid: number }, MailboxError>
  /** Creates an empty mailbox; does nothing if it exists. */
  create(user: string): Effect.Effect<void, MailboxError>
  /** Counts, dates and quota use of an existing mailbox; `NoSuchMailbox` if it does not exist. */
  stats(user: string): Effect.Effect<Stats, MailboxError>
  /** The names of every mailbox in the store (for the retention sweep). */
  readonly mailboxes: Effect.Effect<ReadonlyArray<string>, MailboxError>
  /** Removes the messages the cutoffs select (retention); a mailbox that does not exist has none. */
  expire(user: string, cutoffs: Retention.Cutoffs): Effect.Effect<{ readonly removed: number }, MailboxError>
}>()("@pop3d/mailbox/Mailbox") {}

/** The largest chunk a `read` stream emits (64 KiB). */
export const readChunkSize = 64 * 1024

/** A message reader as a Stream of fresh chunks of at most `readChunkSize` octets (what `MailboxView.read` is). */
export const streamOf = (
  open: Effect.Effect<MessageReader, MailboxError, Scope.Scope>
): Stream.Stream<Uint8Array, MailboxError> =>
  Stream.unwrap(Effect.map(open, (reader) => {
    const next = Effect.suspend(() => {
      const buffer = Buffer.allocUnsafe(readChunkSize)
      return Effect.flatMap(reader.read(buffer), (n) => (n === 0 ? Cause.done() : Effect.succeed([buffer.subarray(0, n)] as const)))
    })
    return Stream.fromPull(Effect.succeed(next))
  }))

/**
 * `openMessage` from `openMessageNow`'s answer: a reader over the opened message, which the scope closes (a store
 * whose messages can always be opened at once needs nothing else).
 */
export const readerOf = (
  opened: Result.Result<MessageFile, MailboxError>
): Effect.Effect<MessageReader, MailboxError, Scope.Scope> =>
  Result.isFailure(opened)
    ? Effect.fail(opened.failure)
    : Effect.as(Effect.addFinalizer(() => Effect.sync(opened.success.close)), {
      read: (buffer: Uint8Array) => Effect.suspend(() => Effect.fromResult(opened.success.readNow(buffer)))
    })

/**
 * Checks that a mailbox name can name a mailbox in any store: not empty, not
 * `.` or `..`, no `/` and no NUL, at most 255 UTF-8 octets.
 */
export const validateUser = (user: string): Effect.Effect<string, MailboxError> =>
  user === "" || user === "." || user === ".." || user.includes("/") || user.includes("\0") ||
    new TextEncoder().encode(user).length > 255
    ? Effect.fail(
      new MailboxError({ reason: "NoSuchMailbox", message: `"${user.slice(0, 64)}" is not a valid mailbox name` })
    )
    : Effect.succeed(user)

/** Fails for an index outside the snapshot: a caller bug (the session checks message numbers), so a defect. */
export const checkIndex = (messages: ReadonlyArray<unknown>, index: number): Effect.Effect<number> =>
  Number.isInteger(index) && index >= 0 && index < messages.length
    ? Effect.succeed(index)
    : Effect.die(new RangeError(`message index ${index} is outside the snapshot of ${messages.length} messages`))

/** The error for a delivery the quota refuses, with the numbers in its message. */
export const overQuota = (
  user: string,
  size: number,
  usage: Quota.Usage,
  limit: Quota.Limit,
  verdict: "Over" | "TooLarge"
): MailboxError => {
  const storage = limit.storage > 0 ? `${usage.storage} of ${limit.storage} octets` : `${usage.storage} octets`
  const messages = limit.messages > 0 ? `${usage.messages} of ${limit.messages} messages` : `${usage.messages} messages`
  return new MailboxError({
    reason: "OverQuota",
    tooLarge: verdict === "TooLarge",
    message: verdict === "TooLarge"
      ? `message of ${size} octets is larger than the quota of mailbox "${user}" (${limit.storage} octets)`
      : `mailbox "${user}" is over quota: ${storage} and ${messages} used, a message of ${size} octets does not fit`
  })
}

/** The error for a snapshot message that another session removed meanwhile. */
export const messageGone = (uid: number): MailboxError =>
  new MailboxError({ reason: "MessageGone", message: `message with UID ${uid} was removed by another session` })

// ---------------------------------------------------------------------------
// In-memory store

interface StoredMessage {
  readonly uid: number
  readonly bytes: Uint8Array
  readonly wireSize: number
  /** Delivery time, epoch milliseconds (Effect's Clock at deliver). */
  readonly delivered: number
  retrieved: boolean
}

interface MemoryMailbox {
  nextUid: number
  messages: Array<StoredMessage>
  /** A quota warning was given and not yet re-armed by going back under the threshold. */
  warned: boolean
}

/** Options of the in-memory store. */
export interface MemoryOptions {
  /** Quota limits and warnings (default: none). */
  readonly quota?: Quota.Policy | undefined
  /** Delivery time given to the `initial` messages (epoch milliseconds; default 0). */
  readonly now?: number | undefined
}

const encoder = new TextEncoder()

/** Builds the in-memory store's service value; each call is a separate, empty-but-for-`initial` store. */
export const makeMemory = (
  initial: Readonly<Record<string, ReadonlyArray<string | Uint8Array>>> = {},
  options: MemoryOptions = {}
): Mailbox["Service"] => {
  const boxes = new Map<string, MemoryMailbox>()
  const policy = options.quota ?? Quota.noPolicy

  const boxOf = (user: string): MemoryMailbox => {
    let box = boxes.get(user)
    if (box === undefined) {
      box = { nextUid: 1, messages: [], warned: false }
      boxes.set(user, box)
    }
    return box
  }

  const store = (box: MemoryMailbox, message: Uint8Array, delivered: number): number => {
    const bytes = message.slice()
    const uid = box.nextUid++
    box.messages.push({ uid, bytes, wireSize: Rfc822.wireSize(bytes), delivered, retrieved: false })
    return uid
  }

  for (const [user, messages] of Object.entries(initial)) {
    const box = boxOf(user)
    for (const message of messages) {
      store(box, typeof message === "string" ? encoder.encode(message) : message, options.now ?? 0)
    }
  }

  const usageOf = (box: MemoryMailbox): Quota.Usage => ({
    storage: box.messages.reduce((sum, m) => sum + m.bytes.length, 0),
    messages: box.messages.length
  })

  /** After removals: going back under the warning threshold re-arms the warning. */
  const rearm = (user: string, box: MemoryMailbox) =>
    Effect.map(policy.limit(user), (limit) => {
      if (box.warned && !Quota.reached(usageOf(box), limit, policy.warningPercent)) box.warned = false
    })

  const open = (user: string) =>
    Effect.map(validateUser(user), (user): MailboxView => {
      const box = boxOf(user)
      const snapshot = box.messages.slice()
      const messages: ReadonlyArray<MessageInfo> = snapshot.map((m) => ({
        uid: m.uid,
        wireSize: m.wireSize,
        storageSize: m.bytes.length
      }))
      const current = (uid: number) => box.messages.find((m) => m.uid === uid)
      const openMessageNow = (index: number): Result.Result<MessageFile, MailboxError> | undefined => {
        if (!Number.isInteger(index) || index < 0 || index >= snapshot.length) return undefined
        const uid = snapshot[index]!.uid
        const message = current(uid)
        if (message === undefined) return Result.fail(messageGone(uid))
        let offset = 0
        return Result.succeed({
          readNow: (buffer: Uint8Array) => {
            const n = Math.min(buffer.length, message.bytes.length - offset)
            buffer.set(message.bytes.subarray(offset, offset + n))
            offset += n
            return Result.succeed(n)
          },
          close: () => {}
        })
      }
      const openMessage = (index: number) =>
        Effect.flatMap(checkIndex(snapshot, index), () => readerOf(openMessageNow(index)!))
      return {
        messages,
        openMessage,
        openMessageNow,
        read: (index) => streamOf(openMessage(index)),
        commitUpdate: (indices) =>
          Effect.gen(function*() {
            for (const index of indices) yield* checkIndex(snapshot, index)
            const marked = new Set(indices.map((index) => snapshot[index]!.uid))
            box.messages = box.messages.filter((m) => !marked.has(m.uid))
            yield* rearm(user, box)
            return { removed: marked.size }
          }),
        markRetrieved: (index) =>
          Effect.gen(function*() {
            yield* checkIndex(snapshot, index)
            const message = current(snapshot[index]!.uid)
            if (message !== undefined) message.retrieved = true
          })
      }
    })

  const deliverNow = (user: string, box: MemoryMailbox, message: Uint8Array) =>
    Effect.gen(function*() {
      const limit = yield* policy.limit(user)
      const before = usageOf(box)
      const verdict = Quota.fits(before, message.length, limit)
      if (verdict !== "Fits") return yield* overQuota(user, message.length, before, limit, verdict)
      const uid = store(box, message, yield* Clock.currentTimeMillis)
      const after = usageOf(box)
      const crossed = Quota.reached(after, limit, policy.warningPercent)
      if (!crossed) box.warned = false
      else if (!box.warned) {
        box.warned = true
        const warning = yield* policy.warning({
          user,
          threshold: policy.warningPercent,
          percent: Quota.percent(after, limit),
          usage: after,
          limit
        })
        store(box, warning, yield* Clock.currentTimeMillis)
      }
      return uid
    })

  const deliver = (user: string, message: Uint8Array) =>
    Effect.flatMap(validateUser(user), (user) =>
      Effect.map(deliverNow(user, boxOf(user), message), (uid) => ({ uid })))

  const create = (user: string) => Effect.map(validateUser(user), (user) => void boxOf(user))

  const stats = (user: string) =>
    Effect.gen(function*() {
      yield* validateUser(user)
      const box = boxes.get(user)
      if (box === undefined) {
        return yield* new MailboxError({ reason: "NoSuchMailbox", message: `no mailbox "${user.slice(0, 64)}"` })
      }
      const usage = usageOf(box)
      return {
        messages: box.messages.length,
        storageOctets: usage.storage,
        wireOctets: box.messages.reduce((sum, m) => sum + m.wireSize, 0),
        oldest: box.messages.length === 0 ? undefined : Math.min(...box.messages.map((m) => m.delivered)),
        nextUid: box.nextUid,
        quota: { limit: yield* policy.limit(user), usage }
      } satisfies Stats
    })

  const expire = (user: string, cutoffs: Retention.Cutoffs) =>
    Effect.gen(function*() {
      yield* validateUser(user)
      const box = boxes.get(user)
      if (box === undefined) return { removed: 0 }
      const before = box.messages.length
      box.messages = box.messages.filter((m) => !Retention.isExpired(m, cutoffs))
      const removed = before - box.messages.length
      if (removed > 0) yield* rearm(user, box)
      return { removed }
    })

  return Mailbox.of({
    open,
    deliver,
    create,
    stats,
    mailboxes: Effect.sync(() => [...boxes.keys()]),
    expire
  })
}

/**
 * The in-memory store as a Layer; `initial` maps users to messages delivered in order (UIDs from 1), dated at the
 * Clock's time when the layer is built.
 */
export const layerMemory = (
  initial?: Readonly<Record<string, ReadonlyArray<string | Uint8Array>>>,
  options?: Omit<MemoryOptions, "now">
): Layer.Layer<Mailbox> =>
  Layer.effect(Mailbox, Effect.map(Clock.currentTimeMillis, (now) => makeMemory(initial, { ...options, now })))
