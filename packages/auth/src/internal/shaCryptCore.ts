/**
 * The computing part of glibc's SHA-crypt (see `ShaCrypt.ts`), with no Effect, so that the hashing thread
 * (`hashThread.ts`) loads only this and Node: the variants' parameters, the output encoding, and the digest as a
 * stepper whose rounds the caller runs in whatever slices suit it.
 */
import * as Crypto from "node:crypto"

/** The two SHA-crypt variants. */
export type Variant = "SHA-256" | "SHA-512"

/** What a digest is computed from (the parsed setting's salt already cut to 16 characters). */
export interface Input {
  readonly variant: Variant
  readonly rounds: number
  readonly salt: string
}

export interface VariantSpec {
  readonly id: "5" | "6"
  readonly algorithm: "sha256" | "sha512"
  readonly size: number
  readonly encodedLength: number
  /** Byte triples in output order (spec: the b64_from_24bit calls), then the final short group. */
  readonly order: ReadonlyArray<readonly [number, number, number]>
  readonly tail: { readonly bytes: readonly [number, number, number]; readonly chars: number }
}

const NONE = -1

export const variants: Record<Variant, VariantSpec> = {
  "SHA-256": {
    id: "5",
    algorithm: "sha256",
    size: 32,
    encodedLength: 43,
    order: [[0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14], [15, 25, 5], [6, 16, 26], [27, 7, 17], [
      18,
      28,
      8
    ], [9, 19, 29]],
    tail: { bytes: [NONE, 31, 30], chars: 3 }
  },
  "SHA-512": {
    id: "6",
    algorithm: "sha512",
    size: 64,
    encodedLength: 86,
    order: [
      [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48], [28, 49, 7],
      [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13], [56, 14, 35],
      [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41]
    ],
    tail: { bytes: [NONE, NONE, 63], chars: 2 }
  }
}

export const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const encode = (spec: VariantSpec, digest: Uint8Array): string => {
  let out = ""
  const put = (b2: number, b1: number, b0: number, chars: number) => {
    let w = ((b2 === NONE ? 0 : digest[b2]!) << 16) | ((b1 === NONE ? 0 : digest[b1]!) << 8) |
      (b0 === NONE ? 0 : digest[b0]!)
    for (let n = 0; n < chars; n++) {
      out += itoa64[w & 0x3f]
      w >>>= 6
    }
  }
  for (const [b2, b1, b0] of spec.order) put(b2, b1, b0, 4)
  put(spec.tail.bytes[0], spec.tail.bytes[1], spec.tail.bytes[2], spec.tail.chars)
  return out
}

/** `length` octets made of `block` repeated (the spec's P and S sequences). */
const repeatTo = (block: Uint8Array, length: number): Buffer => {
  const out = Buffer.alloc(length)
  for (let at = 0; at < length; at += block.length) out.set(block.subarray(0, Math.min(block.length, length - at)), at)
  return out
}

/** A digest in progress: `run` computes rounds `[from, to)` (step 21), `result` encodes the last (step 22). */
export interface Stepper {
  readonly run: (from: number, to: number) => void
  readonly result: () => string
}

/** Spec steps 1-20 for `password` (octets) under `setting`, and the stepper for the rest. */
export const start = (password: Uint8Array, setting: Input): Stepper => {
  const spec = variants[setting.variant]
  const h = (data: Uint8Array): Buffer => Crypto.hash(spec.algorithm, data, "buffer")
  const key = Buffer.from(password)
  const salt = Buffer.from(setting.salt, "latin1")
  const size = spec.size

  // Steps 4-8: digest B = H(key | salt | key).
  const b = h(Buffer.concat([key, salt, key]))
  // Steps 1-3, 9-12: digest A.
  const a: Array<Buffer> = [key, salt]
  let n = key.length
  for (; n > size; n -= size) a.push(b)
  a.push(b.subarray(0, n))
  for (n = key.length; n > 0; n >>= 1) a.push((n & 1) !== 0 ? b : key)
  const digestA = h(Buffer.concat(a))
  // Steps 13-16: the P sequence from DP = H(key repeated key.length times), streamed (no length² buffer).
  const dpHash = Crypto.createHash(spec.algorithm)
  for (let i = 0; i < key.length; i++) dpHash.update(key)
  const dp = dpHash.digest()
  const p = repeatTo(dp, key.length)
  // Steps 17-20: the S sequence from DS = H(salt repeated 16 + A[0] times).
  const ds = h(repeatTo(salt, salt.length * (16 + digestA[0]!)))
  const s = repeatTo(ds, salt.length)

  // Step 21: the rounds, with one preallocated buffer for each round's input.
  const input = Buffer.allocUnsafe(2 * Math.max(size, p.length) + s.length + p.length)
  let c = digestA
  return {
    run: (from, to) => {
      for (let i = from; i < to; i++) {
        let at = 0
        if ((i & 1) !== 0) at += p.copy(input, at)
        else at += c.copy(input, at)
        if (i % 3 !== 0) at += s.copy(input, at)
        if (i % 7 !== 0) at += p.copy(input, at)
        if ((i & 1) !== 0) at += c.copy(input, at)
        else at += p.copy(input, at)
        c = h(input.subarray(0, at))
      }
    },
    result: () => encode(spec, c)
  }
}

/** The whole digest at once (the hashing thread's way; the event loop's is `ShaCrypt.digest`, in slices). */
export const digestNow = (password: Uint8Array, setting: Input): string => {
  const stepper = start(password, setting)
  stepper.run(0, setting.rounds)
  return stepper.result()
}
