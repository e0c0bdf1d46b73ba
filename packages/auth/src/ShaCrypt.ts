/**
 * glibc's SHA-crypt: `$5$` (SHA-256) and `$6$` (SHA-512) password hashes, implemented from Ulrich Drepper's
 * specification "Unix crypt using SHA-256 and SHA-512" (the text glibc's crypt-sha256.c/crypt-sha512.c follow).
 * The digests are Node's; the rounds loop runs in slices of `sliceRounds` with a yield to the event loop
 * between slices, so a verify never blocks other connections for long. Nothing here logs or puts into an
 * error a password or a hash.
 */
import * as Crypto from "node:crypto"
import { Effect } from "effect"

/** The two SHA-crypt variants. */
export type Variant = "SHA-256" | "SHA-512"

/** Rounds when the setting names none (spec: 5000). */
export const roundsDefault = 5000
/** Fewer rounds are raised to this (spec). */
export const roundsMin = 1000
/** More rounds are lowered to this (spec). */
export const roundsMax = 999_999_999
/** Salt characters used; longer salts are cut (spec). */
export const saltMaxLength = 16
/** Rounds computed between two yields to the event loop (about 0.5-1 ms of CPU here). */
export const sliceRounds = 250
/**
 * Longest password (in octets) a server-side check hashes. SHA-crypt's work grows with the square of the
 * password length (step 13 hashes the password once per octet), so `PasswordScheme` hashes only this much of a
 * longer candidate and then refuses it, at the same cost.
 */
export const maxPasswordOctets = 1024

/** A parsed setting: what the hash is computed from. */
export interface Setting {
  readonly variant: Variant
  readonly rounds: number
  /** The string names its rounds (`rounds=N$`); the output then names them too. */
  readonly roundsCustom: boolean
  readonly salt: string
}

/** A parsed stored hash: its setting and the encoded digest (43 characters for SHA-256, 86 for SHA-512). */
export interface Stored extends Setting {
  readonly hash: string
}

interface VariantSpec {
  readonly id: "5" | "6"
  readonly algorithm: "sha256" | "sha512"
  readonly size: number
  readonly encodedLength: number
  /** Byte triples in output order (spec: the b64_from_24bit calls), then the final short group. */
  readonly order: ReadonlyArray<readonly [number, number, number]>
  readonly tail: { readonly bytes: readonly [number, number, number]; readonly chars: number }
}

const NONE = -1

const variants: Record<Variant, VariantSpec> = {
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

const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/** The variant a `$id$` names, if any. */
export const variantOf = (id: string): Variant | undefined => id === "5" ? "SHA-256" : id === "6" ? "SHA-512" : undefined

/** The encoded digest length of a variant. */
export const encodedLength = (variant: Variant): number => variants[variant].encodedLength

const clampRounds = (n: number): number => Math.min(roundsMax, Math.max(roundsMin, n))

/**
 * Reads a setting the way glibc's crypt does: `$5$` or `$6$`, an optional `rounds=N$` (clamped to
 * 1000..999999999), then the salt up to the next `$`, cut to 16 characters. Anything after that is ignored,
 * so a whole stored hash is also a valid setting.
 */
export const parseSetting = (text: string): Setting | undefined => {
  const head = /^\$([56])\$/.exec(text)
  if (head === null) return undefined
  const variant = variantOf(head[1]!)!
  let rest = text.slice(3)
  let rounds = roundsDefault
  let roundsCustom = false
  const r = /^rounds=([0-9]{1,10})\$/.exec(rest)
  if (r !== null) {
    rounds = clampRounds(Number(r[1]))
    roundsCustom = true
    rest = rest.slice(r[0].length)
  }
  const end = rest.indexOf("$")
  const salt = (end < 0 ? rest : rest.slice(0, end)).slice(0, saltMaxLength)
  return { variant, rounds, roundsCustom, salt }
}

// Salt characters accepted in a stored hash: printable ASCII other than `$` and `:` (so one character is one
// octet, as in glibc, and the users file's field separator cannot occur).
const storedPattern = /^\$([56])\$(?:rounds=([0-9]{1,9})\$)?([\x21-\x23\x25-\x39\x3b-\x7e]{0,16})\$([./0-9A-Za-z]+)$/

/** Parses a stored hash strictly: `$5$` or `$6$`, optional `rounds=N$`, salt of at most 16 characters, digest. */
export const parseStored = (text: string): Stored | undefined => {
  const match = storedPattern.exec(text)
  if (match === null) return undefined
  const variant = variantOf(match[1]!)!
  const hash = match[4]!
  if (hash.length !== variants[variant].encodedLength) return undefined
  const roundsCustom = match[2] !== undefined
  return {
    variant,
    rounds: roundsCustom ? clampRounds(Number(match[2])) : roundsDefault,
    roundsCustom,
    salt: match[3]!,
    hash
  }
}

/** The crypt string for a stored hash: `$id$[rounds=N$]salt$hash`. */
export const format = (stored: Stored): string =>
  `$${variants[stored.variant].id}$${stored.roundsCustom ? `rounds=${stored.rounds}$` : ""}${stored.salt}$${stored.hash}`

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

/**
 * The encoded digest of `password` (octets) under `setting`: spec steps 1-22. Runs the rounds loop in slices
 * of `sliceRounds`, yielding between slices.
 */
export const digest = (password: Uint8Array, setting: Setting): Effect.Effect<string> =>
  Effect.suspend(() => {
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
    const run = (from: number, to: number) => {
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
    }
    const slice = (from: number): Effect.Effect<string> =>
      Effect.suspend(() => {
        const to = Math.min(setting.rounds, from + sliceRounds)
        run(from, to)
        // Step 22: the output encoding.
        return to >= setting.rounds ? Effect.succeed(encode(spec, c)) : Effect.flatMap(Effect.yieldNow, () => slice(to))
      })
    return slice(0)
  })

const utf8 = new TextEncoder()

/**
 * glibc's `crypt(password, setting)` for `$5$`/`$6$` settings (the password as UTF-8): the whole crypt string,
 * or undefined when the setting is not SHA-crypt. Used by `hash` and the known-answer tests.
 */
export const crypt = (password: string, settingText: string): Effect.Effect<string | undefined> => {
  const setting = parseSetting(settingText)
  if (setting === undefined) return Effect.succeed(undefined)
  return Effect.map(digest(utf8.encode(password), setting), (hash) => format({ ...setting, hash }))
}

/** `length` random salt characters from the crypt alphabet. */
export const randomSalt = (length: number = saltMaxLength): string => {
  const bytes = Crypto.randomBytes(length)
  let out = ""
  for (const byte of bytes) out += itoa64[byte & 0x3f]
  return out
}

/** A random digest of the right length for `variant` (for the unknown-user stand-in). */
export const randomHash = (variant: Variant): string => {
  const bytes = Crypto.randomBytes(variants[variant].encodedLength)
  let out = ""
  for (const byte of bytes) out += itoa64[byte & 0x3f]
  return out
}
