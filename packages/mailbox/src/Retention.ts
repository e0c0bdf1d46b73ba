/**
 * Retention (PROFILE E0005) as values: which messages an expiry run removes, given when each was delivered and
 * whether some session has retrieved it. The server's sweep turns its settings into a `Cutoffs` with the clock;
 * the stores apply it. Nothing here reads a clock or a file.
 */

/** Times (epoch milliseconds) before which messages are removed; an absent field removes nothing by that rule. */
export interface Cutoffs {
  /** Every message delivered before this is removed. */
  readonly deliveredBefore?: number | undefined
  /** A message already retrieved (RETR) and delivered before this is removed. */
  readonly retrievedBefore?: number | undefined
}

/** What retention knows about one message. */
export interface Aged {
  /** When it was delivered (epoch milliseconds; the Maildir file's modification time). */
  readonly delivered: number
  /** Whether some session has retrieved it (Maildir: the `S` flag). */
  readonly retrieved: boolean
}

/** Whether `cutoffs` remove this message. */
export const isExpired = (message: Aged, cutoffs: Cutoffs): boolean =>
  (cutoffs.deliveredBefore !== undefined && message.delivered < cutoffs.deliveredBefore) ||
  (message.retrieved && cutoffs.retrievedBefore !== undefined && message.delivered < cutoffs.retrievedBefore)

/** True when the cutoffs can remove anything at all. */
export const isActive = (cutoffs: Cutoffs): boolean =>
  cutoffs.deliveredBefore !== undefined || cutoffs.retrievedBefore !== undefined

const dayMs = 24 * 60 * 60 * 1000

/**
 * The cutoffs for a policy in days at time `now`: `days` for every message (0 = keep forever), `retrievedDays` for
 * retrieved ones (0 = the same as `days`). A retrieved message is removed by whichever rule comes first.
 */
export const cutoffs = (now: number, days: number, retrievedDays: number): Cutoffs => {
  const retrieved = retrievedDays > 0 ? retrievedDays : days
  return {
    ...(days > 0 ? { deliveredBefore: now - days * dayMs } : {}),
    ...(retrieved > 0 ? { retrievedBefore: now - retrieved * dayMs } : {})
  }
}

/**
 * The smallest number of days any message is kept, for CAPA's `EXPIRE` (RFC 2449 6.7): `"NEVER"` when nothing
 * expires, else the smaller of the two that apply.
 */
export const minimumDays = (days: number, retrievedDays: number): number | "NEVER" => {
  const applying = [days, retrievedDays].filter((d) => d > 0)
  return applying.length === 0 ? "NEVER" : Math.min(...applying)
}
