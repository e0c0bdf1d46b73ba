import { assert, describe, it } from "@effect/vitest"
import { Reply } from "../src/index.ts"

const long = "x".repeat(600)
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1")

// [name, rendered, expected bytes]
const goldens: ReadonlyArray<readonly [string, string, string]> = [
  ["bare +OK", Reply.ok(), "+OK\r\n"],
  ["+OK with empty text", Reply.ok(""), "+OK\r\n"],
  ["+OK with text", Reply.ok("2 320"), "+OK 2 320\r\n"],
  ["+OK with a code and no text", Reply.ok(undefined, "LOGIN-DELAY"), "+OK [LOGIN-DELAY]\r\n"],
  ["-ERR with text", Reply.err("no such message"), "-ERR no such message\r\n"],
  ["-ERR with a code", Reply.err("mailbox locked", "IN-USE"), "-ERR [IN-USE] mailbox locked\r\n"],
  ["-ERR [AUTH]", Reply.err("authentication failed", "AUTH"), "-ERR [AUTH] authentication failed\r\n"],
  ["-ERR [SYS/TEMP]", Reply.err("try later", "SYS/TEMP"), "-ERR [SYS/TEMP] try later\r\n"],
  ["-ERR [SYS/PERM]", Reply.err("gone", "SYS/PERM"), "-ERR [SYS/PERM] gone\r\n"],
  ["CR, LF and NUL become spaces", Reply.err("a\r\nb\0c\rd\ne"), "-ERR a  b c d e\r\n"],
  ["an embedded CRLF.CRLF cannot end anything", Reply.ok("x\r\n.\r\n"), "+OK x  .  \r\n"],
  ["non-latin1 characters become ?", Reply.err("caf\u00e9 \u20ac"), "-ERR caf\u00e9 ?\r\n"],
  ["truncated to 512 octets", Reply.err(long), `-ERR ${"x".repeat(505)}\r\n`],
  ["truncated with a code", Reply.err(long, "SYS/TEMP"), `-ERR [SYS/TEMP] ${"x".repeat(494)}\r\n`],
  ["exactly 512 is kept", Reply.ok("y".repeat(506)), `+OK ${"y".repeat(506)}\r\n`],
  ["SASL continuation", Reply.continuation("VGVzdA=="), "+ VGVzdA==\r\n"],
  ["empty SASL continuation", Reply.continuation(""), "+ \r\n"],
  ["multiline, no lines", Reply.multiline([]), ".\r\n"],
  ["numberLines, no lines", text(Reply.numberLines(0, (i) => i, (i) => i)), ".\r\n"],
  ["numberLines", text(Reply.numberLines(3, (i) => i + 1, (i) => [0, 9, 1234567890123][i]!)), "1 0\r\n2 9\r\n3 1234567890123\r\n.\r\n"],
  ["numberLines, 2^53", text(Reply.numberLines(1, () => 10, () => 2 ** 53)), "10 9007199254740992\r\n.\r\n"],
  ["multiline, stuffing", Reply.multiline(["a", ".b"]), "a\r\n..b\r\n.\r\n"],
  ["multiline, a lone dot", Reply.multiline(["."]), "..\r\n.\r\n"],
  ["multiline, an empty line", Reply.multiline(["1 10", "", "2 20"]), "1 10\r\n\r\n2 20\r\n.\r\n"],
  ["multiline, CRLF inside a line", Reply.multiline(["a\r\n.\r\nb"]), "a  .  b\r\n.\r\n"]
]

describe("Reply", () => {
  for (const [name, rendered, expected] of goldens) {
    it(`golden: ${name}`, () => {
      assert.strictEqual(rendered, expected)
    })
  }

  it("numberLines renders what multiline renders for the same lines", () => {
    for (const count of [1, 7, 1000]) {
      const a = (i: number) => i * 7919 % 100_003
      const b = (i: number) => Math.floor(i ** 3.7) + (i % 3 === 0 ? 0 : 10 ** (i % 16))
      const lines = Array.from({ length: count }, (_, i) => `${a(i)} ${b(i)}`)
      assert.strictEqual(text(Reply.numberLines(count, a, b)), Reply.multiline(lines))
    }
  })

  it("no status line exceeds 512 octets, whatever the text", () => {
    for (let n = 0; n < 1100; n += 7) {
      for (const line of [Reply.ok("z".repeat(n)), Reply.err("\u20ac".repeat(n), "LOGIN-DELAY")]) {
        assert.isAtMost(Buffer.byteLength(line, "latin1"), 512)
        assert.isTrue(line.endsWith("\r\n"))
        assert.notInclude(line.slice(0, -2), "\r")
        assert.notInclude(line.slice(0, -2), "\n")
      }
    }
  })
})
