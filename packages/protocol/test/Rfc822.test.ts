import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { DotStuffer, Rfc822 } from "../src/index.ts"
import { bytes, concat, fromAlphabet, octets, splitAt, text } from "./helpers.ts"

// The bytes DotStuffer sends, minus the stuffing dots and the ".CRLF" terminator.
const unstuffedLength = (data: Uint8Array): number => {
  const stuffer = DotStuffer.make()
  const wire = text(concat([stuffer.push(data), stuffer.end()]))
  const body = wire.slice(0, -3)
  const stuffing = body.length === 0 ? 0 : body.slice(0, -2).split("\r\n").filter((line) => line.startsWith(".")).length
  return body.length - stuffing
}

const counted = (chunks: ReadonlyArray<Uint8Array>): number => {
  const counter = Rfc822.makeSizeCounter()
  for (const chunk of chunks) counter.push(chunk)
  return counter.total()
}

// [stored message, wire size]
const goldens: ReadonlyArray<readonly [string, number]> = [
  ["", 0],
  ["a\r\n", 3],
  ["a\n", 3],
  ["a\r", 3],
  ["a", 3],
  [".a\r\n", 4],
  ["a\r\nb", 6],
  ["\r\n\r\n", 4],
  ["\n\r", 4],
  ["a\r\r\nb\n", 8]
]

describe("Rfc822", () => {
  for (const [message, size] of goldens) {
    it(`golden: ${JSON.stringify(message)} is ${size} octets`, () => {
      assert.strictEqual(Rfc822.wireSize(bytes(message)), size)
      assert.strictEqual(counted(octets(bytes(message))), size)
      assert.strictEqual(unstuffedLength(bytes(message)), size)
    })
  }

  it("total() can be read midway", () => {
    const counter = Rfc822.makeSizeCounter()
    counter.push(bytes("ab"))
    assert.strictEqual(counter.total(), 4)
    counter.push(bytes("\r"))
    assert.strictEqual(counter.total(), 4)
    counter.push(bytes("\n"))
    assert.strictEqual(counter.total(), 4)
    counter.push(new Uint8Array(0))
    assert.strictEqual(counter.total(), 4)
  })

  it.prop(
    "wireSize equals the unstuffed length of DotStuffer's output, however the message is chunked",
    [
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 5 }))),
      Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10_000 })))
    ],
    ([picks, cuts]) => {
      const data = bytes(fromAlphabet("a.\r\n\r\n", picks))
      const size = unstuffedLength(data)
      assert.strictEqual(Rfc822.wireSize(data), size)
      assert.strictEqual(counted(splitAt(data, cuts)), size)
      assert.strictEqual(counted(octets(data)), size)
    },
    { arbitrary: { runs: 500, size: 60 } }
  )
})
