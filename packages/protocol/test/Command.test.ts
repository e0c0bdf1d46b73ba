import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { Command } from "../src/index.ts"

type Expected =
  | { readonly ok: Command.Command }
  | { readonly reason: "Unknown" | "Syntax"; readonly message: string; readonly verb?: string }

const decoded = (line: string): Expected => {
  const result = Command.decode(line)
  if (Result.isSuccess(result)) return { ok: result.success }
  const { message, reason, verb } = result.failure
  return verb === undefined ? { reason, message } : { reason, message, verb }
}

const syntax = (verb: string, message: string): Expected => ({ reason: "Syntax", verb, message })

// [line, expected]
const goldens: ReadonlyArray<readonly [string, Expected]> = [
  // keywords, case, separators
  ["STAT", { ok: { _tag: "STAT" } }],
  ["stat", { ok: { _tag: "STAT" } }],
  ["StAt", { ok: { _tag: "STAT" } }],
  ["STAT ", { ok: { _tag: "STAT" } }],
  ["STAT \t ", { ok: { _tag: "STAT" } }],
  ["  NOOP", { ok: { _tag: "NOOP" } }],
  ["QUIT", { ok: { _tag: "QUIT" } }],
  ["RSET", { ok: { _tag: "RSET" } }],
  ["CAPA", { ok: { _tag: "CAPA" } }],
  ["STLS", { ok: { _tag: "STLS" } }],
  ["STAT 1", syntax("STAT", "STAT takes no arguments")],
  ["QUIT now", syntax("QUIT", "QUIT takes no arguments")],
  ["LIST", { ok: { _tag: "LIST" } }],
  ["LIST 1", { ok: { _tag: "LIST", msg: 1 } }],
  ["list\t\t7\t", { ok: { _tag: "LIST", msg: 7 } }],
  ["LIST 1 2", syntax("LIST", "LIST takes at most one argument")],
  ["UIDL", { ok: { _tag: "UIDL" } }],
  ["UIDL  42", { ok: { _tag: "UIDL", msg: 42 } }],
  ["RETR 1", { ok: { _tag: "RETR", msg: 1 } }],
  ["retr \t 3 ", { ok: { _tag: "RETR", msg: 3 } }],
  ["DELE 2", { ok: { _tag: "DELE", msg: 2 } }],
  ["RETR", syntax("RETR", "RETR needs a message number")],
  ["RETR 1 2", syntax("RETR", "RETR takes exactly one argument")],
  ["DELE", syntax("DELE", "DELE needs a message number")],
  // message numbers
  ["RETR 0", syntax("RETR", "RETR: message number must be 1 or more")],
  ["RETR 000", syntax("RETR", "RETR: message number must be 1 or more")],
  ["RETR 007", { ok: { _tag: "RETR", msg: 7 } }],
  ["RETR -1", syntax("RETR", "RETR: message number must be a positive decimal integer")],
  ["RETR +1", syntax("RETR", "RETR: message number must be a positive decimal integer")],
  ["RETR 1x", syntax("RETR", "RETR: message number must be a positive decimal integer")],
  ["RETR abc", syntax("RETR", "RETR: message number must be a positive decimal integer")],
  ["RETR 1.0", syntax("RETR", "RETR: message number must be a positive decimal integer")],
  ["RETR 0x1", syntax("RETR", "RETR: message number must be a positive decimal integer")],
  ["RETR \u0661", syntax("RETR", "RETR: message number must be a positive decimal integer")],
  ["RETR 999999999", { ok: { _tag: "RETR", msg: 999_999_999 } }],
  ["RETR 0000000000999999999", { ok: { _tag: "RETR", msg: 999_999_999 } }],
  ["RETR 1000000000", syntax("RETR", "RETR: message number too large")],
  ["DELE 99999999999999999999999", syntax("DELE", "DELE: message number too large")],
  ["LIST 0", syntax("LIST", "LIST: message number must be 1 or more")],
  ["UIDL x", syntax("UIDL", "UIDL: message number must be a positive decimal integer")],
  // TOP
  ["TOP 1 0", { ok: { _tag: "TOP", msg: 1, lines: 0 } }],
  ["top 3 10", { ok: { _tag: "TOP", msg: 3, lines: 10 } }],
  ["TOP 1 00", { ok: { _tag: "TOP", msg: 1, lines: 0 } }],
  ["TOP 1", syntax("TOP", "TOP needs a message number and a line count")],
  ["TOP", syntax("TOP", "TOP needs a message number and a line count")],
  ["TOP 1 2 3", syntax("TOP", "TOP takes exactly two arguments")],
  ["TOP 0 1", syntax("TOP", "TOP: message number must be 1 or more")],
  ["TOP 1 -1", syntax("TOP", "TOP: line count must be a non-negative decimal integer")],
  ["TOP 1 1000000000", syntax("TOP", "TOP: line count too large")],
  ["TOP 1 999999999", { ok: { _tag: "TOP", msg: 1, lines: 999_999_999 } }],
  // USER
  ["USER bob", { ok: { _tag: "USER", name: "bob" } }],
  ["user \t bob@example.org \t", { ok: { _tag: "USER", name: "bob@example.org" } }],
  ["USER john doe", { ok: { _tag: "USER", name: "john doe" } }],
  ["USER", syntax("USER", "USER needs a mailbox name")],
  ["USER   ", syntax("USER", "USER needs a mailbox name")],
  // PASS: one separator octet is consumed, the rest is verbatim
  ["PASS secret", { ok: { _tag: "PASS", password: "secret" } }],
  ["PASS a b ", { ok: { _tag: "PASS", password: "a b " } }],
  ["PASS  a b ", { ok: { _tag: "PASS", password: " a b " } }],
  ["pass\tx\ty", { ok: { _tag: "PASS", password: "x\ty" } }],
  ["PASS  ", { ok: { _tag: "PASS", password: " " } }],
  ["PASS", syntax("PASS", "PASS needs a password")],
  ["PASS ", syntax("PASS", "PASS needs a password")],
  // AUTH
  ["AUTH", { ok: { _tag: "AUTH" } }],
  ["AUTH ", { ok: { _tag: "AUTH" } }],
  ["AUTH plain", { ok: { _tag: "AUTH", mechanism: "PLAIN" } }],
  ["auth gssapi ", { ok: { _tag: "AUTH", mechanism: "GSSAPI" } }],
  ["AUTH PLAIN abc=", { ok: { _tag: "AUTH", mechanism: "PLAIN", initialResponse: "abc=" } }],
  ["AUTH PLAIN =", { ok: { _tag: "AUTH", mechanism: "PLAIN", initialResponse: "=" } }],
  ["AUTH PLAIN a b", syntax("AUTH", "AUTH takes at most a mechanism and an initial response")],
  ["AUTH PL@IN", syntax("AUTH", "AUTH: mechanism name is not valid")],
  // APOP decodes, to be refused by the session
  ["APOP bob 0123456789abcdef", { ok: { _tag: "APOP", args: ["bob", "0123456789abcdef"] } }],
  ["APOP", { ok: { _tag: "APOP", args: [] } }],
  // unknown and empty
  ["", { reason: "Unknown", message: "empty command" }],
  [" \t ", { reason: "Unknown", message: "empty command" }],
  ["XTND 1", { reason: "Unknown", verb: "XTND", message: "unknown command" }],
  ["HELO there", { reason: "Unknown", verb: "HELO", message: "unknown command" }],
  ["RETRIEVE 1", { reason: "Unknown", verb: "RETRIEVE", message: "unknown command" }],
  ["x".repeat(100), { reason: "Unknown", verb: "X".repeat(40), message: "unknown command" }],
  ["hasOwnProperty", { reason: "Unknown", verb: "HASOWNPROPERTY", message: "unknown command" }],
  ["R\u0000TR 1", { reason: "Unknown", verb: "R\u0000TR", message: "unknown command" }]
]

describe("Command.decode", () => {
  for (const [line, expected] of goldens) {
    it(`golden: ${JSON.stringify(line).slice(0, 60)}`, () => {
      assert.deepStrictEqual(decoded(line), expected)
    })
  }

  it("every successful decode is a valid Command", () => {
    for (const [line] of goldens) {
      const result = Command.decode(line)
      if (Result.isSuccess(result)) assert.isTrue(Schema.is(Command.Command)(result.success))
    }
  })

  it("errors are tagged CommandError values", () => {
    const result = Command.decode("RETR 0")
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      assert.instanceOf(result.failure, Command.CommandError)
      assert.strictEqual(result.failure._tag, "CommandError")
    }
  })

  it.prop(
    "never throws, and every success validates against the Schema",
    [Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 20 })))],
    ([picks]) => {
      const words = ["RETR", "top", "PASS", "USER", "AUTH", "LIST", "0", "1", "-", "9999999999"]
      words.push(" ", "\t", "x", "=", "\u00ff")
      const line = picks.map((pick) => words[pick % words.length]).join(picks.length % 2 === 0 ? " " : "")
      const result = Command.decode(line)
      if (Result.isSuccess(result)) assert.isTrue(Schema.is(Command.Command)(result.success))
      else assert.isString(result.failure.message)
    },
    { arbitrary: { runs: 500, size: 12 } }
  )
})
