import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { Sasl } from "../src/index.ts"
import { bytes, text } from "./helpers.ts"

const decoded = (input: string): string | { error: string } => {
  const result = Sasl.decodeBase64(input)
  return Result.isSuccess(result) ? text(result.success) : { error: result.failure }
}

// [base64 input, decoded latin1 text or error]
const base64Goldens: ReadonlyArray<readonly [string, string | { error: string }]> = [
  ["=", ""],
  ["", ""],
  ["QQ==", "A"],
  ["QUI=", "AB"],
  ["QUJD", "ABC"],
  ["AHRpbQB0YW5zdGFhZnRhbnN0YWFm", "\0tim\0tanstaaftanstaaf"],
  ["+/+/", "\xfb\xff\xbf"],
  ["QQ", { error: "base64 length is not a multiple of 4" }],
  ["QQ=", { error: "base64 length is not a multiple of 4" }],
  ["QQ=A", { error: "not valid base64" }],
  ["Q===", { error: "not valid base64" }],
  ["====", { error: "not valid base64" }],
  ["QQ==QQ==", { error: "not valid base64" }],
  ["QU I", { error: "not valid base64" }],
  ["QUJ-", { error: "not valid base64" }],
  ["QUJ_", { error: "not valid base64" }],
  ["QR==", { error: "base64 padding bits are not zero" }],
  ["QUJ=", { error: "base64 padding bits are not zero" }]
]

const plain = (raw: string) => {
  const result = Sasl.decodePlain(bytes(raw))
  return Result.isSuccess(result) ? result.success : { error: result.failure }
}

// [raw PLAIN message (latin1 octets), credentials or error]
const plainGoldens: ReadonlyArray<
  readonly [string, Sasl.PlainCredentials | { error: string }]
> = [
  ["\0tim\0tanstaaftanstaaf", { authzid: "", authcid: "tim", password: "tanstaaftanstaaf" }],
  ["admin\0tim\0pass word ", { authzid: "admin", authcid: "tim", password: "pass word " }],
  ["\0j\xc3\xb6rg\0p\xc3\xa4ss", { authzid: "", authcid: "j\u00f6rg", password: "p\u00e4ss" }],
  ["tim\0secret", { error: "PLAIN message must have exactly three NUL-separated fields" }],
  ["\0tim\0secret\0", { error: "PLAIN message must have exactly three NUL-separated fields" }],
  ["", { error: "PLAIN message must have exactly three NUL-separated fields" }],
  ["\0\0secret", { error: "PLAIN authentication identity is empty" }],
  ["\0tim\0", { error: "PLAIN password is empty" }],
  ["\0tim\0\xff\xfe", { error: "PLAIN message is not valid UTF-8" }],
  ["\0t\xc3\0secret", { error: "PLAIN message is not valid UTF-8" }]
]

describe("Sasl", () => {
  for (const [input, expected] of base64Goldens) {
    it(`golden base64: ${JSON.stringify(input)}`, () => {
      assert.deepStrictEqual(decoded(input), expected)
    })
  }

  it("encodeBase64 round-trips", () => {
    for (const sample of ["", "A", "AB", "ABC", "\0tim\0secret", "\xff\xfe\xfd\xfc"]) {
      const encoded = Sasl.encodeBase64(bytes(sample))
      assert.strictEqual(decoded(encoded === "" ? "=" : encoded), sample)
    }
    assert.strictEqual(Sasl.encodeBase64(bytes("ABC")), "QUJD")
    assert.strictEqual(Sasl.encodeBase64(new Uint8Array(0)), "")
  })

  for (const [raw, expected] of plainGoldens) {
    it(`golden PLAIN: ${JSON.stringify(raw)}`, () => {
      assert.deepStrictEqual(plain(raw), expected)
    })
  }

  it("PLAIN errors never echo the password", () => {
    for (const raw of ["\0tim\0s3cr3t\0", "\0\0s3cr3t", "\0tim\0s3cr3t\xff"]) {
      const result = Sasl.decodePlain(bytes(raw))
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) assert.notInclude(result.failure, "s3cr3t")
    }
  })
})
