// Owns the size of a stored message as RETR sends it: octets after CRLF normalisation (CRLF, bare LF and bare CR
// each count as one CRLF), including the CRLF added after a last line without one, before dot-stuffing and without
// the ".CRLF" terminator (the exact RFC 822 size). It must never allocate per chunk, nor disagree with DotStuffer.

/** A streaming wire-size counter; chunks may be split at any octet. */
export interface SizeCounter {
  /** Counts one more chunk of the stored message. */
  push(chunk: Uint8Array): void
  /** The wire size of everything pushed so far, as if the message ended here. */
  total(): number
}

const LF = 10
const CR = 13

/** Creates a counter that agrees octet for octet with `DotStuffer` output minus stuffing and terminator. */
export const makeSizeCounter = (): SizeCounter => {
  let size = 0
  // The last octet pushed was CR or LF (or nothing was pushed): no closing CRLF is owed.
  let atLineStart = true
  // The previous chunk ended in CR, already counted as CRLF: an LF opening the next chunk belongs to it.
  let skipLF = false

  const push = (chunk: Uint8Array): void => {
    const length = chunk.length
    if (length === 0) return
    let start = 0
    if (skipLF) {
      skipLF = false
      if (chunk[0] === LF) start = 1
    }
    size += length - start
    // Every CR not followed by LF gains an LF; a CR that ends the chunk is counted as CRLF now.
    for (let cr = chunk.indexOf(CR, start); cr !== -1; cr = chunk.indexOf(CR, cr + 1)) {
      if (cr + 1 === length) {
        size++
        skipLF = true
      } else if (chunk[cr + 1] !== LF) {
        size++
      }
    }
    // Every LF not preceded by CR gains a CR.
    for (let lf = chunk.indexOf(LF, start); lf !== -1; lf = chunk.indexOf(LF, lf + 1)) {
      if (lf === 0 || chunk[lf - 1] !== CR) size++
    }
    const last = chunk[length - 1]
    atLineStart = (last === LF || last === CR) && length > start || (atLineStart && length === start)
  }

  return {
    push,
    total: () => (atLineStart ? size : size + 2)
  }
}

/** The wire size of a whole stored message (see `makeSizeCounter`). */
export const wireSize = (bytes: Uint8Array): number => {
  const counter = makeSizeCounter()
  counter.push(bytes)
  return counter.total()
}
