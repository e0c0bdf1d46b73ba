/**
 * Stored password strings in Dovecot's `{SCHEME}secret` form: parsing them,
 * hashing new passwords, and checking a candidate password in constant time.
 * Nothing here may log, or put into an error, a password or a stored secret;
 * errors name the scheme only.
 *
 * Schemes:
 * - `{SCRYPT}$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>` — pop3d's default
 *   for new passwords. `salt` (16 random bytes) and `hash` (32 bytes) are
 *   standard base64 without padding, as in the PHC string format. The key is
 *   Node's `crypto.scrypt` (the asynchronous one: it runs on libuv's thread
 *   pool and never blocks the event loop) over the UTF-8 bytes of the password.
 *   This is pop3d's own format; Dovecot's libsodium `$7$` strings are not read.
 * - `{PLAIN}secret` and its alias `{CLEARTEXT}secret` — the password itself.
 * - `{NTLM}<32 hex digits>` — the NT hash, MD4 of the UTF-16LE password, as
 *   Dovecot writes it. Unsalted and password-equivalent: it exists so AUTH NTLM
 *   can work, and is normally stored beside the main hash (see UsersFile).
 * - `{SHA512-CRYPT}$6$[rounds=N$]salt$hash` and `{SHA256-CRYPT}$5$…` — glibc's
 *   SHA-crypt (ShaCrypt.ts), as Dovecot writes them (default 5000 rounds). A
 *   candidate over 1024 octets never verifies (its cost grows with length²).
 * - `{BLF-CRYPT}$2b$NN$<salt><hash>` (also `$2a$`, `$2y$`) — bcrypt (Bcrypt.ts).
 * - `{CRYPT}` with any of those bodies: like Dovecot, which hands every crypt
 *   scheme to crypt(3), the body's `$id$` decides (DES and MD5 crypt are not read).
 * - an empty string — the account is disabled (nothing verifies).
 * Scheme names are case-insensitive. A non-empty string without a `{...}`
 * prefix, or with a scheme not listed here, never verifies.
 * A SHA-crypt or bcrypt check runs on a hashing thread where the process may use
 * more than one CPU, else on the event loop in slices (HashThreads.ts).
 */
import * as Crypto from "node:crypto"
import { Effect, Redacted, Result, Schema } from "effect"
import * as Bcrypt from "./Bcrypt.ts"
import * as HashThreads from "./HashThreads.ts"
import * as Md4 from "./Md4.ts"
import * as ShaCrypt from "./ShaCrypt.ts"

/** Why a stored password string cannot be used. */
export class PasswordSchemeError extends Schema.TaggedError<PasswordSchemeError>()("PasswordSchemeError", {
  reason: Schema.Literals(["UnknownScheme", "MissingScheme", "Malformed"]),
  scheme: Schema.String,
  message: Schema.String
}) {}

/** The schemes `hash` can produce. */
export type Scheme = "SCRYPT" | "PLAIN" | "NTLM" | "SHA512-CRYPT" | "SHA256-CRYPT" | "BLF-CRYPT"

/** scrypt cost parameters: N = 2^ln, block size r, parallelism p. */
export interface ScryptParams {
  readonly ln: number
  readonly r: number
  readonly p: number
}

/**
 * Cost for new passwords: N = 2^15, r = 6, p = 1 (24 MiB per verify). Measured
 * on the reference machine (2 vCPU, Node 24) at ~47 ms median per verify;
 * r = 8 at the same N crossed a cache cliff (~145 ms), N = 2^14, r = 8 took ~28 ms.
 */
export const defaultScryptParams: ScryptParams = { ln: 15, r: 6, p: 1 }

/** Upper bounds accepted when reading a stored string, so a hostile entry cannot exhaust memory. */
export const scryptLimits = { maxLn: 20, maxR: 32, maxP: 16, maxMemory: 256 * 1024 * 1024 } as const

/**
 * Upper bounds for the crypt schemes when reading a stored string, so one entry cannot cost seconds of CPU per
 * login: SHA-crypt rounds (the spec allows 999999999; 1000000 is ~3 s here) and the bcrypt cost (16 is ~6 s).
 */
export const cryptLimits = { maxShaRounds: 1_000_000, maxBcryptCost: Bcrypt.maxCost } as const

/** Octets of random salt in new scrypt strings. */
export const saltLength = 16

/** Octets of derived key in new scrypt strings. */
export const hashLength = 32

/** A key-derivation function with scrypt's contract; injectable so tests can count calls. */
export type ScryptFn = (
  password: Uint8Array,
  salt: Uint8Array,
  keyLength: number,
  params: ScryptParams
) => Effect.Effect<Uint8Array>

/** Memory scrypt needs for these parameters (OpenSSL's accounting: V plus B), in octets. */
export const scryptMemory = (params: ScryptParams): number => 128 * params.r * (2 ** params.ln + params.p + 2)

/** Node's asynchronous `crypto.scrypt`, with `maxmem` raised to what the parameters need. */
export const nodeScrypt: ScryptFn = (password, salt, keyLength, params) =>
  Effect.callback<Uint8Array>((resume) => {
    Crypto.scrypt(password, salt, keyLength, {
      N: 2 ** params.ln,
      r: params.r,
      p: params.p,
      maxmem: scryptMemory(params) + 1024 * 1024
    }, (error, key) => {
      // Node's scrypt errors name parameters, never the password.
      resume(error === null ? Effect.succeed(new Uint8Array(key)) : Effect.die(error))
    })
  })

/** A stored password string, parsed. */
export type Stored =
  | { readonly _tag: "Scrypt"; readonly params: ScryptParams; readonly salt: Uint8Array; readonly hash: Uint8Array }
  | { readonly _tag: "Plain"; readonly secret: Redacted.Redacted<string> }
  | { readonly _tag: "Ntlm"; readonly hash: Uint8Array }
  | { readonly _tag: "ShaCrypt"; readonly value: ShaCrypt.Stored }
  | { readonly _tag: "Bcrypt"; readonly value: Bcrypt.Stored }
  | { readonly _tag: "Disabled" }

/** Options shared by `hash` and the verify functions. */
export interface Options {
  /** scrypt implementation (default `nodeScrypt`). */
  readonly scrypt?: ScryptFn | undefined
  /** Cost for new scrypt hashes (default `defaultScryptParams`). */
  readonly params?: ScryptParams | undefined
}

const utf8 = new TextEncoder()

const encodeB64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64").replace(/=+$/, "")

// Canonical unpadded base64 only: re-encoding must give back the same text.
const decodeB64 = (text: string): Uint8Array | undefined => {
  if (!/^[A-Za-z0-9+/]+$/.test(text)) return undefined
  const bytes = Buffer.from(text, "base64")
  return encodeB64(bytes) === text ? new Uint8Array(bytes) : undefined
}

const malformed = (scheme: string, message: string) =>
  Result.fail(new PasswordSchemeError({ reason: "Malformed", scheme, message }))

const scryptPattern = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([^$]+)\$([^$]+)$/

const parseScrypt = (body: string): Result.Result<Stored, PasswordSchemeError> => {
  const match = scryptPattern.exec(body)
  if (match === null) return malformed("SCRYPT", "SCRYPT: expected $scrypt$ln=N,r=N,p=N$salt$hash")
  const params: ScryptParams = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) }
  if (
    params.ln < 1 || params.ln > scryptLimits.maxLn || params.r < 1 || params.r > scryptLimits.maxR ||
    params.p < 1 || params.p > scryptLimits.maxP || scryptMemory(params) > scryptLimits.maxMemory
  ) {
    return malformed("SCRYPT", "SCRYPT: cost parameters out of range")
  }
  const salt = decodeB64(match[4]!)
  const hash = decodeB64(match[5]!)
  if (salt === undefined || salt.length < 8 || salt.length > 64) return malformed("SCRYPT", "SCRYPT: bad salt")
  if (hash === undefined || hash.length < 16 || hash.length > 64) return malformed("SCRYPT", "SCRYPT: bad hash")
  return Result.succeed({ _tag: "Scrypt", params, salt, hash })
}

// The crypt(3) schemes: the body's `$id$` decides, as crypt(3) does for Dovecot.
const parseCrypt = (scheme: string, body: string): Result.Result<Stored, PasswordSchemeError> => {
  if (/^\$[56]\$/.test(body)) {
    const value = ShaCrypt.parseStored(body)
    if (value === undefined) return malformed(scheme, `${scheme}: expected $5$ or $6$, optional rounds=N$, salt, hash`)
    if (value.rounds > cryptLimits.maxShaRounds) {
      return malformed(scheme, `${scheme}: more than ${cryptLimits.maxShaRounds} rounds`)
    }
    return Result.succeed({ _tag: "ShaCrypt", value })
  }
  if (/^\$2[aby]\$/.test(body)) {
    const value = Bcrypt.parse(body)
    if (value !== undefined) return Result.succeed({ _tag: "Bcrypt", value })
    return Bcrypt.looksLikeBcrypt(body)
      ? malformed(scheme, `${scheme}: bcrypt cost outside ${Bcrypt.minCost}..${cryptLimits.maxBcryptCost}`)
      : malformed(scheme, `${scheme}: expected $2b$NN$ and 53 characters of salt and hash`)
  }
  return malformed(scheme, `${scheme}: only $5$, $6$ (SHA-crypt) and $2a$/$2b$/$2y$ (bcrypt) crypt strings are read`)
}

/** Parses a stored `{SCHEME}secret` string; the error names the scheme, never the secret. */
export const parse = (stored: string): Result.Result<Stored, PasswordSchemeError> => {
  if (stored === "") return Result.succeed({ _tag: "Disabled" })
  const match = /^\{([A-Za-z0-9._-]{1,32})\}/.exec(stored)
  if (match === null) {
    return Result.fail(
      new PasswordSchemeError({ reason: "MissingScheme", scheme: "", message: "password has no {SCHEME} prefix" })
    )
  }
  const scheme = match[1]!.toUpperCase()
  const body = stored.slice(match[0].length)
  switch (scheme) {
    case "SCRYPT":
      return parseScrypt(body)
    case "PLAIN":
    case "CLEARTEXT":
      return Result.succeed({ _tag: "Plain", secret: Redacted.make(body) })
    case "SHA512-CRYPT":
    case "SHA256-CRYPT":
    case "BLF-CRYPT":
    case "CRYPT":
      return parseCrypt(scheme, body)
    case "NTLM":
      return /^[0-9A-Fa-f]{32}$/.test(body)
        ? Result.succeed({ _tag: "Ntlm", hash: new Uint8Array(Buffer.from(body, "hex")) })
        : malformed("NTLM", "NTLM: expected 32 hexadecimal digits")
    default:
      return Result.fail(
        new PasswordSchemeError({ reason: "UnknownScheme", scheme, message: `unknown password scheme {${scheme}}` })
      )
  }
}

/** The canonical stored string for a parsed value (the inverse of `parse`, aliases normalised). */
export const format = (stored: Stored): string => {
  switch (stored._tag) {
    case "Scrypt": {
      const { ln, p, r } = stored.params
      return `{SCRYPT}$scrypt$ln=${ln},r=${r},p=${p}$${encodeB64(stored.salt)}$${encodeB64(stored.hash)}`
    }
    case "Plain":
      return `{PLAIN}${Redacted.value(stored.secret)}`
    case "Ntlm":
      return `{NTLM}${Buffer.from(stored.hash).toString("hex")}`
    case "ShaCrypt":
      return `{${stored.value.variant === "SHA-512" ? "SHA512" : "SHA256"}-CRYPT}${ShaCrypt.format(stored.value)}`
    case "Bcrypt":
      return `{BLF-CRYPT}${Bcrypt.format(stored.value)}`
    case "Disabled":
      return ""
  }
}

/** Hashes a new password into a stored string (`{SCRYPT}` unless told otherwise). */
export const hash = (password: string, scheme: Scheme = "SCRYPT", options?: Options): Effect.Effect<string> => {
  if (scheme === "PLAIN") return Effect.succeed(format({ _tag: "Plain", secret: Redacted.make(password) }))
  if (scheme === "NTLM") return Effect.sync(() => format({ _tag: "Ntlm", hash: ntHash(password) }))
  if (scheme === "SHA512-CRYPT" || scheme === "SHA256-CRYPT") {
    return Effect.suspend(() => {
      const setting: ShaCrypt.Setting = {
        variant: scheme === "SHA512-CRYPT" ? "SHA-512" : "SHA-256",
        rounds: ShaCrypt.roundsDefault,
        roundsCustom: false,
        salt: ShaCrypt.randomSalt()
      }
      return Effect.map(
        ShaCrypt.digest(utf8.encode(password), setting),
        (digest) => format({ _tag: "ShaCrypt", value: { ...setting, hash: digest } })
      )
    })
  }
  if (scheme === "BLF-CRYPT") return Effect.map(Bcrypt.generate(password), (text) => `{BLF-CRYPT}${text}`)
  const params = options?.params ?? defaultScryptParams
  const scrypt = options?.scrypt ?? nodeScrypt
  return Effect.suspend(() => {
    const salt = new Uint8Array(Crypto.randomBytes(saltLength))
    return Effect.map(
      scrypt(utf8.encode(password), salt, hashLength, params),
      (key) => format({ _tag: "Scrypt", params, salt, hash: key })
    )
  })
}

// Per-process key: PLAIN secrets are compared as HMAC digests so neither the
// comparison time nor a length mismatch says anything about the secret.
const plainKey = Crypto.randomBytes(32)
const digest = (text: string): Buffer => Crypto.createHmac("sha256", plainKey).update(text, "utf8").digest()

const equalKeys = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Crypto.timingSafeEqual(a, b)

// Encoded digests of one scheme have a fixed length, so only the content is compared, in constant time.
const equalText = (a: string, b: string): boolean => equalKeys(Buffer.from(a, "latin1"), Buffer.from(b, "latin1"))

/** Checks a password against a parsed stored value in constant time. An empty password never verifies. */
export const verifyStored = (stored: Stored, password: string, options?: Options): Effect.Effect<boolean> => {
  switch (stored._tag) {
    case "Scrypt": {
      const scrypt = options?.scrypt ?? nodeScrypt
      return Effect.suspend(() =>
        Effect.map(
          scrypt(utf8.encode(password), stored.salt, stored.hash.length, stored.params),
          (key) => equalKeys(key, stored.hash) && password !== ""
        )
      )
    }
    case "Plain":
      return Effect.sync(() =>
        Crypto.timingSafeEqual(digest(Redacted.value(stored.secret)), digest(password)) && password !== ""
      )
    case "Ntlm":
      return Effect.sync(() => equalKeys(ntHash(password), stored.hash) && password !== "")
    case "ShaCrypt":
      return Effect.suspend(() => {
        // An over-long candidate is hashed cut to the limit (same cost) and then refused.
        const bytes = utf8.encode(password)
        const tooLong = bytes.length > ShaCrypt.maxPasswordOctets
        const octets = tooLong ? bytes.subarray(0, ShaCrypt.maxPasswordOctets) : bytes
        const { rounds, salt, variant } = stored.value
        return Effect.map(
          HashThreads.digest(
            { kind: "sha-crypt", password: octets, setting: { rounds, salt, variant } },
            ShaCrypt.digest(octets, stored.value)
          ),
          (digest) => equalText(digest, stored.value.hash) && password !== "" && !tooLong
        )
      })
    case "Bcrypt":
      return Effect.map(
        HashThreads.digest(
          { kind: "bcrypt", password, setting: Bcrypt.settingText(stored.value) },
          Bcrypt.digest(password, stored.value)
        ),
        (digest) => equalText(digest, stored.value.hash) && password !== ""
      )
    case "Disabled":
      return Effect.succeed(false)
  }
}

/** Checks a password against a stored string; an unusable string (see `parse`) gives false. */
export const verify = (stored: string, password: string, options?: Options): Effect.Effect<boolean> => {
  const parsed = parse(stored)
  return Result.isSuccess(parsed) ? verifyStored(parsed.success, password, options) : Effect.succeed(false)
}

/** The NT hash of a password: MD4 of its UTF-16LE encoding (MS-NLMP 3.3.1, NTOWFv1). */
export const ntHash = (password: string): Uint8Array => Md4.digest(Buffer.from(password, "utf16le"))

/** The NT hash a stored value gives NTLM: the `{NTLM}` hash itself, or derived from a `{PLAIN}` password. */
export const ntHashOf = (stored: Stored): Uint8Array | undefined => {
  switch (stored._tag) {
    case "Ntlm":
      return stored.hash
    case "Plain":
      return Redacted.value(stored.secret) === "" ? undefined : ntHash(Redacted.value(stored.secret))
    default:
      return undefined
  }
}

/** Whether checking this value costs a full password hash (scrypt, SHA-crypt, bcrypt). */
export const isCostly = (stored: Stored): boolean =>
  stored._tag === "Scrypt" || stored._tag === "ShaCrypt" || stored._tag === "Bcrypt"

/**
 * What decides a costly value's verify time (scheme and cost parameters), so that the unknown-user stand-in can
 * cost what most accounts cost; undefined for cheap values.
 */
export const costKey = (stored: Stored): string | undefined => {
  switch (stored._tag) {
    case "Scrypt":
      return `SCRYPT ${stored.params.ln},${stored.params.r},${stored.params.p}`
    case "ShaCrypt":
      return `${stored.value.variant} ${stored.value.rounds} ${stored.value.salt.length}`
    case "Bcrypt":
      return `BCRYPT ${stored.value.cost}`
    default:
      return undefined
  }
}

/**
 * A value of the same scheme and cost as `like` that no password matches (fresh random salt and digest);
 * the default-cost scrypt stand-in when `like` is cheap.
 */
export const dummyLike = (like: Stored): Stored => {
  switch (like._tag) {
    case "Scrypt":
      return dummy(like.params)
    case "ShaCrypt":
      return {
        _tag: "ShaCrypt",
        value: {
          ...like.value,
          salt: ShaCrypt.randomSalt(like.value.salt.length),
          hash: ShaCrypt.randomHash(like.value.variant)
        }
      }
    case "Bcrypt":
      return { _tag: "Bcrypt", value: Bcrypt.dummy(like.value.cost, like.value.minor) }
    default:
      return dummy()
  }
}

/** A scrypt value with the given cost that no password matches: the stand-in for unknown users. */
export const dummy = (params: ScryptParams = defaultScryptParams): Stored => ({
  _tag: "Scrypt",
  params,
  salt: new Uint8Array(Crypto.randomBytes(saltLength)),
  hash: new Uint8Array(Crypto.randomBytes(hashLength))
})

/** The scheme name of a stored string as written (upper-cased), `""` for a disabled account. */
export const schemeOf = (stored: string): string => {
  if (stored === "") return ""
  const match = /^\{([A-Za-z0-9._-]{1,32})\}/.exec(stored)
  return match === null ? "?" : match[1]!.toUpperCase()
}
