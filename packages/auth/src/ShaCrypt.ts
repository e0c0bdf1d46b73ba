/**
 * glibc's SHA-crypt: `$5$` (SHA-256) and `$6$` (SHA-512) password hashes, implemented from Ulrich Drepper's
 * specification "Unix crypt using SHA-256 and SHA-512" (the text glibc's crypt-sha256.c/crypt-sha512.c follow).
 * The digests are Node's; the rounds loop runs in slices of `sliceRounds` with a yield to the event loop
 * between slices, so a verify never blocks other connections for long. Nothing here logs or puts into an
 * error a password or a hash.
 */
import * as Crypto from "node:crypto"
import { Effect } from "effect"
import * as Core from "./internal/shaCryptCore.ts"
import { itoa64, variants } from "./internal/shaCryptCore.ts"

/** The two SHA-crypt variants. */
export type Variant = Core.Variant

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

/**
 * The encoded digest of `password` (octets) under `setting`: spec steps 1-22. Runs the rounds loop in slices
 * of `sliceRounds`, yielding between slices.
 */
export const digest = (password: Uint8Array, setting: Setting): Effect.Effect<string> =>
  Effect.suspend(() => {
    const stepper = Core.start(password, setting)
    const slice = (from: number): Effect.Effect<string> =>
      Effect.suspend(() => {
        const to = Math.min(setting.rounds, from + sliceRounds)
        stepper.run(from, to)
        return to >= setting.rounds ? Effect.succeed(stepper.result()) : Effect.flatMap(Effect.yieldNow, () => slice(to))
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
