// Test helpers shared by the protocol tests: latin1 byte conversion and chunk splitting.
import { Buffer } from "node:buffer"

/** Bytes of a latin1 string. */
export const bytes = (text: string): Uint8Array => Buffer.from(text, "latin1")

/** The latin1 text of some bytes. */
export const text = (data: Uint8Array): string =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1")

/** Concatenates byte arrays. */
export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => Buffer.concat(parts)

/** Splits `data` at the given cut points (taken modulo length + 1, sorted, duplicates kept as empty chunks). */
export const splitAt = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = cuts.map((cut) => cut % (data.length + 1)).sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let from = 0
  for (const point of points) {
    chunks.push(data.subarray(from, point))
    from = point
  }
  chunks.push(data.subarray(from))
  return chunks
}

/** Every octet as its own chunk. */
export const octets = (data: Uint8Array): Array<Uint8Array> => Array.from(data, (_, i) => data.subarray(i, i + 1))

/** Maps generated symbol indices onto a small alphabet, to get inputs dense in line ends and dots. */
export const fromAlphabet = (alphabet: string, picks: ReadonlyArray<number>): string =>
  picks.map((pick) => alphabet[pick % alphabet.length]).join("")
