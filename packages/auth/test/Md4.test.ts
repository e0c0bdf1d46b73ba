import { assert, describe, it } from "@effect/vitest"
import * as Md4 from "../src/Md4.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const md4 = (text: string) => hex(Md4.digest(new TextEncoder().encode(text)))

describe("Md4", () => {
  // RFC 1320, appendix A.5 ("MD4 test suite"): all seven vectors.
  const rfc1320: ReadonlyArray<readonly [string, string]> = [
    ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
    ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
    ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
    ["message digest", "d9130a8164549fe818874806e1c7014b"],
    ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"],
    ["1234567890".repeat(8), "e33b4ddc9c38f2199c3e7b164fcc0536"]
  ]
  for (const [input, expected] of rfc1320) {
    it(`RFC 1320: MD4(${JSON.stringify(input.length > 20 ? input.slice(0, 20) + "…" : input)})`, () => {
      assert.strictEqual(md4(input), expected)
    })
  }

  it("MS-NLMP 4.2.2.1.2: NT hash of \"Password\" (MD4 of its UTF-16LE bytes)", () => {
    assert.strictEqual(hex(Md4.digest(Buffer.from("Password", "utf16le"))), "a4f49c406510bdcab6824ee7c30fd852")
  })

  it("padding boundaries: 55, 56, 63, 64 and 65 octets give distinct 16-octet digests", () => {
    const digests = [55, 56, 63, 64, 65, 119, 120].map((n) => hex(Md4.digest(new Uint8Array(n).fill(0x61))))
    assert.strictEqual(new Set(digests).size, digests.length)
    for (const d of digests) assert.strictEqual(d.length, 32)
  })

  it("reads a subarray view correctly (offset into a larger buffer)", () => {
    const big = new TextEncoder().encode("xxabcxx")
    assert.strictEqual(hex(Md4.digest(big.subarray(2, 5))), "a448017aaf21d8525fc10ae87aa6729d")
  })
})
