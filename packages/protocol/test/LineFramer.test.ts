import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { LineFramer } from "../src/index.ts"
import { bytes, concat, fromAlphabet, octets, splitAt } from "./helpers.ts"

type Event = string | typeof TOO
const TOO = Symbol("TooLong")

const run = (max: number, chunks: ReadonlyArray<Uint8Array>): Array<Event> => {
  const framer = LineFramer.make(max)
  return chunks.flatMap((chunk) => framer.push(chunk)).map((event) => (event._tag === "Line" ? event.line : TOO))
}

const a = (n: number) => "a".repeat(n)

// [name, maxLength, chunks, expected events]
const goldens: ReadonlyArray<readonly [string, number, ReadonlyArray<string>, ReadonlyArray<Event>]> = [
  ["CRLF lines", 512, ["USER bob\r\nPASS x\r\n"], ["USER bob", "PASS x"]],
  ["bare LF lines", 512, ["STAT\nLIST\n"], ["STAT", "LIST"]],
  ["mixed line ends", 512, ["A\r\nB\nC\r\n"], ["A", "B", "C"]],
  ["empty lines", 512, ["\r\n\n"], ["", ""]],
  ["no line end yet", 512, ["STAT"], []],
  ["line split across chunks", 512, ["ST", "AT\r", "\n"], ["STAT"]],
  ["CR and LF in separate chunks", 512, ["NOOP\r", "\nQUIT\r\n"], ["NOOP", "QUIT"]],
  ["CR inside a line is kept", 512, ["A\rB\r\n"], ["A\rB"]],
  ["latin1 decoding", 512, ["USER j\xf6rg\r\n"], ["USER j\xf6rg"]],
  ["510 + CRLF fits 512", 512, [a(510) + "\r\n"], [a(510)]],
  ["511 + CRLF is too long", 512, [a(511) + "\r\n"], [TOO]],
  ["512 + CRLF is too long", 512, [a(512) + "\r\n"], [TOO]],
  ["510 + bare LF fits 512", 512, [a(510) + "\n"], [a(510)]],
  ["511 + bare LF is too long", 512, [a(511) + "\n"], [TOO]],
  ["510 + CR, then LF, fits", 512, [a(510) + "\r", "\n"], [a(510)]],
  ["511 without a line end is reported early", 512, [a(511)], [TOO]],
  ["510 without a line end waits", 512, [a(510)], []],
  ["over-long line then a good one", 512, [a(600) + "\r\nSTAT\r\n"], [TOO, "STAT"]],
  [
    "over-long line split across many chunks, then a good line",
    512,
    [a(300), a(300), a(300), a(300) + "\r", "\nRETR 1\r\n"],
    [TOO, "RETR 1"]
  ],
  ["over-long line ended by a bare LF chunk", 10, [a(20), "\n", "NOOP\n"], [TOO, "NOOP"]],
  ["good, over-long, good in one chunk", 10, ["ok\r\n" + a(9) + "\r\nok2\r\n"], ["ok", TOO, "ok2"]],
  ["a CR that turns out not to end the line", 10, [a(8) + "\r", "x\r\n"], [TOO]]
]

describe("LineFramer", () => {
  for (const [name, max, chunks, expected] of goldens) {
    it(`golden: ${name}`, () => {
      const data = chunks.map(bytes)
      assert.deepStrictEqual(run(max, data), expected)
      // The same bytes, fed one octet at a time, frame identically.
      assert.deepStrictEqual(run(max, octets(concat(data))), expected)
    })
  }

  it("keeps no more than the partial line between pushes", () => {
    const framer = LineFramer.make(512)
    const events = framer.push(bytes(a(100_000)))
    assert.deepStrictEqual(events, [LineFramer.TooLong])
    assert.deepStrictEqual(framer.push(bytes(a(100_000))), [])
    assert.deepStrictEqual(framer.push(bytes("\r\nCAPA\r\n")), [{ _tag: "Line", line: "CAPA" }])
  })

  it("reset drops the buffered partial line", () => {
    const framer = LineFramer.make(512)
    assert.deepStrictEqual(framer.push(bytes("STLS\r\nGARB")), [{ _tag: "Line", line: "STLS" }])
    framer.reset()
    assert.deepStrictEqual(framer.push(bytes("CAPA\r\n")), [{ _tag: "Line", line: "CAPA" }])
  })

  it("reset ends a discard in progress", () => {
    const framer = LineFramer.make(10)
    assert.deepStrictEqual(framer.push(bytes(a(20))), [LineFramer.TooLong])
    framer.reset()
    assert.deepStrictEqual(framer.push(bytes("CAPA\r\n")), [{ _tag: "Line", line: "CAPA" }])
  })

  it("setMaxLength raises the limit for the following lines", () => {
    const framer = LineFramer.make(512)
    assert.deepStrictEqual(framer.push(bytes("AUTH GSSAPI\r\n")), [{ _tag: "Line", line: "AUTH GSSAPI" }])
    framer.setMaxLength(65536)
    const token = "Y".repeat(20_000)
    assert.deepStrictEqual(framer.push(bytes(token.slice(0, 7000))), [])
    assert.deepStrictEqual(framer.push(bytes(token.slice(7000) + "\r\n")), [{ _tag: "Line", line: token }])
    framer.setMaxLength(512)
    assert.deepStrictEqual(framer.push(bytes(token + "\r\n")), [LineFramer.TooLong])
  })

  it("does not keep a reference to the pushed chunk", () => {
    const framer = LineFramer.make(512)
    const chunk = bytes("RETR 12")
    framer.push(chunk)
    chunk.fill(0x41)
    assert.deepStrictEqual(framer.push(bytes("\r\n")), [{ _tag: "Line", line: "RETR 12" }])
  })

  // Reference model: the whole input at once, by the contract's rules.
  const model = (max: number, input: string): Array<Event> => {
    const parts = input.split("\n")
    const last = parts.pop()!
    const events: Array<Event> = parts.map((line) => {
      const content = line.endsWith("\r") ? line.slice(0, -1) : line
      return content.length + 2 > max ? TOO : content
    })
    if (last.length >= max || (last.length === max - 1 && !last.endsWith("\r"))) events.push(TOO)
    return events
  }

  it.prop(
    "re-chunking never changes the events, which match the reference model",
    [
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 5 }))),
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10_000 }))),
      Schema.Int.check(Schema.isBetween({ minimum: 2, maximum: 12 }))
    ],
    ([picks, cuts, max]) => {
      const input = fromAlphabet("ab \r\n\n", picks)
      const data = bytes(input)
      const expected = model(max, input)
      assert.deepStrictEqual(run(max, [data]), expected)
      assert.deepStrictEqual(run(max, splitAt(data, cuts)), expected)
      assert.deepStrictEqual(run(max, octets(data)), expected)
    },
    { arbitrary: { runs: 500, size: 120 } }
  )
})
