/**
 * A user's quota as Dovecot's userdb extra fields write it in a passwd-file: `quota_rule=*:storage=100M`, also
 * with the `userdb_` prefix, and `quota_rule2=`, `quota_rule3=`, ... merged in order. Parses the text only; it
 * knows no store and applies no limit (the server turns a `UserQuota` into the store's limits).
 *
 * A rule is `<mailbox>:<limit>[:<limit>...]`. Only the `*` and `?` mailboxes apply (pop3d serves one mailbox);
 * rules for other mailboxes (`Trash:storage=+100M`) are ignored. Limits: `storage=<n>` (KiB without a suffix, as
 * in Dovecot), `bytes=<n>`, `messages=<n>`, each with an optional `b`/`k`/`M`/`G`/`T` suffix (binary multiples);
 * `backend=<Maildir++ definition>` (`100000S,1000C`); `ignore` (no limit at all). 0 means no limit. Relative (`+`,
 * `-`) and percentage limits are not supported.
 */
import { Result } from "effect"

/** The limits a user's rules give; an absent field is not given (the default applies), 0 is "no limit". */
export interface UserQuota {
  /** Octets. */
  readonly storage?: number | undefined
  /** Messages. */
  readonly messages?: number | undefined
}

const multipliers: Readonly<Record<string, number>> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/** `<digits>[bkMGT]` with binary multiples; `unit` applies without a suffix (1024 for `storage`). */
const amount = (text: string, unit: number): number | undefined => {
  const m = /^(\d{1,16})([bkmgt]?)$/i.exec(text)
  if (m === null) return undefined
  const n = Number(m[1]) * (m[2] === "" ? unit : multipliers[m[2]!.toLowerCase()]!)
  return Number.isSafeInteger(n) ? n : undefined
}

/** Parses one rule; `undefined` for a rule about another mailbox than `*` or `?`. */
export const parseRule = (text: string): Result.Result<UserQuota | undefined, string> => {
  const parts = text.split(":")
  const mailbox = parts[0]!
  if (parts.length < 2) return Result.fail("expected <mailbox>:<limit>")
  if (mailbox !== "*" && mailbox !== "?") return Result.succeed(undefined)
  let quota: { storage?: number; messages?: number } = {}
  for (const limit of parts.slice(1)) {
    if (limit === "ignore") {
      quota = { storage: 0, messages: 0 }
      continue
    }
    const eq = limit.indexOf("=")
    const key = eq < 0 ? limit : limit.slice(0, eq)
    const value = eq < 0 ? "" : limit.slice(eq + 1)
    if (/^[+-]|%$/.test(value)) return Result.fail(`relative or percentage limits are not supported (${key})`)
    if (key === "backend") {
      const def = /^(?:(\d+)S)?,?(?:(\d+)C)?$/.exec(value)
      if (def === null || value === "" || value === ",") {
        return Result.fail("backend= must be a Maildir++ definition such as 100000S,1000C")
      }
      if (def[1] !== undefined) quota.storage = Number(def[1])
      if (def[2] !== undefined) quota.messages = Number(def[2])
      continue
    }
    const unit = key === "storage" ? 1024 : key === "bytes" || key === "messages" ? 1 : undefined
    if (unit === undefined) return Result.fail(`unknown limit "${key.slice(0, 20)}"`)
    const n = amount(value, unit)
    if (n === undefined) return Result.fail(`${key}= must be a number with an optional b, k, M, G or T suffix`)
    if (key === "messages") quota.messages = n
    else quota.storage = n
  }
  return Result.succeed(quota)
}

const ruleKey = /^(?:userdb_)?quota_rule(\d*)$/

/**
 * The quota the extra fields (space-separated `key=value` tokens) give: every `quota_rule`, `quota_rule2`, ...
 * (with or without `userdb_`), in number order, later limits over earlier ones. `undefined` when there is none.
 */
export const fromExtraFields = (extra: string): Result.Result<UserQuota | undefined, string> => {
  const rules: Array<readonly [number, string]> = []
  for (const token of extra.split(/\s+/)) {
    const eq = token.indexOf("=")
    const m = eq < 0 ? null : ruleKey.exec(token.slice(0, eq))
    if (m !== null) rules.push([m[1] === "" ? 1 : Number(m[1]), token.slice(eq + 1)])
  }
  if (rules.length === 0) return Result.succeed(undefined)
  let quota: UserQuota | undefined
  for (const [, text] of rules.sort((a, b) => a[0] - b[0])) {
    const parsed = parseRule(text)
    if (Result.isFailure(parsed)) return parsed
    if (parsed.success !== undefined) quota = { ...quota, ...parsed.success }
  }
  return Result.succeed(quota)
}
