/**
 * The `Directory` service: who exists and how their secrets are stored, and
 * the one place a user name and password are checked. A wrong user and a
 * wrong password must cost the same and answer the same (None), so every
 * check runs one full scrypt. Never logs, or puts into an error, a password
 * or a stored secret; problems with stored entries are logged once per load.
 */
import { Context, Effect, Layer, Option, Redacted, Result } from "effect"
import * as PasswordScheme from "./PasswordScheme.ts"

/** One account as the directory knows it. */
export interface UserRecord {
  /** The login name. */
  readonly name: string
  /** The mailbox a successful login opens (today: the login name). */
  readonly mailbox: string
  /** The stored `{SCHEME}secret` string, for mechanisms that need stored secrets. */
  readonly password: Redacted.Redacted<string>
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
}

/** An immutable view of all accounts, replaced as a whole when the source changes. */
export interface Snapshot {
  readonly users: ReadonlyMap<string, Entry>
  /** What unknown users are checked against: scrypt with the cost most entries use. */
  readonly dummy: PasswordScheme.Stored
}

/** Options for `make` and the layers. */
export interface Options {
  /** scrypt implementation (default Node's); tests inject a counting one. */
  readonly scrypt?: PasswordScheme.ScryptFn | undefined
}

const paramsKey = (p: PasswordScheme.ScryptParams) => `${p.ln},${p.r},${p.p}`

/** Builds a snapshot from (name, stored string) pairs; the first of two equal names wins. */
export const snapshot = (users: Iterable<readonly [name: string, stored: string]>): Snapshot => {
  const map = new Map<string, Entry>()
  const costs = new Map<string, { params: PasswordScheme.ScryptParams; count: number }>()
  for (const [name, stored] of users) {
    if (map.has(name)) continue
    const secret = PasswordScheme.parse(stored)
    map.set(name, { record: { name, mailbox: name, password: Redacted.make(stored) }, secret })
    if (Result.isSuccess(secret) && secret.success._tag === "Scrypt") {
      const key = paramsKey(secret.success.params)
      const seen = costs.get(key)
      costs.set(key, { params: secret.success.params, count: (seen?.count ?? 0) + 1 })
    }
  }
  let common: PasswordScheme.ScryptParams = PasswordScheme.defaultScryptParams
  let best = 0
  for (const { count, params } of costs.values()) {
    if (count > best) {
      best = count
      common = params
    }
  }
  return { users: map, dummy: PasswordScheme.dummy(common) }
}

/** Logs one warning per entry whose stored string cannot be used (user and scheme named, never the secret). */
export const logUnusable = (snap: Snapshot, source: string): Effect.Effect<void> =>
  Effect.forEach(snap.users.values(), (entry) =>
    Result.isFailure(entry.secret)
      ? Effect.logWarning(`${source}: user ${JSON.stringify(entry.record.name)} cannot log in: ${entry.secret.failure.message}`)
      : Effect.void, { discard: true })

/**
 * The service over a snapshot source. `current` is run on every call, so a
 * source that reloads (the users file) takes effect on the next login.
 */
export const make = (current: Effect.Effect<Snapshot>, options?: Options): Directory["Service"] => {
  const schemeOptions: PasswordScheme.Options = { scrypt: options?.scrypt }
  const verify = Effect.fn("Directory.verify")(function*(user: string, password: string) {
    const snap = yield* current
    const entry = snap.users.get(user)
    const secret = entry !== undefined && Result.isSuccess(entry.secret) ? entry.secret.success : undefined
    let ok = false
    if (secret !== undefined && secret._tag === "Scrypt") {
      ok = yield* PasswordScheme.verifyStored(secret, password, schemeOptions)
    } else {
      // Unknown user, disabled or unusable entry, or a cheap scheme: pay for one
      // scrypt anyway so that timing does not tell these cases apart.
      yield* PasswordScheme.verifyStored(snap.dummy, password, schemeOptions)
      if (secret !== undefined) ok = yield* PasswordScheme.verifyStored(secret, password, schemeOptions)
    }
    return ok && entry !== undefined ? Option.some(entry.record.mailbox) : Option.none<string>()
  })
  const lookup = (user: string) =>
    Effect.map(current, (snap) => Option.fromNullishOr(snap.users.get(user)?.record))
  return Directory.of({ verify, lookup })
}

/** A fixed directory for tests: user name → stored `{SCHEME}secret` string (e.g. `"{PLAIN}pw"`). */
export const layerMemory = (users: Record<string, string>, options?: Options): Layer.Layer<Directory> =>
  Layer.effect(
    Directory,
    Effect.gen(function*() {
      const snap = snapshot(Object.entries(users))
      yield* logUnusable(snap, "memory directory")
      return make(Effect.succeed(snap), options)
    })
  )
