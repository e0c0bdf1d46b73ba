// The quota policy pop3d gives its store: per-user limits over the defaults, and the warning message rendered from
// a template into RFC 5322 (checked here line by line against the format's rules).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Quota } from "@pop3d/mailbox"
import * as QuotaPolicy from "../src/QuotaPolicy.ts"
import * as Settings from "../src/Settings.ts"
import { tempDirs } from "./tempDirs.ts"

const info: Quota.WarningInfo = {
  user: "alice",
  threshold: 90,
  percent: 92,
  usage: { storage: 96_468_992, messages: 1200 },
  limit: { storage: 104_857_600, messages: 0 }
}

const now = Date.UTC(2026, 10, 27, 9, 30, 0)

/** Splits a message into headers (name → value, unfolded) and body lines, checking RFC 5322's syntax on the way. */
const parseMessage = (bytes: Uint8Array) => {
  const text = Buffer.from(bytes).toString("utf8")
  assert.notInclude(text, "\r", "stored with LF line ends, as Maildir files are")
  const end = text.indexOf("\n\n")
  assert.isAbove(end, 0, "a blank line ends the header")
  const headers = new Map<string, string>()
  let last = ""
  for (const line of text.slice(0, end).split("\n")) {
    if (/^[ \t]/.test(line)) {
      headers.set(last, headers.get(last)! + line)
      continue
    }
    const m = /^([\x21-\x39\x3b-\x7e]+):[ \t]*(.*)$/.exec(line)
    assert.isNotNull(m, `header line ${JSON.stringify(line)}`)
    assert.match(line, /^[\x20-\x7e]*$/, "header lines are ASCII")
    assert.isFalse(headers.has(m![1]!.toLowerCase()), `one ${m![1]} header`)
    last = m![1]!.toLowerCase()
    headers.set(last, m![2]!)
  }
  for (const line of text.split("\n")) assert.isAtMost(Buffer.byteLength(line), 998, "lines of at most 998 octets")
  return { headers, body: text.slice(end + 2) }
}

// Temporary folders of these tests, removed after them.
const tempDir = tempDirs("pop3d-qp-")

const settingsWith = (flags: Record<string, string>) =>
  Settings.load({ flags: { data: tempDir(), ...flags }, env: {}, isRoot: false })

describe("QuotaPolicy", () => {
  it.effect("limits: a user's rule sets what it names, the settings' defaults the rest", () =>
    Effect.gen(function*() {
      const s = yield* settingsWith({ quota: "100M", "quota-messages": "5000" })
      assert.deepStrictEqual(QuotaPolicy.defaultLimit(s), { storage: 104_857_600, messages: 5000 })
      assert.deepStrictEqual(QuotaPolicy.limitFor(s, undefined), { storage: 104_857_600, messages: 5000 })
      assert.deepStrictEqual(QuotaPolicy.limitFor(s, { storage: 1024 }), { storage: 1024, messages: 5000 })
      assert.deepStrictEqual(QuotaPolicy.limitFor(s, { storage: 0, messages: 0 }), { storage: 0, messages: 0 })
    }))

  it.effect("the built-in template renders a complete RFC 5322 message with the numbers filled in", () =>
    Effect.gen(function*() {
      const s = yield* settingsWith({})
      const template = yield* QuotaPolicy.readTemplate(s)
      const { body, headers } = parseMessage(QuotaPolicy.render(template, s.quotaWarningFrom, info, now))
      assert.strictEqual(headers.get("from"), "Mail server <postmaster@localhost>")
      assert.strictEqual(headers.get("date"), "Fri, 27 Nov 2026 09:30:00 +0000")
      assert.match(headers.get("message-id")!, /^<quota-\d+\.[0-9a-f]+@localhost>$/)
      assert.strictEqual(headers.get("subject"), "Your mailbox is 92% full")
      assert.strictEqual(headers.get("auto-submitted"), "auto-generated")
      assert.strictEqual(headers.get("content-type"), "text/plain; charset=utf-8")
      assert.isFalse(headers.has("to"), "a mailbox name that is not an address gets no To:")
      assert.include(body, "Hello alice,")
      assert.include(body, "92 MiB of the 100 MiB")
      assert.include(body, "below 90%")
      assert.notMatch(body, /\{[a-z_]+\}/, "no placeholder left")
    }))

  it.effect("a template of the operator's own: its headers win, non-ASCII is encoded, unknown placeholders stay", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = Path.join(dir, "warn.txt")
      Fs.writeFileSync(
        file,
        "Subject: Boîte pleine à {percent} %\r\nReply-To: help@example.org\r\n\r\n{user}: {used_octets}/{limit_octets}, " +
          "{messages} messages (limit {message_limit}) {unknown}\r\n"
      )
      const s = yield* settingsWith({ "quota-warning-template": file, "quota-warning-from": "helpdesk@example.org" })
      const rendered = QuotaPolicy.render(yield* QuotaPolicy.readTemplate(s), s.quotaWarningFrom, { ...info, user: "bob@example.org" }, now)
      const { body, headers } = parseMessage(rendered)
      assert.strictEqual(headers.get("from"), "Mail server <helpdesk@example.org>")
      assert.strictEqual(headers.get("to"), "<bob@example.org>")
      assert.strictEqual(headers.get("reply-to"), "help@example.org")
      assert.match(headers.get("message-id")!, /@example\.org>$/)
      const subject = headers.get("subject")!
      assert.match(subject, /^=\?UTF-8\?B\?/)
      const decoded = subject.split(/\s+/).map((w) => Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(w)![1]!, "base64").toString("utf8"))
        .join("")
      assert.strictEqual(decoded, "Boîte pleine à 92 %")
      assert.strictEqual(body, "bob@example.org: 96468992/104857600, 1200 messages (limit no limit) {unknown}\n")
    }))

  it.effect("a missing template file is an error naming the setting", () =>
    Effect.gen(function*() {
      const s = yield* settingsWith({ "quota-warning-template": "/nonexistent/warn.txt" })
      const e = yield* Effect.flip(QuotaPolicy.readTemplate(s))
      assert.match(e.message, /quota-warning-template/)
    }))

  it.effect("settings: sizes with suffixes, invalid values refused with the setting's name", () =>
    Effect.gen(function*() {
      const s = yield* settingsWith({ quota: "2G", "retention-days": "60", "retention-retrieved-days": "7", "login-interval": "900" })
      assert.deepStrictEqual(
        [s.quota, s.quotaMessages, s.quotaFullTempfail, s.quotaWarningPercent, s.retentionDays, s.retentionRetrievedDays, s.retentionSweepInterval, s.loginInterval],
        [2 * 1024 ** 3, 0, false, 90, 60, 7, 3600, 900]
      )
      for (const [flag, value] of [["quota", "lots"], ["quota-warning-percent", "101"], ["quota-warning-from", "nobody"], ["retention-sweep-interval", "0"]] as const) {
        const e = yield* Effect.flip(settingsWith({ [flag]: value }))
        assert.include(e.message, `--${flag}`)
      }
    }))
})
