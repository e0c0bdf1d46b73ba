/**
 * The store seam: what a POP3 session may ask of a mailbox (take a snapshot,
 * stream one message, commit deletions, deliver) and the in-memory store the
 * tests run against. Nothing here knows about sessions, sockets or file paths;
 * a store never throws, it fails with a `MailboxError`.
 */
import { Rfc822 } from "@pop3d/protocol"
import { Context, Effect, Layer, Schema, Stream } from "effect"

/** Why a store operation failed; the server turns each into one `-ERR` wording. */
export const MailboxErrorReason = Schema.Literals(["MessageGone", "Unavailable", "PartialUpdate", "NoSuchMailbox"])

/** Why a store operation failed, as a type. */
export type MailboxErrorReason = typeof MailboxErrorReason.Type

/**
 * A failed store operation. `MessageGone`: the message was removed by someone
 * else after the snapshot was taken. `Unavailable`: the store cannot be used
 * right now (missing root, I/O error, lock not obtained). `PartialUpdate`:
 * commitUpdate removed only `removed` of the marked messages. `NoSuchMailbox`:
 * the mailbox name is not acceptable to the store.
 */
export class MailboxError extends Schema.TaggedError<MailboxError>()("MailboxError", {
  reason: MailboxErrorReason,
  message: Schema.String,
  removed: Schema.optional(Schema.Number),
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

/** One session's snapshot of a mailbox, fixed at open; message number n is index n-1. */
export interface MailboxView {
  /** The messages as they were at open; later deliveries and removals by others do not show. */
  readonly messages: ReadonlyArray<MessageInfo>
  /** Streams the stored bytes of one message (0-based index) in chunks of at most `readChunkSize`. */
  read(index: number): Stream.Stream<Uint8Array, MailboxError>
  /** Removes exactly the messages at these indices (already gone counts as removed) and no other. */
  commitUpdate(indices: ReadonlyArray<number>): Effect.Effect<{ readonly removed: number }, MailboxError>
}

/** The mailbox store service; the session never knows which store is behind it. */
export class Mailbox extends Context.Service<Mailbox, {
  /** Takes a snapshot of the user's mailbox, creating it empty if it does not exist yet. No session lock. */
  open(user: string): Effect.Effect<MailboxView, MailboxError>
  /** Stores one message and returns the UID it was given. */
  deliver(user: string, message: Uint8Array): Effect.Effect<{ readonly uid: number }, MailboxError>
  /** Creates an empty mailbox; does nothing if it exists. */
  create(user: string): Effect.Effect<void, MailboxError>
}>()("@pop3d/mailbox/Mailbox") {}

/** The largest chunk a `read` stream emits (64 KiB). */
export const readChunkSize = 64 * 1024

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

/** The error for a snapshot message that another session removed meanwhile. */
export const messageGone = (uid: number): MailboxError =>
  new MailboxError({ reason: "MessageGone", message: `message with UID ${uid} was removed by another session` })

// ---------------------------------------------------------------------------
// In-memory store
// ---------------------------------------------------------------------------

interface StoredMessage {
  readonly uid: number
  readonly bytes: Uint8Array
  readonly wireSize: number
}

interface MemoryMailbox {
  nextUid: number
  messages: Array<StoredMessage>
}

const encoder = new TextEncoder()

/** Builds the in-memory store's service value; each call is a separate, empty-but-for-`initial` store. */
export const makeMemory = (
  initial: Readonly<Record<string, ReadonlyArray<string | Uint8Array>>> = {}
): Mailbox["Service"] => {
  const boxes = new Map<string, MemoryMailbox>()

  const boxOf = (user: string): MemoryMailbox => {
    let box = boxes.get(user)
    if (box === undefined) {
      box = { nextUid: 1, messages: [] }
      boxes.set(user, box)
    }
    return box
  }

  const store = (box: MemoryMailbox, message: Uint8Array): number => {
    const bytes = message.slice()
    const uid = box.nextUid++
    box.messages.push({ uid, bytes, wireSize: Rfc822.wireSize(bytes) })
    return uid
  }

  for (const [user, messages] of Object.entries(initial)) {
    const box = boxOf(user)
    for (const message of messages) store(box, typeof message === "string" ? encoder.encode(message) : message)
  }

  const chunksOf = (bytes: Uint8Array): Array<Uint8Array> => {
    const chunks: Array<Uint8Array> = []
    for (let offset = 0; offset < bytes.length; offset += readChunkSize) {
      chunks.push(bytes.slice(offset, offset + readChunkSize))
    }
    return chunks
  }

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
      return {
        messages,
        read: (index) =>
          Stream.unwrap(Effect.gen(function*() {
            yield* checkIndex(snapshot, index)
            const uid = snapshot[index]!.uid
            const message = current(uid)
            if (message === undefined) return yield* messageGone(uid)
            return Stream.fromIterable(chunksOf(message.bytes))
          })),
        commitUpdate: (indices) =>
          Effect.gen(function*() {
            for (const index of indices) yield* checkIndex(snapshot, index)
            const marked = new Set(indices.map((index) => snapshot[index]!.uid))
            box.messages = box.messages.filter((m) => !marked.has(m.uid))
            return { removed: marked.size }
          })
      }
    })

  const deliver = (user: string, message: Uint8Array) =>
    Effect.map(validateUser(user), (user) => ({ uid: store(boxOf(user), message) }))

  const create = (user: string) => Effect.map(validateUser(user), (user) => void boxOf(user))

  return Mailbox.of({ open, deliver, create })
}

/** The in-memory store as a Layer; `initial` maps users to messages delivered in order (UIDs from 1). */
export const layerMemory = (
  initial?: Readonly<Record<string, ReadonlyArray<string | Uint8Array>>>
): Layer.Layer<Mailbox> => Layer.sync(Mailbox, () => makeMemory(initial))
