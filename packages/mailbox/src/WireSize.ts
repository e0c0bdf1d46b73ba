/**
 * The RFC 822 wire size of a stored message: the octets RETR sends once every
 * line end is CRLF, before dot-stuffing and without the terminating `.CRLF`.
 * Pure counting over bytes; never reads files or keeps anything but a counter.
 *
 * Kept local to the store until `@pop3d/protocol`'s `Rfc822` lands; the rules
 * are the same: CRLF counts 2, a bare LF or a bare CR counts as a CRLF, and a
 * message that does not end with a line end gets a final CRLF. An empty
 * message has size 0.
 */

const CR = 13
const LF = 10

/** A streaming wire-size counter: feed the stored bytes in any chunking, then ask for the total. */
export interface SizeCounter {
  /** Counts one more chunk of stored bytes. */
  push(chunk: Uint8Array): void
  /** The wire size of everything pushed so far, as if the message ended here. */
  total(): number
}

/** Makes a fresh streaming wire-size counter; a CR at a chunk's end pairs with an LF at the next one's start. */
export const makeSizeCounter = (): SizeCounter => {
  let size = 0
  let last = -1 // the last byte seen, -1 before any
  return {
    push(chunk) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!
        if (byte === LF) {
          // CRLF was already counted as 2 when its CR went by.
          if (last !== CR) size += 2
        } else if (byte === CR) {
          size += 2
        } else {
          size += 1
        }
        last = byte
      }
    },
    total() {
      return last === -1 || last === CR || last === LF ? size : size + 2
    }
  }
}

/** The wire size of a whole message held in memory. */
export const wireSize = (bytes: Uint8Array): number => {
  const counter = makeSizeCounter()
  counter.push(bytes)
  return counter.total()
}
