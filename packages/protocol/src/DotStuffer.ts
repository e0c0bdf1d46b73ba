// Owns the RFC 1939 wire form of a stored message, streaming: every CRLF, bare LF or bare CR becomes CRLF, a "." at
// a line start is doubled, `end()` closes the last line and adds the ".CRLF" terminator; in TOP mode it stops after
// the header block, the blank line and k body lines. RETR runs on a small WebAssembly SIMD kernel, TOP on plain
// JavaScript. It must never hold more than one chunk, nor build strings, nor allocate in `encodeInto`.
import { Buffer } from "node:buffer"
import { instantiate } from "./internal/wasm.ts"

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

// Buffer's copy, which takes any Uint8Array as its source and, unlike `set`, a range of it without making a view.
const copyBytes: (this: Uint8Array, target: Uint8Array, at: number, from: number, to: number) => number =
  Buffer.prototype.copy

/** Copies `chunk[from, to)` to `out` at `at`; short runs (most lines) by hand, as the call costs more than the copy. */
const copy = (chunk: Uint8Array, from: number, to: number, out: Uint8Array, at: number): number => {
  if (to - from < 64) {
    for (let i = from; i < to; i++) out[at++] = chunk[i]!
    return at
  }
  return at + copyBytes.call(chunk, out, at, from, to)
}

// The RETR form, 16 octets at a time with no branch per line: the octets to write twice (a bare LF as CR LF, a bare
// CR as CR LF, a dot opening a line) are found by comparing the block with itself shifted one octet either way, and
// each 8-octet half is spread over 8 to 16 output octets by a swizzle looked up by its mask of doubled octets (the
// relaxed swizzle, whose result is exact for the in-range lanes the tables hold). About 0.2 ns an octet here, the
// copies in and out included, against 1.5 ns for the line-by-line JavaScript below. Memory: the tables at 0, the
// input at 20 KiB (after the octet before it, with room for 16 zeros after it), the output at 280 KiB; each store may
// write up to 32 octets past the output, still inside the memory. Its source:
//
// (module
//   (memory (export "memory") 16)
//   ;; encode(n, prev) = the length of the wire form of the n octets at 20480, written from 286720; prev is the octet
//   ;; before them (LF at a message start). The swizzle tables at 0 must be filled first (see fillTables).
//   (func (export "encode") (param $n i32) (param $prev i32) (result i32)
//     (local $p i32) (local $end i32) (local $o i32) (local $m i32) (local $lo i32) (local $hi i32)
//     (local $v v128) (local $before v128) (local $afterCR v128) (local $lf v128) (local $cr v128) (local $ends v128)
//     (local $first v128) (local $CR v128) (local $LF v128) (local $DOT v128) (local $SEVEN v128)
//     (local $SEVEN_LO v128) (local $SEVEN_HI v128)
//     (local.set $p (i32.const 20480))
//     (local.set $end (i32.add (local.get $p) (local.get $n)))
//     (local.set $o (i32.const 286720))
//     ;; the octet before the input, and zeros after it (they never double, and end a last CR as a bare one)
//     (i32.store8 offset=20479 (i32.const 0) (local.get $prev))
//     (v128.store (local.get $end) (v128.const i64x2 0 0))
//     ;; an LF after a CR that ended the last piece belongs to that CR, already written as CRLF
//     (if (i32.and (i32.eq (local.get $prev) (i32.const 13)) (i32.eq (i32.load8_u (local.get $p)) (i32.const 10)))
//       (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
//     (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const 0))))
//     (local.set $CR (i8x16.splat (i32.const 13)))
//     (local.set $LF (i8x16.splat (i32.const 10)))
//     (local.set $DOT (i8x16.splat (i32.const 46)))
//     (local.set $SEVEN (i8x16.splat (i32.const 7)))
//     (local.set $SEVEN_LO (v128.const i8x16 7 7 7 7 7 7 7 7 0 0 0 0 0 0 0 0))
//     (local.set $SEVEN_HI (v128.const i8x16 0 0 0 0 0 0 0 0 7 7 7 7 7 7 7 7))
//     (loop $block
//       (local.set $v (v128.load (local.get $p)))
//       (local.set $before (v128.load (i32.sub (local.get $p) (i32.const 1))))
//       (local.set $afterCR (i8x16.eq (local.get $before) (local.get $CR)))
//       ;; the octets written twice: a bare LF (as CR LF), a bare CR (as CR LF), a dot opening a line
//       (local.set $lf (v128.andnot (i8x16.eq (local.get $v) (local.get $LF)) (local.get $afterCR)))
//       (local.set $cr (v128.andnot (i8x16.eq (local.get $v) (local.get $CR))
//         (i8x16.eq (v128.load offset=1 (local.get $p)) (local.get $LF))))
//       (local.set $ends (v128.or (local.get $lf) (local.get $cr)))
//       (local.set $m (i8x16.bitmask (v128.or (local.get $ends)
//         (v128.and (i8x16.eq (local.get $v) (local.get $DOT))
//           (v128.or (i8x16.eq (local.get $before) (local.get $LF)) (local.get $afterCR))))))
//       ;; first copies: a bare LF turned CR (10 ^ 7 = 13); second copies of a bare CR or LF turned LF (13 ^ 7 = 10)
//       (local.set $first (v128.xor (local.get $v) (v128.and (local.get $lf) (local.get $SEVEN))))
//       (local.set $lo (i32.shl (i32.and (local.get $m) (i32.const 255)) (i32.const 4)))
//       (local.set $hi (i32.shl (i32.shr_u (local.get $m) (i32.const 8)) (i32.const 4)))
//       (v128.store (local.get $o) (v128.xor
//         (i8x16.relaxed_swizzle (local.get $first) (v128.load (local.get $lo)))
//         (i8x16.relaxed_swizzle (v128.and (local.get $ends) (local.get $SEVEN_LO))
//           (v128.load offset=4096 (local.get $lo)))))
//       (v128.store (i32.add (i32.add (local.get $o) (i32.const 8)) (i32.popcnt (local.get $lo)))
//         (v128.xor
//           (i8x16.relaxed_swizzle (local.get $first) (v128.load offset=8192 (local.get $hi)))
//           (i8x16.relaxed_swizzle (v128.and (local.get $ends) (local.get $SEVEN_HI))
//             (v128.load offset=12288 (local.get $hi)))))
//       (local.set $o (i32.add (local.get $o) (i32.popcnt (local.get $m))))
//       (if (i32.le_u (i32.sub (local.get $end) (local.get $p)) (i32.const 16))
//         (then (return (i32.sub
//           (i32.add (local.get $o) (i32.sub (local.get $end) (local.get $p))) (i32.const 286720)))))
//       (local.set $o (i32.add (local.get $o) (i32.const 16)))
//       (local.set $p (i32.add (local.get $p) (i32.const 16)))
//       (br $block))
//     (unreachable)))
const kernelBytes = Buffer.from(
  "AGFzbQEAAAABBwFgAn9/AX8DAgEABQMBABAHEwIGbWVtb3J5AgAGZW5jb2RlAAAKoQMBngMCBn8Ne0GAoAEhAiACIABqIQNBgMARIQRB" +
  "ACABOgD/nwEgA/0MAAAAAAAAAAAAAAAAAAAAAP0LBAAgAUENRiACLQAAQQpGcQRAIAJBAWohAgsgAiADTwRAQQAPC0EN/Q8hD0EK/Q8h" +
  "EEEu/Q8hEUEH/Q8hEv0MBwcHBwcHBwcAAAAAAAAAACET/QwAAAAAAAAAAAcHBwcHBwcHIRQDQCAC/QAEACEIIAJBAWv9AAQAIQkgCSAP" +
  "/SMhCiAIIBD9IyAK/U8hCyAIIA/9IyAC/QAEASAQ/SP9TyEMIAsgDP1QIQ0gDSAIIBH9IyAJIBD9IyAK/VD9Tv1Q/WQhBSAIIAsgEv1O" +
  "/VEhDiAFQf8BcUEEdCEGIAVBCHZBBHQhByAEIA4gBv0ABAD9gAIgDSAT/U4gBv0ABIAg/YAC/VH9CwQAIARBCGogBmlqIA4gB/0ABIBA" +
  "/YACIA0gFP1OIAf9AASAYP2AAv1R/QsEACAEIAVpaiEEIAMgAmtBEE0EQCAEIAMgAmtqQYDAEWsPCyAEQRBqIQQgAkEQaiECDAALAAs=",
  "base64"
)

const kernel = instantiate<{ readonly encode: (length: number, prev: number) => number }>(kernelBytes)
// The most input octets one kernel call takes; a longer chunk goes through in pieces of this size.
const pieceSize = 256 * 1024
// The kernel's input and output regions, shared by every encoder (encoding is synchronous).
const input = new Uint8Array(kernel.memory.buffer, 20 * 1024, pieceSize)
const output = Buffer.from(kernel.memory.buffer, 280 * 1024, maxEncodedLength(pieceSize))

/**
 * Fills the kernel's tables: for each 8-bit mask of doubled octets in the low half of a block (at 0 and 4096) or the
 * high half (at 8192 and 12288), the lane of the block each output lane copies, and the lane of the CR/LF fix it
 * takes (its own lane at a second copy, else one the fix leaves zero: 15 for the low half, 0 for the high).
 */
const fillTables = (memory: Uint8Array): void => {
  for (let mask = 0; mask < 256; mask++) {
    for (const half of [0, 1]) {
      const copies = half * 8192 + mask * 16
      const fixes = copies + 4096
      const zero = half === 0 ? 15 : 0
      let lane = 0
      for (let i = 0; i < 8; i++) {
        memory[copies + lane] = half * 8 + i
        memory[fixes + lane++] = zero
        if ((mask & (1 << i)) !== 0) {
          memory[copies + lane] = half * 8 + i
          memory[fixes + lane++] = half * 8 + i
        }
      }
    }
  }
}
fillTables(new Uint8Array(kernel.memory.buffer))

/** Writes the RETR form of a non-empty `chunk` after the octet `prev` to `out` at `at`; returns the offset after it. */
const encodeRetr = (chunk: Uint8Array, prev: number, out: Uint8Array, at: number): number => {
  for (let start = 0; start < chunk.length; start += pieceSize) {
    const end = Math.min(chunk.length, start + pieceSize)
    copyBytes.call(chunk, input, 0, start, end)
    at += output.copy(out, at, 0, kernel.encode(end - start, prev))
    prev = chunk[end - 1]!
  }
  return at
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

  // RETR: the kernel, which needs only the octet before the chunk (a CR, an LF for any line start, or another).
  // TOP: one pass over the chunk, line by line: each line's octets are copied, its break written as CRLF, and a dot
  // opening it doubled.
  const encodeInto = (chunk: Uint8Array, out: Uint8Array, at: number): number => {
    const length = chunk.length
    if (done || length === 0) return at
    if (!top) {
      at = encodeRetr(chunk, skipLF ? CR : atLineStart ? LF : 0, out, at)
      const last = chunk[length - 1]!
      atLineStart = last === CR || last === LF
      skipLF = last === CR
      return at
    }
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
