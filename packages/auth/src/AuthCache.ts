/**
 * The authentication cache (like Dovecot's auth_cache): remembers recent successful password checks so a
 * client polling every minute does not cost a full hash each time. It only ever remembers successes, keyed by
 * user and an HMAC of the password under a per-process random key, together with the stored string the
 * password was verified against: a hit counts only while the user's stored string is still exactly that one,
 * so a wrong password, a changed password or a removed account never hits. Failures are not cached, so a
 * wrong password and an unknown user still cost one full hash each. Never holds or logs a password.
 */
import * as Crypto from "node:crypto"
import { Clock, Duration, Effect } from "effect"

/** Size and lifetime of the cache. */
export interface Options {
  /** Entries kept, least recently used evicted first (default 10000; 0 turns the cache off). */
  readonly maxEntries?: number | undefined
  /** How long a success is remembered, counted from the check that verified it (default 1 hour). */
  readonly ttl?: Duration.Input | undefined
}

/** Default number of entries. */
export const defaultMaxEntries = 10_000

/** Default lifetime of an entry. */
export const defaultTtl: Duration.Duration = Duration.hours(1)

/** The cache. All operations are cheap (one HMAC, one map operation) and take the time from `Clock`. */
export interface AuthCache {
  /** Whether `password` was verified for `user` against exactly `stored`, within the lifetime. */
  check(user: string, password: string, stored: string): Effect.Effect<boolean>
  /** Remembers that `password` verified for `user` against `stored`. */
  remember(user: string, password: string, stored: string): Effect.Effect<void>
  /** Forgets everything (the users file changed). */
  readonly clear: Effect.Effect<void>
  /** Entries currently held (expired ones included until they are touched or evicted). */
  readonly size: Effect.Effect<number>
}

interface Entry {
  readonly stored: string
  readonly expiresAt: number
}

/** A fresh cache with its own random HMAC key. */
export const make = (options?: Options): AuthCache => {
  const maxEntries = Math.max(0, Math.floor(options?.maxEntries ?? defaultMaxEntries))
  const ttl = Duration.toMillis(Duration.fromInputUnsafe(options?.ttl ?? defaultTtl))
  const key = Crypto.randomBytes(32)
  // Map iteration order is insertion order: re-inserting on a hit makes the first key the least recently used.
  const entries = new Map<string, Entry>()

  // The user is length-prefixed so that no (user, password) pair can collide with another by shifting characters.
  const keyOf = (user: string, password: string): string =>
    Crypto.createHmac("sha256", key).update(`${user.length}:${user}\u0000`, "utf8").update(password, "utf8")
      .digest("base64")

  const check = (user: string, password: string, stored: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      // The HMAC is computed even when the cache is off or the user unknown, so a check costs the same for all.
      const id = keyOf(user, password)
      const entry = entries.get(id)
      if (entry === undefined) return false
      entries.delete(id)
      if (entry.expiresAt <= now || entry.stored !== stored || stored === "") return false
      entries.set(id, entry)
      return true
    })

  const remember = (user: string, password: string, stored: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      if (maxEntries === 0 || stored === "" || password === "") return
      const id = keyOf(user, password)
      entries.delete(id)
      entries.set(id, { stored, expiresAt: now + ttl })
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next()
        if (oldest.done === true) break
        entries.delete(oldest.value)
      }
    })

  return {
    check,
    remember,
    clear: Effect.sync(() => entries.clear()),
    size: Effect.sync(() => entries.size)
  }
}

/** A cache that never remembers anything (`maxEntries: 0`). */
export const disabled = (): AuthCache => make({ maxEntries: 0 })
