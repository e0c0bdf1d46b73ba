/**
 * The Maildir store's quota steps, each run under the mailbox lock: admit a delivery (or refuse it `OverQuota`),
 * record a delivery or a removal in `maildirsize`, and decide when the one warning per threshold crossing is due.
 * The "warned" state is the file `pop3d-quota-warned` in the Maildir: created (O_EXCL) by the delivery that crosses
 * the threshold, so that only one process ever sends the warning, and removed once usage is back under it, which
 * re-arms the warning. Nothing here writes a message; the store delivers the warning.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Clock, Effect } from "effect"
import { type MailboxError, overQuota } from "../Mailbox.ts"
import * as Maildirsize from "../Maildirsize.ts"
import * as Quota from "../Quota.ts"
import * as Files from "./files.ts"

/** The file whose presence means: the warning was given and usage has not gone back under the threshold since. */
export const warnedFileName = "pop3d-quota-warned"

/** What a delivery learned before it was linked: the mailbox's limits and its usage (if the quota is kept). */
export interface Admitted {
  readonly limit: Quota.Limit
  readonly usage: Quota.Usage | undefined
}

/** Before linking a delivery of `size` octets: the limits and usage; fails `OverQuota` when it does not fit. */
export const admit = (
  home: string,
  user: string,
  size: number,
  policy: Quota.Policy,
  enforce: boolean
): Effect.Effect<Admitted, MailboxError> =>
  Effect.gen(function*() {
    const limit = yield* policy.limit(user)
    const usage = (yield* Maildirsize.current(home, limit))?.usage
    if (enforce && usage !== undefined && Quota.isLimited(limit)) {
      const verdict = Quota.fits(usage, size, limit)
      if (verdict !== "Fits") return yield* overQuota(user, size, usage, limit, verdict)
    }
    return { limit, usage }
  })

const rearm = (home: string) =>
  Files.unlinkIfPresent(Path.join(home, warnedFileName)).pipe(
    Effect.mapError(Files.toMailboxError("re-arm the quota warning"))
  )

/** Creates the warned file; true for the one caller that created it. */
const claim = (home: string, threshold: number) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.catchIf(
      Effect.acquireUseRelease(
        Files.attempt(() => Fs.open(Path.join(home, warnedFileName), "wx", 0o600)),
        (handle) => Effect.as(Files.attempt(() => handle.writeFile(`${threshold} ${now}\n`)), true),
        (handle) => Effect.promise(() => handle.close().catch(() => undefined))
      ),
      (e) => Files.isCode(e, "EEXIST"),
      () => Effect.succeed(false)
    )
  }).pipe(Effect.mapError(Files.toMailboxError("record the quota warning")))

/**
 * After a delivery was linked: records it in `maildirsize`, and returns the warning to give when this delivery took
 * the mailbox to the threshold and no warning is pending (only with `warn`; the warning message itself passes
 * `false`). Below the threshold it re-arms the warning.
 */
export const delivered = (
  home: string,
  user: string,
  size: number,
  admitted: Admitted,
  policy: Quota.Policy,
  warn: boolean
): Effect.Effect<Quota.WarningInfo | undefined, MailboxError> =>
  Effect.gen(function*() {
    yield* Maildirsize.append(home, { storage: size, messages: 1 })
    if (admitted.usage === undefined || !Quota.isLimited(admitted.limit)) return undefined
    const usage = Quota.add(admitted.usage, { storage: size, messages: 1 })
    if (!Quota.reached(usage, admitted.limit, policy.warningPercent)) {
      yield* rearm(home)
      return undefined
    }
    if (!warn || !(yield* claim(home, policy.warningPercent))) return undefined
    return {
      user,
      threshold: policy.warningPercent,
      percent: Quota.percent(usage, admitted.limit),
      usage,
      limit: admitted.limit
    }
  })

/** After removing messages of `freed` octets and count: records it, and re-arms the warning once below threshold. */
export const removed = (
  home: string,
  user: string,
  freed: Quota.Usage,
  policy: Quota.Policy
): Effect.Effect<void, MailboxError> =>
  Effect.gen(function*() {
    yield* Maildirsize.append(home, { storage: -freed.storage, messages: -freed.messages })
    const limit = yield* policy.limit(user)
    const now = yield* Maildirsize.current(home, limit)
    if (now !== undefined && !Quota.reached(now.usage, limit, policy.warningPercent)) yield* rearm(home)
  })
