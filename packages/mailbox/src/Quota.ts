/**
 * Storage quota (PROFILE E0003, E0004) as values and decisions every store shares: a mailbox's limits, the usage a
 * store measures, whether one more message fits, and whether a warning threshold has been reached. Nothing here
 * touches a file or a clock; the stores keep the usage (the Maildir store in Maildir++'s `maildirsize`).
 * A limit of 0 means "no limit" for that resource.
 */
import { Effect } from "effect"

/** A mailbox's limits: octets of storage and number of messages; 0 = no limit for that one. */
export interface Limit {
  readonly storage: number
  readonly messages: number
}

/** What a mailbox holds, as its quota counts it: octets in the store and messages. */
export interface Usage {
  readonly storage: number
  readonly messages: number
}

/** No limit at all. */
export const unlimited: Limit = { storage: 0, messages: 0 }

/** Nothing used. */
export const empty: Usage = { storage: 0, messages: 0 }

/** True when at least one of the two limits is set. */
export const isLimited = (limit: Limit): boolean => limit.storage > 0 || limit.messages > 0

/** Usage after adding (or, with negative numbers, removing) `delta`. */
export const add = (usage: Usage, delta: Usage): Usage => ({
  storage: usage.storage + delta.storage,
  messages: usage.messages + delta.messages
})

/**
 * Whether a message of `size` octets fits: `Fits` when usage plus the message stays at or under every limit,
 * `TooLarge` when the message alone exceeds the storage limit (it can never fit: a permanent refusal), `Over` when
 * the mailbox is too full for it now.
 */
export const fits = (usage: Usage, size: number, limit: Limit): "Fits" | "Over" | "TooLarge" => {
  if (limit.storage > 0 && size > limit.storage) return "TooLarge"
  if (limit.storage > 0 && usage.storage + size > limit.storage) return "Over"
  if (limit.messages > 0 && usage.messages + 1 > limit.messages) return "Over"
  return "Fits"
}

/** The fuller of the two resources as a whole percentage (rounded down); 0 without limits. */
export const percent = (usage: Usage, limit: Limit): number =>
  Math.max(
    limit.storage > 0 ? Math.floor((Math.max(0, usage.storage) * 100) / limit.storage) : 0,
    limit.messages > 0 ? Math.floor((Math.max(0, usage.messages) * 100) / limit.messages) : 0
  )

/** True when a warning threshold (1..100 percent; 0 = off) is reached by either resource. */
export const reached = (usage: Usage, limit: Limit, threshold: number): boolean =>
  threshold > 0 && (
    (limit.storage > 0 && usage.storage * 100 >= threshold * limit.storage) ||
    (limit.messages > 0 && usage.messages * 100 >= threshold * limit.messages)
  )

/** What a warning message is about: whose mailbox, which threshold it crossed, and the numbers. */
export interface WarningInfo {
  readonly user: string
  /** The threshold crossed, in percent. */
  readonly threshold: number
  /** The usage now, in percent of the fuller resource. */
  readonly percent: number
  readonly usage: Usage
  readonly limit: Limit
}

/** How a store applies quota: each mailbox's limits, and the one warning message per threshold crossing. */
export interface Policy {
  /** The limits of one mailbox (a per-user value or the default). */
  readonly limit: (user: string) => Effect.Effect<Limit>
  /** The warning threshold in percent; 0 turns warnings off. */
  readonly warningPercent: number
  /** The warning message (RFC 5322 octets) to put into the mailbox when the threshold is crossed. */
  readonly warning: (info: WarningInfo) => Effect.Effect<Uint8Array>
}

/** No limits and no warnings: what a store does when it is given no policy. */
export const noPolicy: Policy = {
  limit: () => Effect.succeed(unlimited),
  warningPercent: 0,
  warning: () => Effect.succeed(new Uint8Array(0))
}

/** A policy with the same limits for every mailbox and no warnings (tests, simple setups). */
export const fixed = (limit: Limit): Policy => ({ ...noPolicy, limit: () => Effect.succeed(limit) })

const multipliers: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/**
 * Parses a size as Dovecot writes quota limits: decimal digits with an optional `b`, `k`, `M`, `G` or `T` suffix
 * (binary multiples, any case; `100M` = 104857600). `undefined` when it is not one, or not a safe integer.
 */
export const parseSize = (text: string): number | undefined => {
  const m = /^(\d{1,16})\s*([bkmgt]?)b?$/i.exec(text.trim())
  if (m === null) return undefined
  const n = Number(m[1]) * multipliers[m[2]!.toLowerCase()]!
  return Number.isSafeInteger(n) ? n : undefined
}

/** A size for people: `512 B`, `1.5 KiB`, `100 MiB`, ... */
export const formatSize = (octets: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = octets
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  const shown = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, "")
  return `${shown} ${units[unit]}`
}
