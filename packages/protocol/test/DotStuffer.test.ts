import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { DotStuffer } from "../src/index.ts"
import { bytes, concat, fromAlphabet, octets, splitAt, text } from "./helpers.ts"

const encode = (chunks: ReadonlyArray<Uint8Array>, bodyLines?: number): string => {
  const stuffer = DotStuffer.make(bodyLines === undefined ? undefined : { bodyLines })
  const out = chunks.map((chunk) => stuffer.push(chunk))
  out.push(stuffer.end())
  return text(concat(out))
}

// [name, stored message, wire form]
const goldens: ReadonlyArray<readonly [string, string, string]> = [
  ["empty message", "", ".\r\n"],
  ["CRLF message", "a\r\nb\r\n", "a\r\nb\r\n.\r\n"],
  ["bare LF message", "a\nb\n", "a\r\nb\r\n.\r\n"],
  ["bare CR message", "a\rb\r", "a\r\nb\r\n.\r\n"],
  ["mixed line ends", "a\r\nb\nc\rd\n\re\r\r\n", "a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\n.\r\n"],
  ["LF CR is two line ends", "a\n\rb", "a\r\n\r\nb\r\n.\r\n"],
  ["no final newline", "a\r\nb", "a\r\nb\r\n.\r\n"],
  ["single line without newline", "x", "x\r\n.\r\n"],
  ["line starting with a dot", ".hidden\r\n", "..hidden\r\n.\r\n"],
  ["lone dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"],
  ["dot line at the very start", ".\r\n", "..\r\n.\r\n"],
  ["lone dot without newline at the end", "a\n.", "a\r\n..\r\n.\r\n"],
  ["dots not at line start are kept", "a.b\r\n. .\r\n", "a.b\r\n.. .\r\n.\r\n"],
  ["dot after a bare CR", "a\r.b\r\n", "a\r\n..b\r\n.\r\n"],
  ["dot after a bare LF", "a\n..b\n", "a\r\n...b\r\n.\r\n"],
  ["an early terminator inside the message", "a\r\n.\r\nb\r\n.\r\n", "a\r\n..\r\nb\r\n..\r\n.\r\n"],
  ["only newlines", "\n\n", "\r\n\r\n.\r\n"],
  ["only a CR", "\r", "\r\n.\r\n"],
  ["latin1 and NUL octets pass through", "\u00ff\u0000\r\n", "\u00ff\u0000\r\n.\r\n"]
]

const sample = "Subject: hi\r\nFrom: a@b\n\r\n.first\r\nsecond\rthird\n.\r\n..x\r\nlast"

// [name, stored message, bodyLines, wire form]
const topGoldens: ReadonlyArray<readonly [string, string, number, string]> = [
  ["TOP 0: headers and the blank line", "H: 1\r\nH: 2\r\n\r\nbody1\r\nbody2\r\n", 0, "H: 1\r\nH: 2\r\n\r\n.\r\n"],
  ["TOP 1", "H: 1\r\n\r\nbody1\r\nbody2\r\n", 1, "H: 1\r\n\r\nbody1\r\n.\r\n"],
  ["TOP 2 with bare LFs", "H: 1\n\nb1\nb2\nb3\n", 2, "H: 1\r\n\r\nb1\r\nb2\r\n.\r\n"],
  ["TOP k beyond the body", "H: 1\r\n\r\nb1", 5, "H: 1\r\n\r\nb1\r\n.\r\n"],
  ["TOP with no blank line: all headers", "H: 1\r\nH: 2\r\n", 0, "H: 1\r\nH: 2\r\n.\r\n"],
  ["TOP with no blank line and no final newline", "H: 1\r\nH: 2", 3, "H: 1\r\nH: 2\r\n.\r\n"],
  ["TOP stuffs body lines", "H: 1\r\n\r\n.b1\r\n.\r\nb3\r\n", 2, "H: 1\r\n\r\n..b1\r\n..\r\n.\r\n"],
  ["TOP stuffs header lines", ".H: 1\r\n\r\nb\r\n", 0, "..H: 1\r\n\r\n.\r\n"],
  ["TOP 0 of a message that starts with the blank line", "\r\nbody\r\n", 0, "\r\n.\r\n"],
  ["TOP 1 with bare CR line ends", "H\r\rb1\rb2\r", 1, "H\r\n\r\nb1\r\n.\r\n"],
  ["TOP 1 with an empty first body line", "H\r\n\r\n\r\nb2\r\n", 1, "H\r\n\r\n\r\n.\r\n"],
  ["TOP 0 of an empty message", "", 0, ".\r\n"],
  ["TOP 3 of the sample", sample, 3, "Subject: hi\r\nFrom: a@b\r\n\r\n..first\r\nsecond\r\nthird\r\n.\r\n"]
]

// Reference model: normalise line ends as a whole string, then stuff, cut and terminate.
const model = (message: string, bodyLines?: number): string => {
  if (message.length === 0) return ".\r\n"
  let lines = message.replace(/\r\n|\r|\n/g, "\n").split("\n")
  if (/[\r\n]$/.test(message)) lines.pop()
  if (bodyLines !== undefined) {
    const blank = lines.indexOf("")
    if (blank !== -1) lines = lines.slice(0, blank + 1 + bodyLines)
  }
  return lines.map((line) => (line.startsWith(".") ? "." + line : line) + "\r\n").join("") + ".\r\n"
}

describe("DotStuffer", () => {
  for (const [name, message, expected] of goldens) {
    it(`golden: ${name}`, () => {
      const data = bytes(message)
      assert.strictEqual(encode([data]), expected)
      assert.strictEqual(encode(octets(data)), expected)
      assert.strictEqual(model(message), expected)
    })
  }

  for (const [name, message, k, expected] of topGoldens) {
    it(`golden: ${name}`, () => {
      const data = bytes(message)
      assert.strictEqual(encode([data], k), expected)
      assert.strictEqual(encode(octets(data), k), expected)
      assert.strictEqual(model(message, k), expected)
    })
  }

  it("a split at every offset, or at every pair of offsets, gives the same output", () => {
    const data = bytes(sample)
    const expected = encode([data])
    assert.strictEqual(
      expected,
      "Subject: hi\r\nFrom: a@b\r\n\r\n..first\r\nsecond\r\nthird\r\n..\r\n...x\r\nlast\r\n.\r\n"
    )
    for (let i = 0; i <= data.length; i++) {
      assert.strictEqual(encode(splitAt(data, [i])), expected, `split at ${i}`)
      for (let j = i; j <= data.length; j++) {
        assert.strictEqual(encode(splitAt(data, [i, j])), expected, `split at ${i}, ${j}`)
        for (const k of [0, 1, 2, 3]) assert.strictEqual(encode(splitAt(data, [i, j]), k), model(sample, k))
      }
    }
  })

  it("done turns true once TOP has passed its lines, and later input is ignored", () => {
    const stuffer = DotStuffer.make({ bodyLines: 1 })
    assert.isFalse(stuffer.done)
    assert.strictEqual(text(stuffer.push(bytes("H: 1\r\n\r\n"))), "H: 1\r\n\r\n")
    assert.isFalse(stuffer.done)
    assert.strictEqual(text(stuffer.push(bytes("b1\r\nb2\r\n"))), "b1\r\n")
    assert.isTrue(stuffer.done)
    assert.strictEqual(stuffer.push(bytes("more\r\n")).length, 0)
    assert.strictEqual(text(stuffer.end()), ".\r\n")
  })

  it("without TOP, done stays false", () => {
    const stuffer = DotStuffer.make()
    stuffer.push(bytes("H\r\n\r\nb\r\n"))
    assert.isFalse(stuffer.done)
  })

  it("encodeInto writes at the offset, returns the end, and touches nothing else", () => {
    const stuffer = DotStuffer.make()
    const chunk = bytes(".a\nb")
    const out = new Uint8Array(4 + DotStuffer.maxEncodedLength(chunk.length) + 4).fill(0xff)
    const end = stuffer.encodeInto(chunk, out, 4)
    assert.strictEqual(Buffer.from(out.subarray(4, end)).toString("latin1"), "..a\r\nb")
    assert.isTrue(out.subarray(0, 4).every((b) => b === 0xff))
    assert.isTrue(out.subarray(end).every((b) => b === 0xff))
  })

  it("no chunk encodes to more than maxEncodedLength octets", () => {
    for (const text of [".\n.\n.\n", "\r\r\r", "\n\n\n", ".\r.\r", "."]) {
      const chunk = bytes(text)
      assert.isAtMost(DotStuffer.make().push(chunk).length, DotStuffer.maxEncodedLength(chunk.length), JSON.stringify(text))
    }
  })

  it("a large message passes unchanged apart from stuffing", () => {
    const line = "0123456789".repeat(7) + "\r\n"
    const body = (line + "." + line).repeat(10_000)
    const stuffer = DotStuffer.make()
    const out = concat([stuffer.push(bytes(body)), stuffer.end()])
    assert.strictEqual(out.length, body.length + 10_000 + 3)
  })

  it.prop(
    "re-chunking never changes the output, which matches the reference model",
    [
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 5 }))),
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10_000 }))),
      Schema.Int.check(Schema.isBetween({ minimum: -1, maximum: 4 }))
    ],
    ([picks, cuts, k]) => {
      const message = fromAlphabet("a.\r\n\n.", picks)
      const bodyLines = k < 0 ? undefined : k
      const data = bytes(message)
      const expected = model(message, bodyLines)
      assert.strictEqual(encode([data], bodyLines), expected)
      assert.strictEqual(encode(splitAt(data, cuts), bodyLines), expected)
      assert.strictEqual(encode(octets(data), bodyLines), expected)
    },
    { arbitrary: { runs: 500, size: 60 } }
  )
})
