// Owns the cutting of a client's byte stream into command lines: LF ends a line, a CR before it is dropped,
// the whole line (counted as if it ended in CRLF) must fit `maxLength`, and lines are decoded latin1.
// It must never buffer more than one partial line shorter than `maxLength`, and never throw.
import { Buffer } from "node:buffer"

/** One framing result: a complete line (without its line end) or the notice that a line was too long. */
export type FrameEvent =
  | { readonly _tag: "Line"; readonly line: string }
  | { readonly _tag: "TooLong" }

/** An incremental line framer; `push` may be called with chunks split at any byte. */
export interface LineFramer {
  /** Feeds bytes and returns the events for every line completed (or found over-long) by them, in order. */
  push(chunk: Uint8Array): Array<FrameEvent>
  /** Drops any buffered partial line and discard state (used when the transport changes, e.g. at STLS). */
  reset(): void
  /** Changes the limit (CRLF included) for the lines that follow. */
  setMaxLength(n: number): void
}

/** The single `TooLong` event value (events are immutable, so one instance is shared). */
export const TooLong: FrameEvent = Object.freeze({ _tag: "TooLong" as const })

const LF = 10
const CR = 13
const EMPTY = new Uint8Array(0)

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** Creates a framer whose lines, CRLF included, may be at most `maxLength` octets. */
export const make = (maxLength: number): LineFramer => {
  let max = maxLength
  // The partial line carried between pushes: always shorter than `max`; when it is `max - 1` long it ends in CR
  // (the line can still fit if that CR turns out to precede the LF).
  let partial: Uint8Array = EMPTY
  // True while the rest of an over-long line (already reported) is being skipped up to its LF.
  let discarding = false

  // Whether a partial line of `length` octets whose last octet is `last` already cannot fit.
  const overflows = (length: number, last: number): boolean =>
    length >= max || (length === max - 1 && last !== CR)

  const push = (chunk: Uint8Array): Array<FrameEvent> => {
    const events: Array<FrameEvent> = []
    const length = chunk.length
    let start = 0
    while (start < length) {
      const lf = chunk.indexOf(LF, start)
      if (discarding) {
        if (lf === -1) return events
        discarding = false
        start = lf + 1
        continue
      }
      if (lf === -1) {
        const total = partial.length + (length - start)
        if (overflows(total, chunk[length - 1]!)) {
          events.push(TooLong)
          partial = EMPTY
          discarding = true
        } else {
          partial = appendCopy(partial, chunk, start, length)
        }
        return events
      }
      let end = lf
      let content: number
      if (end > start) {
        if (chunk[end - 1] === CR) end--
        content = partial.length + (end - start)
      } else {
        content = partial.length
        if (content > 0 && partial[content - 1] === CR) content--
      }
      if (content + 2 > max) {
        events.push(TooLong)
      } else if (partial.length === 0) {
        events.push({ _tag: "Line", line: asBuffer(chunk).toString("latin1", start, end) })
      } else {
        const head = asBuffer(partial).toString("latin1", 0, Math.min(partial.length, content))
        events.push({ _tag: "Line", line: end > start ? head + asBuffer(chunk).toString("latin1", start, end) : head })
      }
      partial = EMPTY
      start = lf + 1
    }
    return events
  }

  return {
    push,
    reset: () => {
      partial = EMPTY
      discarding = false
    },
    setMaxLength: (n: number) => {
      max = n
    }
  }
}

// Returns a fresh array holding `head` followed by `chunk[start, end)`, so the caller's chunk is never retained.
const appendCopy = (head: Uint8Array, chunk: Uint8Array, start: number, end: number): Uint8Array => {
  const out = new Uint8Array(head.length + (end - start))
  out.set(head, 0)
  out.set(chunk.subarray(start, end), head.length)
  return out
}
