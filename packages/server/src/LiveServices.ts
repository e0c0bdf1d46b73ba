// The services `pop3d serve` runs with, built so that a reload can change them in place: the users-file directory
// (re-read on every reload, so a SIGHUP forces it; users-file and auth-cache-* take effect), the login throttle
// (login-delay-*; new values start with empty penalty tables) and the connection limits (max-connections*,
// max-sessions-per-user: the counts carry over, only the maxima change). Each reads the live settings; none of them
// changes behaviour between reloads.
import { Duration, Effect, Layer } from "effect"
import { Directory, UsersFile } from "@pop3d/auth"
import * as Limits from "./Limits.ts"
import { LiveSettings } from "./LiveSettings.ts"
import { increment, metrics } from "./Metrics.ts"
import type { Settings } from "./Settings.ts"
import * as Throttle from "./Throttle.ts"

const directoryOptions = (s: Settings): UsersFile.LayerOptions => ({
  path: s.usersFile,
  authCache: { maxEntries: s.authCacheSize, ttl: Duration.seconds(s.authCacheTtl) }
})

/** The users-file directory, re-read at each reload; a file that cannot be read keeps the previous users. */
export const directory: Layer.Layer<Directory.Directory, UsersFile.UsersFileError, LiveSettings> = Layer.effect(
  Directory.Directory
)(Effect.gen(function*() {
  const live = yield* LiveSettings
  let current = yield* UsersFile.make(directoryOptions(live.now().settings))
  yield* live.onReload((next) =>
    Effect.gen(function*() {
      const options = directoryOptions(next.settings)
      const rebuilt = yield* Effect.result(UsersFile.make(options))
      if (rebuilt._tag === "Failure") {
        yield* Effect.logWarning("users file not reloaded, keeping the previous users").pipe(Effect.annotateLogs({
          path: options.path,
          error: rebuilt.failure.message
        }))
        return
      }
      current = rebuilt.success
      yield* Effect.logInfo("users file reloaded").pipe(Effect.annotateLogs({ path: options.path }))
    })
  )
  return {
    ...current,
    verify: (user, password) => Effect.suspend(() => current.verify(user, password)),
    lookup: (user) => Effect.suspend(() => current.lookup(user))
  }
}))

const throttleOptions = (s: Settings): Throttle.Options => ({
  initialDelay: Duration.seconds(s.loginDelay),
  maxDelay: Duration.seconds(s.loginDelayMax),
  decayAfter: Duration.seconds(s.loginDelayDecay)
})

const throttleKey = (s: Settings) => `${s.loginDelay}/${s.loginDelayMax}/${s.loginDelayDecay}`

/** The failed-login throttle, counting the logins it delays (`pop3d_throttled_logins_total`). */
export const throttle: Layer.Layer<Throttle.Throttle, never, LiveSettings> = Layer.effect(Throttle.Throttle)(
  Effect.gen(function*() {
    const live = yield* LiveSettings
    let key = throttleKey(live.now().settings)
    let current = Throttle.make(throttleOptions(live.now().settings))
    yield* live.onReload((next) =>
      Effect.suspend(() => {
        const nextKey = throttleKey(next.settings)
        if (nextKey === key) return Effect.void
        key = nextKey
        current = Throttle.make(throttleOptions(next.settings))
        return Effect.logInfo("login throttle changed: failed-login penalties start afresh")
      })
    )
    const throttled = metrics.throttledLogins.get()
    return {
      ...current,
      delayFor: (address, user) => Effect.suspend(() => current.delayFor(address, user)),
      wait: (address, user) =>
        Effect.suspend(() => current.wait(address, user)).pipe(
          Effect.tap((d) => (Duration.isZero(d) ? Effect.void : increment(throttled)))
        ),
      recordFailure: (address, user) => Effect.suspend(() => current.recordFailure(address, user)),
      recordSuccess: (address, user) => Effect.suspend(() => current.recordSuccess(address, user)),
      sizes: Effect.suspend(() => current.sizes)
    }
  })
)

const limited = (max: number) => max > 0 && Number.isFinite(max)

const refuse = (reason: Limits.LimitExceeded["reason"]) =>
  Effect.fail(new Limits.LimitExceeded({ reason, message: Limits.texts[reason] }))

/**
 * The connection limits with maxima read from the live settings at each check. The counting is Limits.make's
 * (built without maxima); the checks are here, so a reload changes the maxima without losing the counts.
 */
export const limits: Layer.Layer<Limits.Limits, never, LiveSettings> = Layer.effect(Limits.Limits)(
  Effect.gen(function*() {
    const live = yield* LiveSettings
    const counts = Limits.make({ maxConnections: 0, maxConnectionsPerAddress: 0, maxSessionsPerUser: 0 })
    return {
      ...counts,
      connection: (address) =>
        Effect.gen(function*() {
          const s = live.now().settings
          if (limited(s.maxConnections) && (yield* counts.counts).connections >= s.maxConnections) {
            return yield* refuse("Connections")
          }
          if (limited(s.maxConnectionsPerAddress) && (yield* counts.connectionsFrom(address)) >= s.maxConnectionsPerAddress) {
            return yield* refuse("ConnectionsFromAddress")
          }
          yield* counts.connection(address)
        }),
      session: (user) =>
        Effect.gen(function*() {
          const s = live.now().settings
          if (limited(s.maxSessionsPerUser) && (yield* counts.sessionsOf(user)) >= s.maxSessionsPerUser) {
            return yield* refuse("SessionsForUser")
          }
          yield* counts.session(user)
        })
    }
  })
)
