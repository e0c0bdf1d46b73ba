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

// The wire size straight from its definition: every line end becomes CRLF, a last line without one gets one.
const normalisedLength = (data: Uint8Array): number => {
  if (data.length === 0) return 0
  const normalised = text(data).replace(/\r\n|\r|\n/g, "\r\n")
  return normalised.length + (normalised.endsWith("\r\n") ? 0 : 2)
}

// Deterministic noise (xorshift32) over a small alphabet, for inputs too long to generate as properties.
const noise = (length: number, alphabet: string, seed: number): Uint8Array => {
  const out = new Uint8Array(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = alphabet.charCodeAt((x >>> 0) % alphabet.length)
  }
  return out
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
      assert.deepStrictEqual(Rfc822.sizesOfRead((into) => (into.set(data), data.length)), {
        storageSize: data.length,
        wireSize: size
      })
      assert.strictEqual(counted(splitAt(data, cuts)), size)
      assert.strictEqual(counted(octets(data)), size)
    },
    { arbitrary: { runs: 500, size: 60 } }
  )

  it("sizesOfRead: a read that fills the kernel's buffer is left to the streaming counter", () => {
    assert.strictEqual(Rfc822.sizesOfRead((into) => into.length), undefined)
    assert.deepStrictEqual(Rfc822.sizesOfRead(() => 0), { storageSize: 0, wireSize: 0 })
  })

  // The counting kernel takes 16 octets at a time and looks one octet ahead for CRLF: a line end in every position
  // of the first blocks, and a CRLF across every block edge.
  for (const end of ["\r\n", "\r", "\n", "\n\r", "\r\r\n"]) {
    it(`table: ${JSON.stringify(end)} at every offset of messages up to 50 octets`, () => {
      for (let length = end.length; length <= 50; length++) {
        for (let at = 0; at + end.length <= length; at++) {
          const message = bytes("x".repeat(at) + end + "y".repeat(length - at - end.length))
          const size = normalisedLength(message)
          assert.strictEqual(Rfc822.wireSize(message), size, `${JSON.stringify(end)} at ${at} of ${length}`)
          assert.strictEqual(counted(splitAt(message, [at + 1])), size, `split after ${at + 1} of ${length}`)
        }
      }
    })
  }

  it("table: long messages, whole, in read-sized chunks and cut at odd places, agree with the definition", () => {
    const mib = 1024 * 1024
    const cases: ReadonlyArray<readonly [string, Uint8Array]> = [
      ["LF only", noise(mib + mib / 2 + 5, "ab\n", 1)],
      ["dense CR and LF", noise(mib + 17, "a\r\n", 2)],
      ["CRLF only", bytes("line\r\n".repeat(200_000))],
      ["no line end", noise(mib + 1, "ab", 3)]
    ]
    for (const [name, message] of cases) {
      // a CRLF across the 1 MiB edge where long chunks are counted in pieces
      if (name !== "no line end") message.set([13, 10], mib - 1)
      const size = normalisedLength(message)
      assert.strictEqual(Rfc822.wireSize(message), size, name)
      assert.strictEqual(counted(splitAt(message, [65_536, 131_072, 131_073, mib, mib + 1, mib + 9])), size, name)
      assert.strictEqual(counted(splitAt(message, [1, 2, 15, 16, 17, 33, mib - 1, mib + 15])), size, name)
    }
  })
})
