/**
 * The `Directory` service: who exists and how their secrets are stored, and
 * the one place a user name and password are checked. A wrong user and a
 * wrong password must cost the same and answer the same (None), so every
 * check runs one full hash (the scheme and cost most accounts use, for unknown
 * users). Successes are remembered by the `AuthCache` (only a right password
 * can hit it, and only while the stored string is unchanged). Never logs, or puts into an error, a password
 * or a stored secret; problems with stored entries are logged once per load.
 */
import { Context, Effect, Layer, Option, Redacted, Result } from "effect"
import * as AuthCache from "./AuthCache.ts"
import * as PasswordScheme from "./PasswordScheme.ts"
import type { UserQuota } from "./QuotaRule.ts"

/** One account as the directory knows it. */
export interface UserRecord {
  /** The login name. */
  readonly name: string
  /** The mailbox a successful login opens (today: the login name). */
  readonly mailbox: string
  /** The stored `{SCHEME}secret` string, for mechanisms that need stored secrets. */
  readonly password: Redacted.Redacted<string>
  /**
   * The NT hash AUTH NTLM checks against (MD4 of the UTF-16LE password), when the
   * account has one: the users file's `nt_hash={NTLM}…` field, or derived from a
   * `{NTLM}` or `{PLAIN}` password. Absent for disabled or unusable accounts.
   */
  readonly ntHash?: Redacted.Redacted<Uint8Array> | undefined
  /** The user's own quota limits (users file: `quota_rule=*:storage=…`), when it has any; else the default applies. */
  readonly quota?: UserQuota | undefined
}

/** The identity service: checks passwords and looks up accounts. */
export class Directory extends Context.Service<Directory, {
  /** Some(mailbox) when the password is right, None otherwise; same cost and answer for unknown users. */
  verify(user: string, password: string): Effect.Effect<Option.Option<string>>
  /** The account record, for mechanisms that need stored secrets. */
  lookup(user: string): Effect.Effect<Option.Option<UserRecord>>
}>()("@pop3d/auth/Directory") {}

/** A user's record with its stored string parsed once, at load. */
export interface Entry {
  readonly record: UserRecord
  readonly secret: Result.Result<PasswordScheme.Stored, PasswordScheme.PasswordSchemeError>
  /** Why a stored NT hash cannot be used (the account still logs in by other mechanisms). */
  readonly ntHashError?: PasswordScheme.PasswordSchemeError | undefined
}

/** An immutable view of all accounts, replaced as a whole when the source changes. */
export interface Snapshot {
  readonly users: ReadonlyMap<string, Entry>
  /** What unknown users are checked against: the scheme and cost most entries use (default-cost scrypt if none). */
  readonly dummy: PasswordScheme.Stored
}

/** Options for `make` and the layers. */
export interface Options {
  /** scrypt implementation (default Node's); tests inject a counting one. */
  readonly scrypt?: PasswordScheme.ScryptFn | undefined
  /** Size and lifetime of the cache of successful checks (default 10000 entries, 1 hour; maxEntries 0 = off). */
  readonly authCache?: AuthCache.Options | undefined
}

/**
 * The NT hash for an entry: none when the main password is disabled or unusable;
 * else the separately stored `{NTLM}` string if given; else derived from the main one.
 */
const ntHashFor = (
  secret: Result.Result<PasswordScheme.Stored, PasswordScheme.PasswordSchemeError>,
  storedNtHash: string | undefined
): { readonly hash?: Uint8Array | undefined; readonly error?: PasswordScheme.PasswordSchemeError | undefined } => {
  if (Result.isFailure(secret) || secret.success._tag === "Disabled") return {}
  if (storedNtHash === undefined) return { hash: PasswordScheme.ntHashOf(secret.success) }
  const parsed = PasswordScheme.parse(storedNtHash)
  if (Result.isFailure(parsed)) return { error: parsed.failure }
  if (parsed.success._tag !== "Ntlm") {
    return {
      error: new PasswordScheme.PasswordSchemeError({
        reason: "UnknownScheme",
        scheme: PasswordScheme.schemeOf(storedNtHash),
        message: "nt_hash must be an {NTLM} value"
      })
    }
  }
  return { hash: parsed.success.hash }
}

/**
 * Builds a snapshot from (name, stored string, optional stored `{NTLM}` NT hash)
 * tuples; the first of two equal names wins.
 */
export const snapshot = (
  users: Iterable<
    readonly [name: string, stored: string, ntHash?: string | undefined, quota?: UserQuota | undefined]
  >
): Snapshot => {
  const map = new Map<string, Entry>()
  const costs = new Map<string, { sample: PasswordScheme.Stored; count: number }>()
  for (const [name, stored, storedNtHash, quota] of users) {
    if (map.has(name)) continue
    const secret = PasswordScheme.parse(stored)
    const nt = ntHashFor(secret, storedNtHash)
    map.set(name, {
      record: {
        name,
        mailbox: name,
        password: Redacted.make(stored),
        ...(nt.hash === undefined ? {} : { ntHash: Redacted.make(nt.hash) }),
        ...(quota === undefined ? {} : { quota })
      },
      secret,
      ...(nt.error === undefined ? {} : { ntHashError: nt.error })
    })
    const key = Result.isSuccess(secret) ? PasswordScheme.costKey(secret.success) : undefined
    if (key !== undefined && Result.isSuccess(secret)) {
      const seen = costs.get(key)
      costs.set(key, { sample: seen?.sample ?? secret.success, count: (seen?.count ?? 0) + 1 })
    }
  }
  let common: PasswordScheme.Stored | undefined
  let best = 0
  for (const { count, sample } of costs.values()) {
    if (count > best) {
      best = count
      common = sample
    }
  }
  return { users: map, dummy: common === undefined ? PasswordScheme.dummy() : PasswordScheme.dummyLike(common) }
}

/** Logs one warning per entry whose stored string cannot be used (user and scheme named, never the secret). */
export const logUnusable = (snap: Snapshot, source: string): Effect.Effect<void> =>
  Effect.forEach(snap.users.values(), (entry) =>
    Result.isFailure(entry.secret)
      ? Effect.logWarning(`${source}: user ${JSON.stringify(entry.record.name)} cannot log in: ${entry.secret.failure.message}`)
      : entry.ntHashError !== undefined
      ? Effect.logWarning(
        `${source}: user ${JSON.stringify(entry.record.name)} cannot use NTLM: ${entry.ntHashError.message}`
      )
      : Effect.void, { discard: true })

/**
 * The service over a snapshot source. `current` is run on every call, so a
 * source that reloads (the users file) takes effect on the next login. `cache`
 * defaults to a fresh one sized by `options.authCache`; a source that reloads
 * passes its own so that it can empty it.
 */
export const make = (
  current: Effect.Effect<Snapshot>,
  options?: Options,
  cache: AuthCache.AuthCache = AuthCache.make(options?.authCache)
): Directory["Service"] => {
  const schemeOptions: PasswordScheme.Options = { scrypt: options?.scrypt }
  const verify = Effect.fn("Directory.verify")(function*(user: string, password: string) {
    const snap = yield* current
    const entry = snap.users.get(user)
    const secret = entry !== undefined && Result.isSuccess(entry.secret) ? entry.secret.success : undefined
    const stored = entry !== undefined && secret !== undefined ? Redacted.value(entry.record.password) : ""
    // A hit means this very password verified against this very stored string before: skip the hash.
    if (yield* cache.check(user, password, stored)) return Option.some(entry!.record.mailbox)
    let ok = false
    if (secret !== undefined && PasswordScheme.isCostly(secret)) {
      ok = yield* PasswordScheme.verifyStored(secret, password, schemeOptions)
    } else {
      // Unknown user, disabled or unusable entry, or a cheap scheme: pay for one
      // full hash anyway so that timing does not tell these cases apart.
      yield* PasswordScheme.verifyStored(snap.dummy, password, schemeOptions)
      if (secret !== undefined) ok = yield* PasswordScheme.verifyStored(secret, password, schemeOptions)
    }
    if (!ok || entry === undefined) return Option.none<string>()
    yield* cache.remember(user, password, stored)
    return Option.some(entry.record.mailbox)
  })
  const lookup = (user: string) =>
    Effect.map(current, (snap) => Option.fromNullishOr(snap.users.get(user)?.record))
  return Directory.of({ verify, lookup })
}

/** A memory-directory account with an NT hash stored beside its password. */
export interface MemoryUser {
  /** The stored `{SCHEME}secret` string. */
  readonly password: string
  /** The stored `{NTLM}<hex>` NT hash. */
  readonly ntHash?: string | undefined
}

/**
 * A fixed directory for tests: user name → stored `{SCHEME}secret` string (e.g.
 * `"{PLAIN}pw"`), or a `MemoryUser` with an NT hash beside it.
 */
export const layerMemory = (users: Record<string, string | MemoryUser>, options?: Options): Layer.Layer<Directory> =>
  Layer.effect(
    Directory,
    Effect.gen(function*() {
      const snap = snapshot(
        Object.entries(users).map(([name, user]) =>
          typeof user === "string" ? [name, user] as const : [name, user.password, user.ntHash] as const
        )
      )
      yield* logUnusable(snap, "memory directory")
      return make(Effect.succeed(snap), options)
    })
  )
