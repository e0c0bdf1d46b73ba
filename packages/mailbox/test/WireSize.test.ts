import { assert, describe, it } from "@effect/vitest"
import { WireSize } from "../src/index.ts"
import { bytes, referenceWireSize } from "./helpers.ts"

describe("WireSize", () => {
  it("counts CRLF-normalised octets plus a final CRLF when missing", () => {
    const golden: ReadonlyArray<readonly [string, number]> = [
      ["", 0],
      ["a", 3],
      ["a\r\n", 3],
      ["a\n", 3],
      ["a\r", 3],
      ["a\r\r\n", 5],
      ["a\n\r", 5],
      ["\n\n", 4],
      ["line\r\nline\nline\rline", 24],
      [".\r\n", 3]
    ]
    for (const [input, size] of golden) assert.strictEqual(WireSize.wireSize(bytes(input)), size, JSON.stringify(input))
  })

  it("gives the same total whatever the chunking, CR and LF split across chunks included", () => {
    let seed = 7
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
    const alphabet = [13, 10, 13, 10, 46, 97, 98]
    for (let round = 0; round < 300; round++) {
      const message = Uint8Array.from({ length: Math.floor(random() * 60) }, () => alphabet[Math.floor(random() * 7)]!)
      const counter = WireSize.makeSizeCounter()
      for (let offset = 0; offset < message.length;) {
        const end = offset + 1 + Math.floor(random() * 5)
        counter.push(message.subarray(offset, end))
        offset = end
      }
      assert.strictEqual(counter.total(), referenceWireSize(message))
      assert.strictEqual(WireSize.wireSize(message), referenceWireSize(message))
    }
  })
})
