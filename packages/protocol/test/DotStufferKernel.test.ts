import { assert, describe, it } from "@effect/vitest"
import { Buffer } from "node:buffer"
import { DotStuffer } from "../src/index.ts"

const LF = 10
const CR = 13
const DOT = 46

// Reference: the RETR wire form of a whole message, one octet at a time.
const reference = (message: Uint8Array): Buffer => {
  const out = Buffer.alloc(2 * message.length + 5)
  let at = 0
  let atLineStart = true
  for (let i = 0; i < message.length; i++) {
    const octet = message[i]!
    if (octet === CR || octet === LF) {
      out[at++] = CR
      out[at++] = LF
      if (octet === CR && message[i + 1] === LF) i++
      atLineStart = true
      continue
    }
    if (atLineStart && octet === DOT) out[at++] = DOT
    out[at++] = octet
    atLineStart = false
  }
  if (!atLineStart) {
    out[at++] = CR
    out[at++] = LF
  }
  out[at++] = DOT
  out[at++] = CR
  out[at++] = LF
  return out.subarray(0, at)
}

// A small seeded PRNG (mulberry32), so every run sees the same inputs.
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

// Through `encodeInto`, into one buffer at a running offset, checking that no chunk outgrows `maxEncodedLength`.
const encode = (chunks: ReadonlyArray<Uint8Array>): Buffer => {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0)
  const out = Buffer.alloc(DotStuffer.maxEncodedLength(total) + 64)
  const stuffer = DotStuffer.make()
  let at = 0
  for (const chunk of chunks) {
    const next = stuffer.encodeInto(chunk, out, at)
    assert.isAtMost(next - at, DotStuffer.maxEncodedLength(chunk.length))
    at = next
  }
  return Buffer.concat([out.subarray(0, at), stuffer.end()])
}

describe("DotStuffer RETR kernel", () => {
  it("matches the octet-by-octet reference on random messages and random splits", () => {
    const random = prng(0x5eed)
    const below = (n: number) => Math.floor(random() * n)
    // Octet mixes from dense in line ends and dots to plain text, and all 256 values.
    const alphabets = ["a.\r\n", "\r\n", "..\n", ".\r", "ab.\n", "abcdefgh.\r\n\n"].map((text) =>
      Buffer.from(text, "latin1")
    )
    for (let round = 0; round < 400; round++) {
      const length = round % 40 === 0 ? 200_000 + below(400_000) : round % 4 === 0 ? below(5000) : below(300)
      const message = Buffer.alloc(length)
      const alphabet = alphabets[below(alphabets.length + 1)]
      for (let i = 0; i < length; i++) {
        message[i] = alphabet === undefined ? below(256) : alphabet[below(alphabet.length)]!
      }
      const expected = reference(message)
      assert.isTrue(encode([message]).equals(expected), `round ${round}: one chunk`)
      const cuts: Array<Uint8Array> = []
      for (let from = 0; from < length;) {
        const size = below(4) === 0 ? 1 : below(4) === 0 ? 0 : 1 + below(length > 5000 ? 70_000 : 40)
        cuts.push(message.subarray(from, from + size))
        from += size
      }
      assert.isTrue(encode(cuts).equals(expected), `round ${round}: random chunks`)
      // Splits right after every CR of a short message (between CR and LF, or before a dot or another CR).
      if (length < 300) {
        const afterCR: Array<Uint8Array> = []
        let from = 0
        for (let i = 0; i < length; i++) {
          if (message[i] === CR) {
            afterCR.push(message.subarray(from, i + 1))
            from = i + 1
          }
        }
        afterCR.push(message.subarray(from))
        assert.isTrue(encode(afterCR).equals(expected), `round ${round}: split after every CR`)
      }
    }
  })

  it("one octet at a time matches the reference", () => {
    const message = Buffer.from("..a\r\n.\r\r\n\n.b\rc.\n\r.\r", "latin1")
    const octets = Array.from(message, (_, i) => message.subarray(i, i + 1))
    assert.isTrue(encode(octets).equals(reference(message)))
  })

  it("runs of 8 and 16 doubled octets, at every alignment", () => {
    for (const unit of ["\n", "\r", ".\n", ".\r"]) {
      for (let pad = 0; pad < 17; pad++) {
        const message = Buffer.from("x".repeat(pad) + unit.repeat(40), "latin1")
        assert.isTrue(encode([message]).equals(reference(message)), `${JSON.stringify(unit)} after ${pad}`)
      }
    }
  })

  it("a chunk larger than the kernel's window carries a CRLF, a dot and a line across its pieces", () => {
    for (const at of [256 * 1024 - 2, 256 * 1024 - 1, 256 * 1024, 512 * 1024 - 1]) {
      const message = Buffer.alloc(600_000, "a")
      message.write("\r\n.x", at, "latin1")
      message.write("\r.", at + 10_000, "latin1")
      assert.isTrue(encode([message]).equals(reference(message)), `at ${at}`)
    }
  })

  it("empty chunks change nothing, at the start, between CR and LF and after a line start", () => {
    const empty = new Uint8Array(0)
    const parts = [empty, Buffer.from("a\r"), empty, Buffer.from("\n"), empty, Buffer.from(".b\n"), empty]
    assert.isTrue(encode(parts).equals(reference(Buffer.from("a\r\n.b\n"))))
    assert.strictEqual(Buffer.from(DotStuffer.make().push(empty)).length, 0)
  })
})
