// The minimum interval between logins of one user (RFC 2449 LOGIN-DELAY, setting `login-interval`): remembers when
// each user last logged in, on Effect's Clock, and admits a login only when the interval has passed since. A login
// that is admitted but then fails (mailbox unavailable, too many sessions) is taken back. It decides; the session
// answers `-ERR [LOGIN-DELAY]`. State is in memory, bounded (the least recently used users go first).
import { Clock, Context, Effect } from "effect"

/** The outcome of asking to log in. */
export type Admission =
  | {
    readonly _tag: "Admitted"
    /** Takes the login back (it did not happen after all). */
    readonly undo: Effect.Effect<void>
  }
  | { readonly _tag: "TooSoon"; /** Milliseconds until the interval has passed. */ readonly waitMs: number }

/** The service. */
export interface Shape {
  /** Admits a login of `user` and records it now, unless the previous one was less than `intervalMs` ago. */
  admit(user: string, intervalMs: number): Effect.Effect<Admission>
}

/** Users remembered at most (the least recently used are forgotten first). */
export const maxEntries = 100_000

/** Builds an empty history. */
export const make = (): Shape => {
  const last = new Map<string, number>()
  return {
    admit: (user, intervalMs) =>
      Effect.map(Clock.currentTimeMillis, (now): Admission => {
        const previous = last.get(user)
        if (previous !== undefined && now - previous < intervalMs) {
          return { _tag: "TooSoon", waitMs: intervalMs - (now - previous) }
        }
        last.delete(user)
        last.set(user, now)
        while (last.size > maxEntries) last.delete(last.keys().next().value!)
        return {
          _tag: "Admitted",
          undo: Effect.sync(() => {
            if (last.get(user) !== now) return
            last.delete(user)
            if (previous !== undefined) last.set(user, previous)
          })
        }
      })
  }
}

/**
 * The login history of this process. A reference with a default, so the session finds one without it being
 * provided; tests provide a fresh one (`Effect.provideService(LoginInterval, make())`).
 */
export const LoginInterval: Context.Reference<Shape> = Context.Reference<Shape>("@pop3d/server/LoginInterval", {
  defaultValue: make
})
