// Owns the RFC 1939 wire form of a stored message, streaming: every CRLF, bare LF or bare CR becomes CRLF, a "." at
// a line start is doubled, `end()` closes the last line and adds the ".CRLF" terminator; in TOP mode it stops after
// the header block, the blank line and k body lines. It must never hold more than one chunk, nor build strings, nor
// allocate in `encodeInto`.
import { Buffer } from "node:buffer"

/** A streaming message encoder for RETR and TOP; chunks may be split at any octet. */
export interface DotStuffer {
  /**
   * Encodes one chunk into `out` from offset `at` and returns the offset after it; `out` must have room for
   * `maxEncodedLength(chunk.length)` octets from `at`. Nothing is allocated.
   */
  encodeInto(chunk: Uint8Array, out: Uint8Array, at: number): number
  /** Encodes one chunk into a new buffer. */
  push(chunk: Uint8Array): Uint8Array
  /** Closes the message: a CRLF if the output does not end in one, then ".CRLF". */
  end(): Uint8Array
  /** True once TOP mode has passed every line it should; later input is ignored. */
  readonly done: boolean
}

/** Options for `make`: `bodyLines` selects TOP mode with that many body lines after the blank line. */
export interface Options {
  readonly bodyLines?: number | undefined
}

/** The most octets one chunk of `length` octets can encode to: every octet doubled (a line of "." alone). */
export const maxEncodedLength = (length: number): number => 2 * length

const LF = 10
const CR = 13
const DOT = 46

const EMPTY = new Uint8Array(0)

/** Copies `chunk[from, to)` to `out` at `at`; short runs (most lines) by hand, as a view costs more than the copy. */
const copy = (chunk: Uint8Array, from: number, to: number, out: Uint8Array, at: number): number => {
  if (to - from < 64) {
    for (let i = from; i < to; i++) out[at++] = chunk[i]!
    return at
  }
  out.set(chunk.subarray(from, to), at)
  return at + to - from
}

/** Creates an encoder; with `bodyLines: k` it passes only the headers, the blank line and k body lines (TOP). */
export const make = (options?: Options): DotStuffer => {
  const top = options?.bodyLines !== undefined
  let bodyLeft = options?.bodyLines ?? 0
  let inHeaders = true
  let done = false
  // Nothing of the current line has been emitted yet (true at the start and after every line break).
  let atLineStart = true
  // Whether the current line holds any octet (a line with none, in the headers, is the blank line).
  let lineHasContent = false
  // The previous chunk ended in CR, already emitted as CRLF: an LF opening the next chunk belongs to it.
  let skipLF = false

  // Called after every line break; returns true when TOP mode has just passed its last line.
  const lineEnded = (): boolean => {
    if (!top) return false
    if (inHeaders) {
      if (!lineHasContent) {
        inHeaders = false
        if (bodyLeft <= 0) return (done = true)
      }
    } else if (--bodyLeft <= 0) {
      return (done = true)
    }
    lineHasContent = false
    return false
  }

  // One pass over the chunk, line by line: each line's octets are copied, its break written as CRLF, and a dot
  // opening it doubled.
  const encodeInto = (chunk: Uint8Array, out: Uint8Array, at: number): number => {
    const length = chunk.length
    if (done || length === 0) return at
    let pos = 0
    if (skipLF) {
      skipLF = false
      if (chunk[0] === LF) pos = 1
    }
    let nextCR = -1
    let nextLF = -1
    while (pos < length) {
      if (atLineStart) {
        atLineStart = false
        if (chunk[pos] === DOT) out[at++] = DOT
      }
      if (nextCR < pos) {
        nextCR = chunk.indexOf(CR, pos)
        if (nextCR === -1) nextCR = length
      }
      if (nextLF < pos) {
        nextLF = chunk.indexOf(LF, pos)
        if (nextLF === -1) nextLF = length
      }
      const brk = nextCR < nextLF ? nextCR : nextLF
      if (brk > pos) {
        lineHasContent = true
        at = copy(chunk, pos, brk, out, at)
      }
      if (brk === length) break
      out[at++] = CR
      out[at++] = LF
      if (brk === nextLF) {
        pos = brk + 1
      } else if (brk + 1 === length) {
        skipLF = true
        pos = length
      } else {
        pos = chunk[brk + 1] === LF ? brk + 2 : brk + 1
      }
      atLineStart = true
      if (lineEnded()) break
    }
    return at
  }

  return {
    encodeInto,
    push: (chunk) => {
      if (done || chunk.length === 0) return EMPTY
      const out = Buffer.allocUnsafe(maxEncodedLength(chunk.length))
      return out.subarray(0, encodeInto(chunk, out, 0))
    },
    end: () => Buffer.from(atLineStart ? ".\r\n" : "\r\n.\r\n", "latin1"),
    get done() {
      return done
    }
  }
}
