// Owns the octets a connection has queued for its socket. Replies are copied, and messages encoded, into buffers
// from a pool that all connections share; a batch's buffers go back to the pool once the socket has taken every
// octet of the write (so sending messages allocates nothing in the steady state: touching fresh memory costs more
// than encoding into warm memory), and are left to the garbage collector when the socket may still hold them. It
// must never return a buffer to the pool that a socket may still read, nor hold a buffer while the connection is idle.
import { DotStuffer } from "@pop3d/protocol"

/** Buffers of one size, shared by every connection; at most `keep` wait unused. */
export interface BufferPool {
  readonly bufferSize: number
  take(): Buffer
  give(buffer: Buffer): void
}

/** A pool of `bufferSize`-octet buffers keeping at most `keep` of them when unused. */
export const makePool = (bufferSize: number, keep: number): BufferPool => {
  const free: Array<Buffer> = []
  return {
    bufferSize,
    take: () => free.pop() ?? Buffer.allocUnsafeSlow(bufferSize),
    give: (buffer) => {
      if (free.length < keep && buffer.length === bufferSize) free.push(buffer)
    }
  }
}

/** The pool the server's connections share: 128 KiB buffers (a 64 KiB flush plus one encoded chunk), 64 kept. */
export const sharedPool: BufferPool = makePool(128 * 1024, 64)

/** The most stored octets encoded in one step, so that their wire form fits a pool buffer. */
export const encodeStep = (pool: BufferPool): number => pool.bufferSize / 4

/** One connection's queue of octets for the socket. */
export interface Output {
  /** Octets queued and not yet taken for writing. */
  readonly length: number
  /** Queues a text, one octet per character (status lines and multi-line replies are latin1). */
  text(text: string): void
  /** Queues one chunk of a stored message in its wire form. */
  encode(stuffer: DotStuffer.DotStuffer, chunk: Uint8Array): void
  /** Queues octets as they are (by reference: the caller must not change them afterwards). */
  bytes(bytes: Uint8Array): void
  /** Queues a copy of a few octets (a message's terminator), so that a reply stays one contiguous write. */
  copy(bytes: Uint8Array): void
  /** Everything queued, as the chunks of one write (undefined when nothing is); `written` must follow. */
  take(): readonly [Uint8Array, ...Array<Uint8Array>] | undefined
  /** The write of the last `take` returned; `drained`: the socket holds none of its octets any more. */
  written(drained: boolean): void
  /** From now on, buffers are fresh and never returned: the socket cannot tell when it no longer holds them. */
  detach(): void
}

/** Long texts (LIST of a large mailbox) are queued as their own buffer rather than copied into pool buffers. */
const ownBufferAbove = 16 * 1024

/** A connection's output queue over `pool`. */
export const make = (pool: BufferPool = sharedPool): Output => {
  let pooled = true
  let current: Buffer | undefined
  // `current[start, used)` is queued but not yet a segment; `current[used, …)` is free.
  let start = 0
  let used = 0
  let segments: Array<Uint8Array> = []
  // Pool buffers that segments point into: queued, then in flight between `take` and `written`.
  let held: Array<Buffer> = []
  let inFlight: Array<Buffer> = []
  let length = 0

  const seal = () => {
    if (current !== undefined && used > start) {
      segments.push(current.subarray(start, used))
      start = used
    }
  }

  /** Makes `current` have room for `n` octets (n at most the pool's buffer size). */
  const room = (n: number): Buffer => {
    if (current !== undefined && used + n <= current.length) return current
    seal()
    current = pool.take()
    held.push(current)
    start = 0
    used = 0
    return current
  }

  const bytes = (b: Uint8Array) => {
    if (b.length === 0) return
    seal()
    segments.push(b)
    length += b.length
  }

  return {
    get length() {
      return length
    },
    text: (text) => {
      if (!pooled || text.length > ownBufferAbove) return bytes(Buffer.from(text, "latin1"))
      const buffer = room(text.length)
      used += buffer.write(text, used, "latin1")
      length += text.length
    },
    encode: (stuffer, chunk) => {
      const step = encodeStep(pool)
      for (let from = 0; from < chunk.length && !stuffer.done; from += step) {
        const part = chunk.subarray(from, Math.min(chunk.length, from + step))
        if (!pooled) {
          const own = Buffer.allocUnsafe(DotStuffer.maxEncodedLength(part.length))
          bytes(own.subarray(0, stuffer.encodeInto(part, own, 0)))
          continue
        }
        const buffer = room(DotStuffer.maxEncodedLength(part.length))
        const before = used
        used = stuffer.encodeInto(part, buffer, used)
        length += used - before
      }
    },
    bytes,
    copy: (b) => {
      if (!pooled || b.length > ownBufferAbove) return bytes(b)
      const buffer = room(b.length)
      buffer.set(b, used)
      used += b.length
      length += b.length
    },
    take: () => {
      seal()
      if (segments.length === 0) return undefined
      const batch = segments as [Uint8Array, ...Array<Uint8Array>]
      segments = []
      inFlight = held
      held = []
      current = undefined
      length = 0
      return batch
    },
    written: (drained) => {
      if (drained) for (const buffer of inFlight) pool.give(buffer)
      inFlight = []
    },
    detach: () => {
      pooled = false
    }
  }
}
