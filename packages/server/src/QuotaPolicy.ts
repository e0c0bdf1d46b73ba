// The quota policy pop3d gives its store (PROFILE E0003, E0004): each mailbox's limits (the user's own
// `quota_rule` from the directory or the users file, else the `quota` / `quota-messages` settings) and the warning
// message, rendered from a template into an RFC 5322 message. It decides nothing about what fits (the store does,
// with `Quota`) and never writes a mailbox itself.
import { Clock, Effect, Layer, Option, Result } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import { Directory, type QuotaRule, UsersFile } from "@pop3d/auth"
import { Mailbox, Maildir, Quota } from "@pop3d/mailbox"
import type { Settings } from "./Settings.ts"

/** The built-in warning template (used when `quota-warning-template` is empty). */
export const defaultTemplatePath: string = new URL("../templates/quota-warning.txt", import.meta.url).pathname

/** The limits every mailbox has unless its user has a `quota_rule` of its own. */
export const defaultLimit = (settings: Settings): Quota.Limit => ({
  storage: settings.quota,
  messages: settings.quotaMessages
})

/** A user's limits: what their rule names, the default for what it does not name. */
export const limitFor = (settings: Settings, own: QuotaRule.UserQuota | undefined): Quota.Limit => ({
  storage: own?.storage ?? settings.quota,
  messages: own?.messages ?? settings.quotaMessages
})

/** The warning template could not be read. */
export class TemplateError {
  readonly _tag = "TemplateError"
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

/** Reads the warning template named by the settings (or the built-in one). */
export const readTemplate = (settings: Settings): Effect.Effect<string, TemplateError> =>
  Effect.try({
    try: () =>
      Fs.readFileSync(settings.quotaWarningTemplate === "" ? defaultTemplatePath : settings.quotaWarningTemplate, "utf8"),
    catch: (e) =>
      new TemplateError(`cannot read quota-warning-template ${settings.quotaWarningTemplate}: ${(e as Error).message}`)
  })

/** The values a template's `{name}` placeholders are replaced with. */
export const placeholders = (info: Quota.WarningInfo): Readonly<Record<string, string>> => {
  const byStorage = info.limit.storage > 0
  const count = (n: number) => `${n} message${n === 1 ? "" : "s"}`
  return {
    user: info.user,
    percent: String(info.percent),
    threshold: String(info.threshold),
    used: byStorage ? Quota.formatSize(info.usage.storage) : count(info.usage.messages),
    limit: byStorage ? Quota.formatSize(info.limit.storage) : count(info.limit.messages),
    used_octets: String(info.usage.storage),
    limit_octets: info.limit.storage > 0 ? String(info.limit.storage) : "no limit",
    messages: String(info.usage.messages),
    message_limit: info.limit.messages > 0 ? String(info.limit.messages) : "no limit"
  }
}

/** Replaces `{name}` placeholders; unknown names are left as they are. */
export const fill = (template: string, values: Readonly<Record<string, string>>): string =>
  template.replace(/\{([a-z_]+)\}/g, (whole, name: string) => values[name] ?? whole)

/** A header value as RFC 2047 encoded-words when it is not plain ASCII. */
const encodeHeader = (value: string): string =>
  /^[\x20-\x7e]*$/.test(value)
    ? value
    : (value.match(/[\s\S]{1,30}/gu) ?? []).map((part) => `=?UTF-8?B?${Buffer.from(part, "utf8").toString("base64")}?=`)
      .join("\n ")

/** An RFC 5322 date-time in UTC. */
export const rfc5322Date = (millis: number): string => new Date(millis).toUTCString().replace(/GMT$/, "+0000")

/**
 * The warning message: the template's header lines (up to its first blank line, when it starts with one such as
 * `Subject:`) and body with the placeholders filled, plus the headers pop3d adds unless the template has them:
 * From, Date, Message-ID, To (when the user name is an address), MIME-Version, Content-Type (UTF-8 text),
 * Content-Transfer-Encoding and Auto-Submitted (RFC 3834). LF line ends, as Maildir files have them (RETR
 * sends CRLF).
 */
export const render = (template: string, from: string, info: Quota.WarningInfo, now: number): Uint8Array => {
  const text = fill(template.replace(/\r\n?/g, "\n"), placeholders(info))
  const lines = text.split("\n")
  const headers: Array<[string, string]> = []
  let body = lines
  if (/^[A-Za-z][A-Za-z0-9-]*:/.test(lines[0] ?? "")) {
    const end = lines.indexOf("")
    const block = end === -1 ? lines : lines.slice(0, end)
    body = end === -1 ? [] : lines.slice(end + 1)
    for (const line of block) {
      if (/^[ \t]/.test(line) && headers.length > 0) headers[headers.length - 1]![1] += " " + line.trim()
      else {
        const colon = line.indexOf(":")
        if (colon > 0) headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()])
      }
    }
  }
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name.toLowerCase())
  const domain = from.slice(from.lastIndexOf("@") + 1) || "localhost"
  const added: Array<[string, string]> = []
  if (!has("From")) added.push(["From", `Mail server <${from}>`])
  if (!has("To") && /^[^\s@<>]+@[^\s@<>]+$/.test(info.user)) added.push(["To", `<${info.user}>`])
  if (!has("Date")) added.push(["Date", rfc5322Date(now)])
  const id = `<quota-${now}.${Crypto.randomBytes(6).toString("hex")}@${domain}>`
  if (!has("Message-ID")) added.push(["Message-ID", id])
  if (!has("Subject")) added.push(["Subject", `Your mailbox is ${info.percent}% full`])
  if (!has("Auto-Submitted")) added.push(["Auto-Submitted", "auto-generated"])
  if (!has("MIME-Version")) added.push(["MIME-Version", "1.0"])
  if (!has("Content-Type")) added.push(["Content-Type", "text/plain; charset=utf-8"])
  if (!has("Content-Transfer-Encoding")) added.push(["Content-Transfer-Encoding", "8bit"])
  const head = [...added, ...headers].map(([name, value]) => `${name}: ${encodeHeader(value)}\n`).join("")
  while (body.length > 0 && body[body.length - 1] === "") body = body.slice(0, -1)
  return Buffer.from(`${head}\n${body.map((l) => `${l}\n`).join("")}`, "utf8")
}

/** A policy over a per-user lookup (the user's own limits, if any), the settings and a template. */
export const make = (
  settings: Settings,
  template: string,
  own: (user: string) => Effect.Effect<QuotaRule.UserQuota | undefined>
): Quota.Policy => ({
  limit: (user) => Effect.map(own(user), (q) => limitFor(settings, q)),
  warningPercent: settings.quotaWarningPercent,
  warning: (info) =>
    Effect.map(Clock.currentTimeMillis, (now) => render(template, settings.quotaWarningFrom, info, now))
})

/**
 * Each user's own limits for commands that run without a directory (`deliver`, `mailbox stats`): their line in the
 * users file, read when asked. A rule that cannot be used is logged and the default applies.
 */
export const ownFromUsersFile = (settings: Settings) =>
(user: string): Effect.Effect<QuotaRule.UserQuota | undefined> =>
  Effect.gen(function*() {
    const file = yield* Effect.orElseSucceed(UsersFile.read(settings.usersFile), () => undefined)
    const line = file === undefined ? undefined : UsersFile.users(file).find((u) => u.name === user)
    if (line === undefined) return undefined
    const quota = UsersFile.quotaField(line.rest)
    if (Result.isSuccess(quota)) return quota.success
    yield* Effect.logWarning(
      `users file: user ${JSON.stringify(user)} has an unusable quota_rule (${quota.failure}); ` +
        "the default quota applies"
    )
    return undefined
  })

/** The policy `deliver` uses: limits from the users file and the settings, the warning from the template. */
export const fromUsersFile = (settings: Settings): Effect.Effect<Quota.Policy, TemplateError> =>
  Effect.map(readTemplate(settings), (template) => make(settings, template, ownFromUsersFile(settings)))

/** The Maildir store with the quota policy `serve` uses: each user's own limits from the directory. */
export const maildirLayer = (
  settings: Settings,
  template: string
): Layer.Layer<Mailbox.Mailbox, never, Directory.Directory> =>
  Layer.effect(Mailbox.Mailbox)(Effect.gen(function*() {
    const directory = yield* Directory.Directory
    const own = (user: string) => Effect.map(directory.lookup(user), (r) => Option.getOrUndefined(r)?.quota)
    const quota = make(settings, template, own)
    return yield* Maildir.make({ root: settings.maildirRoot, quota })
  }))
