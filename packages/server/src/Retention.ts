// The retention sweep (PROFILE E0005): a background fiber that, every `retention-sweep-interval` seconds on Effect's
// Clock, removes from every mailbox the messages older than `retention-days` (retrieved ones: older than
// `retention-retrieved-days`). A mailbox with a session open on this server is skipped: that session's snapshot
// stays whole, and the messages go at the first sweep after it ends (they are gone at the next login after that).
// It only asks the store (`Mailbox.expire`); it never touches files or sessions itself.
import { Clock, Duration, Effect, Schedule } from "effect"
import { Mailbox, Retention } from "@pop3d/mailbox"
import * as Limits from "./Limits.ts"
import type { Settings } from "./Settings.ts"

/** The policy: ages in days (0 = keep forever; retrieved 0 = the same as `days`) and the sweep interval. */
export interface Options {
  readonly days: number
  readonly retrievedDays: number
  /** Seconds between the end of one sweep and the start of the next. */
  readonly interval: number
}

/** The policy the settings give. */
export const fromSettings = (settings: Settings): Options => ({
  days: settings.retentionDays,
  retrievedDays: settings.retentionRetrievedDays,
  interval: settings.retentionSweepInterval
})

/** Whether the policy removes anything at all. */
export const isOn = (options: Options): boolean => options.days > 0 || options.retrievedDays > 0

/** CAPA's `EXPIRE` argument (RFC 2449 6.7): the smallest number of days any message is kept, or `NEVER`. */
export const expireCapability = (options: Pick<Options, "days" | "retrievedDays">): string =>
  String(Retention.minimumDays(options.days, options.retrievedDays))

/** What one sweep did. */
export interface Sweep {
  readonly mailboxes: number
  /** Mailboxes skipped because a session had them open. */
  readonly skipped: number
  readonly removed: number
  /** Mailboxes the store failed on (logged; the next sweep tries again). */
  readonly failed: number
}

/** Sweeps every mailbox once, at the Clock's time now. */
export const sweep = (options: Options): Effect.Effect<Sweep, never, Mailbox.Mailbox | Limits.Limits> =>
  Effect.gen(function*() {
    const store = yield* Mailbox.Mailbox
    const limits = yield* Limits.Limits
    const cutoffs = Retention.cutoffs(yield* Clock.currentTimeMillis, options.days, options.retrievedDays)
    const result = { mailboxes: 0, skipped: 0, removed: 0, failed: 0 }
    const listed = yield* Effect.result(store.mailboxes)
    if (listed._tag === "Failure") {
      yield* Effect.logWarning("retention: cannot list the mailboxes", { error: listed.failure.message })
      return { ...result, failed: 1 }
    }
    for (const user of listed.success) {
      result.mailboxes++
      if ((yield* limits.sessionsOf(user)) > 0) {
        result.skipped++
        yield* Effect.logDebug("retention: mailbox skipped, a session has it open").pipe(Effect.annotateLogs({ user }))
        continue
      }
      const expired = yield* Effect.result(store.expire(user, cutoffs))
      if (expired._tag === "Failure") {
        result.failed++
        yield* Effect.logWarning("retention: sweep failed for a mailbox").pipe(
          Effect.annotateLogs({ user, error: expired.failure.message })
        )
      } else if (expired.success.removed > 0) {
        result.removed += expired.success.removed
        yield* Effect.logInfo("retention: expired messages removed").pipe(
          Effect.annotateLogs({ user, removed: expired.success.removed })
        )
      }
    }
    return result
  })

/** Sweeps now and then every `interval` seconds, forever (fork it in the server's scope; interruption stops it). */
export const run = (options: Options): Effect.Effect<never, never, Mailbox.Mailbox | Limits.Limits> =>
  sweep(options).pipe(
    Effect.repeat(Schedule.spaced(Duration.seconds(options.interval))),
    Effect.andThen(Effect.never)
  )

/** Starts the sweep in the current scope when the settings turn retention on; logs the policy. */
export const start = (settings: Settings) =>
  Effect.gen(function*() {
    const options = fromSettings(settings)
    if (!isOn(options)) return
    yield* Effect.logInfo("retention on").pipe(Effect.annotateLogs({
      days: options.days,
      retrievedDays: options.retrievedDays === 0 ? options.days : options.retrievedDays,
      sweepEvery: `${options.interval}s`
    }))
    yield* Effect.forkScoped(run(options))
  })
