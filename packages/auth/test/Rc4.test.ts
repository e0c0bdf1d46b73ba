import { assert, describe, it } from "@effect/vitest"
import * as Rc4 from "../src/Rc4.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, "hex"))

/** The keystream octets [offset, offset + 16) for a key (the keystream is RC4 of zeros). */
const keystream = (key: string, offset: number) => hex(Rc4.transform(fromHex(key), new Uint8Array(offset + 16)).subarray(offset))

describe("Rc4", () => {
  // RFC 6229 section 2, "Test Vectors for RC4 with the Keys 0x0102030405…".
  const rfc6229: ReadonlyArray<readonly [key: string, offset: number, expected: string]> = [
    ["0102030405", 0, "b2396305f03dc027ccc3524a0a1118a8"],
    ["0102030405", 16, "6982944f18fc82d589c403a47a0d0919"],
    ["0102030405", 240, "28cb1132c96ce286421dcaadb8b69eae"],
    ["0102030405", 4080, "068326a2118416d21f9d04b2cd1ca050"],
    ["0102030405060708090a0b0c0d0e0f10", 0, "9ac7cc9a609d1ef7b2932899cde41b97"],
    ["0102030405060708090a0b0c0d0e0f10", 16, "5248c4959014126a6e8a84f11d1a9e1c"],
    ["0102030405060708090a0b0c0d0e0f10", 240, "065902e4b620f6cc36c8589f66432f2b"],
    ["0102030405060708090a0b0c0d0e0f10", 4080, "ff38265c1642c1abe8d3c2fe5e572bf8"]
  ]
  for (const [key, offset, expected] of rfc6229) {
    it(`RFC 6229: key ${key.length * 4}-bit, offset ${offset}`, () => {
      assert.strictEqual(keystream(key, offset), expected)
    })
  }

  it("the classic vectors: Key/Plaintext, Wiki/pedia, Secret/Attack at dawn", () => {
    const enc = (key: string, text: string) => hex(Rc4.transform(new TextEncoder().encode(key), new TextEncoder().encode(text)))
    assert.strictEqual(enc("Key", "Plaintext"), "bbf316e8d940af0ad3")
    assert.strictEqual(enc("Wiki", "pedia"), "1021bf0420")
    assert.strictEqual(enc("Secret", "Attack at dawn"), "45a01f645fc35b383552544b9bf5")
  })

  it("MS-NLMP 4.2.4: RC4(SessionBaseKey, RandomSessionKey 0x55…) is the EncryptedRandomSessionKey", () => {
    const sessionBaseKey = fromHex("8de40ccadbc14a82f15cb0ad0de95ca3")
    const encrypted = Rc4.transform(sessionBaseKey, new Uint8Array(16).fill(0x55))
    assert.strictEqual(hex(encrypted), "c5dad2544fc9799094ce1ce90bc9d03e")
    assert.strictEqual(hex(Rc4.transform(sessionBaseKey, encrypted)), "55".repeat(16), "decrypting is the same operation")
  })

  it("refuses an empty or over-long key", () => {
    assert.throws(() => Rc4.transform(new Uint8Array(0), new Uint8Array(1)))
    assert.throws(() => Rc4.transform(new Uint8Array(257), new Uint8Array(1)))
  })
})
