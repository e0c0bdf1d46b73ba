/**
 * bcrypt hashes (`$2a$`, `$2b$`, `$2y$`; Dovecot's `{BLF-CRYPT}`): parsing the modular-crypt string and
 * computing the digest with bcryptjs (pure JavaScript, no native build). Only bcryptjs's callback API is used:
 * it runs the expensive key schedule in slices of at most 100 ms (its fixed `MAX_EXECUTION_TIME`) with a
 * `setImmediate` between slices, so other connections are served meanwhile; `maxCost` bounds the total.
 * Nothing here logs or puts into an error a password or a hash.
 */
import * as Crypto from "node:crypto"
import * as bcryptjs from "bcryptjs"
import { Effect } from "effect"

/** The bcrypt revisions read. `$2a$`, `$2b$` and `$2y$` hash every password of at most 255 octets alike. */
export type Minor = "a" | "b" | "y"

/** A parsed bcrypt string: revision, cost (log2 of the rounds), 22-character salt, 31-character digest. */
export interface Stored {
  readonly minor: Minor
  readonly cost: number
  readonly salt: string
  readonly hash: string
}

/** Smallest cost the algorithm allows. */
export const minCost = 4
/**
 * Largest cost accepted when reading a stored string: each step doubles the time (cost 12 is ~0.2 s here), so a
 * mistaken or hostile entry cannot tie up the server for minutes per login.
 */
export const maxCost = 16
/** Cost for new hashes (what OpenBSD and most tools use today). */
export const defaultCost = 10

const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
const pattern = /^\$2([aby])\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/

/** Parses `$2b$NN$<salt><hash>`; undefined if malformed or the cost is outside `minCost..maxCost`. */
export const parse = (text: string): Stored | undefined => {
  const match = pattern.exec(text)
  if (match === null) return undefined
  const cost = Number(match[2])
  if (cost < minCost || cost > maxCost) return undefined
  return { minor: match[1] as Minor, cost, salt: match[3]!, hash: match[4]! }
}

/** Whether the string is shaped like bcrypt whatever its cost (to tell "malformed" from "cost out of range"). */
export const looksLikeBcrypt = (text: string): boolean => pattern.test(text)

const costText = (cost: number) => String(cost).padStart(2, "0")

/** The modular-crypt string. */
export const format = (stored: Stored): string => `$2${stored.minor}$${costText(stored.cost)}$${stored.salt}${stored.hash}`

/** The setting bcrypt hashes under: `$2x$NN$<salt>`. */
export const settingText = (setting: Pick<Stored, "minor" | "cost" | "salt">): string =>
  `$2${setting.minor}$${costText(setting.cost)}$${setting.salt}`

/**
 * The 31-character digest of `password` (UTF-8; bcrypt reads at most 72 octets) under the stored salt and
 * cost, computed asynchronously in slices.
 */
export const digest = (password: string, setting: Pick<Stored, "minor" | "cost" | "salt">): Effect.Effect<string> =>
  Effect.callback<string>((resume) => {
    bcryptjs.hash(password, settingText(setting), (error, result) => {
      // bcryptjs's errors name the salt format or the cost, never the password.
      if (error !== null || result === undefined) resume(Effect.die(error ?? new Error("bcrypt: no result")))
      else resume(Effect.succeed(result.slice(-31)))
    })
  })

/** `length` random characters of bcrypt's base64 alphabet. */
const randomChars = (length: number): string => {
  let out = ""
  for (const byte of Crypto.randomBytes(length)) out += alphabet[byte & 0x3f]
  return out
}

/** A fresh salt: 16 random octets in bcrypt's base64 (22 characters). */
export const randomSalt = (): string => bcryptjs.encodeBase64(Array.from(Crypto.randomBytes(16)), 16)

/** A value with this cost that no password matches (random salt and digest): the unknown-user stand-in. */
export const dummy = (cost: number, minor: Minor = "b"): Stored => ({ minor, cost, salt: randomChars(22), hash: randomChars(31) })

/** Hashes a new password: `$2b$`, a fresh salt, the given cost. */
export const generate = (password: string, cost: number = defaultCost): Effect.Effect<string> =>
  Effect.suspend(() => {
    const setting = { minor: "b" as const, cost, salt: randomSalt() }
    return Effect.map(digest(password, setting), (hash) => format({ ...setting, hash }))
  })
