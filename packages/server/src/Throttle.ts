// Login protection: failed logins slow down further attempts from the same client address and against the same
// account, with an escalating delay like Dovecot's auth penalty (2 → 4 → 8 → 15 s), forgiven step by step after
// quiet periods. The delay is applied before the next attempt is checked, so a client cannot learn a result
// sooner by hanging up early. Successful logins are not slowed: a success clears its address's penalty and marks
// (address, user) as known-good, which skips that account's penalty, so an attack on an account from elsewhere
// does not delay its owner. Unknown users and wrong passwords count the same. State is in memory, bounded
// (oldest entries evicted first) and timed by Effect's Clock; nothing here touches a socket or logs a password.
import { Clock, Context, Duration, Effect, Layer } from "effect"
import { addressKey } from "./Limits.ts"

/** The policy; every field has a default. */
export interface Options {
  /** Delay after the first failure (default 2 s; Dovecot's AUTH_PENALTY_INIT_SECS). */
  readonly initialDelay?: Duration.Input | undefined
  /** Largest delay (default 15 s; Dovecot's AUTH_PENALTY_MAX_SECS). 0 turns the throttle off. */
  readonly maxDelay?: Duration.Input | undefined
  /** Each full quiet period without a failure forgives one step (default 1 minute). */
  readonly decayAfter?: Duration.Input | undefined
  /** Entries kept per table (addresses, accounts, known-good pairs); the oldest go first (default 100000). */
  readonly maxEntries?: number | undefined
  /** IPv6 clients are grouped by this prefix length (default 64: one customer network). */
  readonly ipv6Prefix?: number | undefined
  /** How long a successful login keeps its (address, user) pair known-good (default 1 day). */
  readonly knownGoodFor?: Duration.Input | undefined
}

/** The defaults, for settings and docs. */
export const defaults = {
  initialDelay: Duration.seconds(2),
  maxDelay: Duration.seconds(15),
  decayAfter: Duration.minutes(1),
  maxEntries: 100_000,
  ipv6Prefix: 64,
  knownGoodFor: Duration.days(1)
} as const

/** What the tables hold right now (for tests and metrics). */
export interface Sizes {
  readonly addresses: number
  readonly accounts: number
  readonly knownGood: number
}

/** The throttle service. */
export interface Shape {
  /** How long to wait before checking the next attempt from `address` (for `user`, when it is known). */
  delayFor(address: string, user?: string): Effect.Effect<Duration.Duration>
  /** Sleeps `delayFor(address, user)` on the Clock; returns how long it slept. */
  wait(address: string, user?: string): Effect.Effect<Duration.Duration>
  /** Counts a failed login (wrong password, unknown user, any mechanism) from `address`, against `user` if known. */
  recordFailure(address: string, user?: string): Effect.Effect<void>
  /** Counts a successful login: clears the address's penalty and marks (address, user) known-good. */
  recordSuccess(address: string, user: string): Effect.Effect<void>
  readonly sizes: Effect.Effect<Sizes>
}

/** The throttle service tag. */
export class Throttle extends Context.Service<Throttle, Shape>()("@pop3d/server/Throttle") {}

interface Penalty {
  /** Failure steps, at most the step that reaches the largest delay. */
  steps: number
  /** When the last failure happened (epoch ms). */
  last: number
}

/** Longest user name tracked (longer names are cut, so one entry stays small). */
const maxUserLength = 256

const millis = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input))

/** The delay after `steps` failures: initial × 2^(steps-1), at most `max` (0 for no failures). */
export const delayAfter = (steps: number, initialMs: number, maxMs: number): number =>
  steps <= 0 ? 0 : Math.min(maxMs, initialMs * 2 ** Math.min(steps - 1, 30))

/** Builds the service; its tables live in this value (one per server). */
export const make = (options?: Options): Shape => {
  const initialMs = millis(options?.initialDelay ?? defaults.initialDelay)
  const maxMs = millis(options?.maxDelay ?? defaults.maxDelay)
  const decayMs = Math.max(1, millis(options?.decayAfter ?? defaults.decayAfter))
  const maxEntries = Math.max(1, Math.floor(options?.maxEntries ?? defaults.maxEntries))
  const ipv6Prefix = options?.ipv6Prefix ?? defaults.ipv6Prefix
  const knownGoodMs = millis(options?.knownGoodFor ?? defaults.knownGoodFor)
  const off = maxMs <= 0 || initialMs <= 0
  // The step at which the delay reaches its maximum: more failures do not need counting (Dovecot: 4).
  let maxSteps = 1
  while (delayAfter(maxSteps, initialMs, maxMs) < maxMs && maxSteps < 32) maxSteps++

  // Maps iterate in insertion order and every update re-inserts, so the first key is the least recently touched.
  const addresses = new Map<string, Penalty>()
  const accounts = new Map<string, Penalty>()
  const knownGood = new Map<string, number>() // (address, user) → expiry

  const addressOf = (address: string) => addressKey(address, ipv6Prefix)
  const accountOf = (user: string) => user.slice(0, maxUserLength)
  const pairOf = (address: string, user: string) => `${addressOf(address)}\u0000${accountOf(user)}`

  /** Steps left after forgiving one per full quiet period. */
  const stepsNow = (p: Penalty, now: number) => p.steps - Math.floor(Math.max(0, now - p.last) / decayMs)

  const current = (table: Map<string, Penalty>, key: string, now: number): number => {
    const p = table.get(key)
    if (p === undefined) return 0
    const steps = stepsNow(p, now)
    if (steps <= 0) table.delete(key)
    return Math.max(0, steps)
  }

  const isKnownGood = (pair: string, now: number): boolean => {
    const until = knownGood.get(pair)
    if (until === undefined) return false
    if (until > now) return true
    knownGood.delete(pair)
    return false
  }

  // Drops forgiven entries from the old end, then the oldest while over the bound.
  const trim = (table: Map<string, Penalty>, now: number) => {
    for (const [key, p] of table) {
      if (stepsNow(p, now) > 0) break
      table.delete(key)
    }
    while (table.size > maxEntries) table.delete(table.keys().next().value!)
  }

  const fail = (table: Map<string, Penalty>, key: string, now: number) => {
    const steps = Math.min(maxSteps, current(table, key, now) + 1)
    table.delete(key)
    table.set(key, { steps, last: now })
    trim(table, now)
  }

  const delayFor = (address: string, user?: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      if (off) return Duration.zero
      let steps = current(addresses, addressOf(address), now)
      if (user !== undefined && !isKnownGood(pairOf(address, user), now)) {
        steps = Math.max(steps, current(accounts, accountOf(user), now))
      }
      return Duration.millis(delayAfter(steps, initialMs, maxMs))
    })

  const recordFailure = (address: string, user?: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      if (off) return
      fail(addresses, addressOf(address), now)
      if (user !== undefined) fail(accounts, accountOf(user), now)
    })

  const recordSuccess = (address: string, user: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      if (off) return
      addresses.delete(addressOf(address))
      // The account's own penalty stays: the owner logging in must not reopen the account to an attacker.
      const pair = pairOf(address, user)
      knownGood.delete(pair)
      knownGood.set(pair, now + knownGoodMs)
      for (const [key, until] of knownGood) {
        if (until > now && knownGood.size <= maxEntries) break
        knownGood.delete(key)
      }
    })

  return {
    delayFor,
    wait: (address, user) =>
      Effect.flatMap(delayFor(address, user), (d) => Duration.isZero(d) ? Effect.succeed(d) : Effect.as(Effect.sleep(d), d)),
    recordFailure,
    recordSuccess,
    sizes: Effect.sync(() => ({ addresses: addresses.size, accounts: accounts.size, knownGood: knownGood.size }))
  }
}

/** A throttle that never delays (for tests and `maxDelay: 0`). */
export const disabled: Shape = make({ maxDelay: 0 })

/** The throttle as a layer (one set of tables for everything that uses it). */
export const layer = (options?: Options): Layer.Layer<Throttle> => Layer.sync(Throttle, () => make(options))
