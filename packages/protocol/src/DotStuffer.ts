// Owns the RFC 1939 wire form of a stored message, streaming: every CRLF, bare LF or bare CR becomes CRLF, a "." at
// a line start is doubled, `end()` closes the last line and adds the ".CRLF" terminator; in TOP mode it stops after
// the header block, the blank line and k body lines. It must never hold more than one chunk, nor build strings.
import { Buffer } from "node:buffer"

/** A streaming message encoder for RETR and TOP; chunks may be split at any octet. */
export interface DotStuffer {
  /** Encodes one chunk; the result may share memory with `chunk` (neither may be mutated afterwards). */
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

const LF = 10
const CR = 13
const DOT = 46

// Edit kinds, applied at an input position while copying the chunk to the output.
const INSERT_DOT = 0
const INSERT_CR = 1
const INSERT_LF = 2
const SKIP = 3
const INSERTED = [DOT, CR, LF]

const EMPTY = new Uint8Array(0)

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
  // Edits found by the scan of the current chunk, as parallel position / kind lists (reused between pushes).
  const editAt: Array<number> = []
  const editKind: Array<number> = []

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

  const push = (chunk: Uint8Array): Uint8Array => {
    const length = chunk.length
    if (done || length === 0) return EMPTY
    editAt.length = 0
    editKind.length = 0
    let pos = 0
    let stop = length
    if (skipLF) {
      skipLF = false
      if (chunk[0] === LF) {
        editAt.push(0)
        editKind.push(SKIP)
        pos = 1
      }
    }
    let nextCR = -1
    let nextLF = -1
    while (pos < length) {
      if (atLineStart) {
        atLineStart = false
        if (chunk[pos] === DOT) {
          editAt.push(pos)
          editKind.push(INSERT_DOT)
        }
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
      if (brk > pos) lineHasContent = true
      if (brk === length) break
      if (brk === nextLF) {
        editAt.push(brk)
        editKind.push(INSERT_CR)
        pos = brk + 1
      } else if (brk + 1 === length) {
        editAt.push(length)
        editKind.push(INSERT_LF)
        skipLF = true
        pos = length
      } else if (chunk[brk + 1] === LF) {
        pos = brk + 2
      } else {
        editAt.push(brk + 1)
        editKind.push(INSERT_LF)
        pos = brk + 1
      }
      atLineStart = true
      if (lineEnded()) {
        stop = pos
        break
      }
    }
    return apply(chunk, stop)
  }

  // Copies `chunk[0, stop)` to a new buffer with the recorded edits applied (or returns a view if there are none).
  const apply = (chunk: Uint8Array, stop: number): Uint8Array => {
    const edits = editAt.length
    if (edits === 0) return stop === chunk.length ? chunk : chunk.subarray(0, stop)
    let size = stop
    for (let i = 0; i < edits; i++) size += editKind[i] === SKIP ? -1 : 1
    const out = Buffer.allocUnsafe(size)
    let from = 0
    let to = 0
    for (let i = 0; i < edits; i++) {
      const at = editAt[i]!
      if (at > from) {
        out.set(chunk.subarray(from, at), to)
        to += at - from
        from = at
      }
      const kind = editKind[i]!
      if (kind === SKIP) from = at + 1
      else out[to++] = INSERTED[kind]!
    }
    if (stop > from) out.set(chunk.subarray(from, stop), to)
    return out
  }

  return {
    push,
    end: () => Buffer.from(atLineStart ? ".\r\n" : "\r\n.\r\n", "latin1"),
    get done() {
      return done
    }
  }
}
