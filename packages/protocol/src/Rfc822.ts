// Owns the size of a stored message as RETR sends it: octets after CRLF normalisation (CRLF, bare LF and bare CR
// each count as one CRLF), including the CRLF added after a last line without one, before dot-stuffing and without
// the ".CRLF" terminator (the exact RFC 822 size). It keeps nothing of a message (chunks pass through one fixed
// 1 MiB window) and must never disagree with DotStuffer.
import { Buffer } from "node:buffer"
import { instantiate } from "./internal/wasm.ts"

/** A streaming wire-size counter; chunks may be split at any octet. */
export interface SizeCounter {
  /** Counts one more chunk of the stored message. */
  push(chunk: Uint8Array): void
  /** The wire size of everything pushed so far, as if the message ended here. */
  total(): number
}

const LF = 10
const CR = 13

// The wire form adds one octet for every LF not after a CR and every CR not before an LF, that is
// #LF + #CR - 2 * #CRLF. A tiny WebAssembly SIMD kernel counts that 16 octets at a time (a mailbox's first open
// measures every message: about 8 GB/s here, the copy in included, against about 1.4 GB/s for two indexOf passes).
// Its source:
//
// (module
//   (memory (export "memory") 16)
//   ;; count(at, length) = #LF + #CR - 2 * #CRLF over the octets [at, at + length): the octets the wire form adds
//   (func (export "count") (param $p i32) (param $n i32) (result i32)
//     (local $end i32) (local $stop i32) (local $blocks i32) (local $total i32) (local $b i32)
//     (local $v v128) (local $cr v128) (local $ends v128) (local $pairs v128) (local $sum v128)
//     (local.set $end (i32.add (local.get $p) (local.get $n)))
//     ;; 16 octets at a time while p + 17 <= end (the CRLF test also reads the octet after each one)
//     (block $wide_done
//       (loop $round
//         (br_if $wide_done (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 17)))
//         (local.set $blocks
//           (i32.shr_u (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 1)) (i32.const 4)))
//         ;; at most 255 blocks per round: the 8-bit lane counters cannot overflow
//         (local.set $stop (i32.add (local.get $p) (i32.shl
//           (select (i32.const 255) (local.get $blocks) (i32.gt_u (local.get $blocks) (i32.const 255)))
//           (i32.const 4))))
//         (local.set $ends (v128.const i64x2 0 0))
//         (local.set $pairs (v128.const i64x2 0 0))
//         (loop $block
//           (local.set $v (v128.load (local.get $p)))
//           (local.set $cr (i8x16.eq (local.get $v) (i8x16.splat (i32.const 13))))
//           (local.set $ends (i8x16.sub (local.get $ends)
//             (v128.or (local.get $cr) (i8x16.eq (local.get $v) (i8x16.splat (i32.const 10))))))
//           (local.set $pairs (i8x16.sub (local.get $pairs)
//             (v128.and (local.get $cr) (i8x16.eq (v128.load offset=1 (local.get $p)) (i8x16.splat (i32.const 10))))))
//           (local.set $p (i32.add (local.get $p) (i32.const 16)))
//           (br_if $block (i32.lt_u (local.get $p) (local.get $stop))))
//         ;; sum += ends - 2 * pairs, in 32-bit lanes
//         (local.set $sum (i32x4.add (local.get $sum) (i32x4.sub
//           (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $ends)))
//           (i32x4.shl
//             (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $pairs)))
//             (i32.const 1)))))
//         (br $round)))
//     ;; the last octets one at a time
//     (block $tail_done
//       (loop $tail
//         (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
//         (local.set $b (i32.load8_u (local.get $p)))
//         (if (i32.eq (local.get $b) (i32.const 10))
//           (then (local.set $total (i32.add (local.get $total) (i32.const 1)))))
//         (if (i32.eq (local.get $b) (i32.const 13))
//           (then
//             (local.set $total (i32.add (local.get $total) (i32.const 1)))
//             (if (i32.lt_u (i32.add (local.get $p) (i32.const 1)) (local.get $end))
//               (then (if (i32.eq (i32.load8_u offset=1 (local.get $p)) (i32.const 10))
//                 (then (local.set $total (i32.sub (local.get $total) (i32.const 2)))))))))
//         (local.set $p (i32.add (local.get $p) (i32.const 1)))
//         (br $tail)))
//     (i32.add (local.get $total) (i32.add
//       (i32.add (i32x4.extract_lane 0 (local.get $sum)) (i32x4.extract_lane 1 (local.get $sum)))
//       (i32.add (i32x4.extract_lane 2 (local.get $sum)) (i32x4.extract_lane 3 (local.get $sum)))))))
const kernelBytes = Buffer.from(
  "AGFzbQEAAAABBwFgAn9/AX8DAgEABQMBABAHEgIGbWVtb3J5AgAFY291bnQAAArDAgHAAgIFfwV7IAAgAWohAgJAA0AgAiAAa0ERSQ0B" +
  "IAIgAGtBAWtBBHYhBCAAQf8BIAQgBEH/AUsbQQR0aiED/QwAAAAAAAAAAAAAAAAAAAAAIQn9DAAAAAAAAAAAAAAAAAAAAAAhCgNAIAD9" +
  "AAQAIQcgB0EN/Q/9IyEIIAkgCCAHQQr9D/0j/VD9cSEJIAogCCAA/QAEAUEK/Q/9I/1O/XEhCiAAQRBqIQAgACADSQ0ACyALIAn9ff1/" +
  "IAr9ff1/QQH9qwH9sQH9rgEhCwwACwsCQANAIAAgAk8NASAALQAAIQYgBkEKRgRAIAVBAWohBQsgBkENRgRAIAVBAWohBSAAQQFqIAJJ" +
  "BEAgAC0AAUEKRgRAIAVBAmshBQsLCyAAQQFqIQAMAAsLIAUgC/0bACAL/RsBaiAL/RsCIAv9GwNqamoL",
  "base64"
)

const kernel = instantiate<{ readonly count: (at: number, length: number) => number }>(kernelBytes)
// The kernel's whole memory (1 MiB), shared by every counter (counting is synchronous): each chunk is copied here
// and counted; a longer chunk goes through in pieces of this size.
const scratch = new Uint8Array(kernel.memory.buffer)

/** The octets the wire form adds to `chunk` on its own (a CRLF split across chunks is the caller's to settle). */
const addedOctets = (chunk: Uint8Array): number => {
  if (chunk.length <= scratch.length) {
    scratch.set(chunk)
    return kernel.count(0, chunk.length)
  }
  let added = 0
  for (let start = 0; start < chunk.length; start += scratch.length) {
    const piece = chunk.subarray(start, start + scratch.length)
    scratch.set(piece)
    added += kernel.count(0, piece.length)
    if (start > 0 && chunk[start - 1] === CR && chunk[start] === LF) added -= 2
  }
  return added
}

/** Creates a counter that agrees octet for octet with `DotStuffer` output minus stuffing and terminator. */
export const makeSizeCounter = (): SizeCounter => {
  let size = 0
  // The last octet pushed was CR or LF (or nothing was pushed): no closing CRLF is owed.
  let atLineStart = true
  // The last octet pushed was CR, counted as a bare CR: an LF opening the next chunk makes it one CRLF.
  let afterCR = false

  const push = (chunk: Uint8Array): void => {
    const length = chunk.length
    if (length === 0) return
    size += length + addedOctets(chunk) - (afterCR && chunk[0] === LF ? 2 : 0)
    const last = chunk[length - 1]
    afterCR = last === CR
    atLineStart = last === CR || last === LF
  }

  return {
    push,
    total: () => (atLineStart ? size : size + 2)
  }
}

/** The wire size of a whole stored message (see `makeSizeCounter`). */
export const wireSize = (bytes: Uint8Array): number => {
  if (bytes.length === 0) return 0
  const last = bytes[bytes.length - 1]
  return bytes.length + addedOctets(bytes) + (last === CR || last === LF ? 0 : 2)
}

/**
 * The storage and wire size of a stored message read whole by one call straight into the counting kernel's memory,
 * with no copy (a first open measures 100,000 messages): `read` fills the buffer it is given (1 MiB) and returns how
 * many octets it read, fewer meaning the end. `undefined` when it filled the buffer: the message may be longer, and
 * must be counted with `makeSizeCounter`. The buffer is valid only during the call.
 */
export const sizesOfRead = (read: (into: Uint8Array) => number): { storageSize: number; wireSize: number } | undefined => {
  const storageSize = read(scratch)
  if (storageSize >= scratch.length) return undefined
  if (storageSize === 0) return { storageSize, wireSize: 0 }
  const last = scratch[storageSize - 1]
  return { storageSize, wireSize: storageSize + kernel.count(0, storageSize) + (last === CR || last === LF ? 0 : 2) }
}
