// What `pop3d mailbox stats USER` prints: one `name: value` line per fact about a mailbox (messages, octets, quota
// use and limits, the oldest message, the next UID), easy to read and to grep. Formatting only; the numbers come
// from the store's `stats`.
import type { Mailbox } from "@pop3d/mailbox"

const share = (used: number, limit: number) => `${Math.floor((Math.max(0, used) * 100) / limit)}%`

const age = (from: number, now: number): string => {
  const days = Math.floor((now - from) / 86_400_000)
  if (days >= 1) return `${days} day${days === 1 ? "" : "s"} ago`
  const hours = Math.floor((now - from) / 3_600_000)
  return hours >= 1 ? `${hours} hour${hours === 1 ? "" : "s"} ago` : "less than an hour ago"
}

/** The lines `mailbox stats` prints for `user`, given the store's stats and the time now (epoch milliseconds). */
export const lines = (user: string, stats: Mailbox.Stats, now: number): ReadonlyArray<string> => {
  const { limit, usage } = stats.quota
  return [
    `mailbox: ${user}`,
    `messages: ${stats.messages}`,
    `octets: ${stats.storageOctets}`,
    `rfc822-octets: ${stats.wireOctets}`,
    limit.storage > 0
      ? `quota-storage: ${usage.storage} of ${limit.storage} octets (${share(usage.storage, limit.storage)})`
      : `quota-storage: ${usage.storage} octets (no limit)`,
    limit.messages > 0
      ? `quota-messages: ${usage.messages} of ${limit.messages} (${share(usage.messages, limit.messages)})`
      : `quota-messages: ${usage.messages} (no limit)`,
    stats.oldest === undefined
      ? "oldest: none"
      : `oldest: ${new Date(stats.oldest).toISOString().replace(/\.\d{3}Z$/, "Z")} (${age(stats.oldest, now)})`,
    `next-uid: ${stats.nextUid}`
  ]
}
