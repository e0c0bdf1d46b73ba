import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Result } from "effect"
import * as PasswordScheme from "../src/PasswordScheme.ts"
import { fastParams } from "./helpers.ts"

// Generated once with Node's crypto.scryptSync("correct horse battery staple",
// salt 00..0f, 32, { N: 2 ** 15, r: 6, p: 1 }): the default cost.
const golden = "{SCRYPT}$scrypt$ln=15,r=6,p=1$AAECAwQFBgcICQoLDA0ODw$GxtLr/ChDeR5OAhPfGG8CosWVqF7MW47VZu6SOVkgVY"
// Same salt, password "pässwörd ✓", N = 2 ** 10, r = 8, p = 1 (UTF-8 password bytes).
const goldenUtf8 = "{SCRYPT}$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$eFOfxH9W97aT9tFGUTt/RmIVdrXe7XCS/ejEommn918"
// RFC 7914 section 12, third vector: "pleaseletmein", salt "SodiumChloride", N = 16384, r = 8, p = 1, 64 octets.
const rfc7914 = "{SCRYPT}$scrypt$ln=14,r=8,p=1$" + Buffer.from("SodiumChloride").toString("base64").replace(/=+$/, "") +
  "$" + Buffer.from(
    "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2" +
      "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887",
    "hex"
  ).toString("base64").replace(/=+$/, "")

describe("PasswordScheme", () => {
  describe("PLAIN", () => {
    const cases: ReadonlyArray<readonly [stored: string, password: string, expected: boolean]> = [
      ["{PLAIN}secret", "secret", true],
      ["{PLAIN}secret", "Secret", false],
      ["{PLAIN}secret", "secret ", false],
      ["{PLAIN}secret", "secre", false],
      ["{PLAIN}pass word  ", "pass word  ", true],
      ["{CLEARTEXT}secret", "secret", true],
      ["{plain}secret", "secret", true],
      ["{PLAIN}pässwörd", "pässwörd", true],
      ["{PLAIN}", "", false],
      ["{PLAIN}a:b", "a:b", true]
    ]
    for (const [stored, password, expected] of cases) {
      it.effect(`${stored} vs ${JSON.stringify(password)} → ${expected}`, () =>
        Effect.gen(function*() {
          assert.strictEqual(yield* PasswordScheme.verify(stored, password), expected)
        }))
    }

    it.effect("hash with PLAIN stores the password", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* PasswordScheme.hash("pw 1", "PLAIN"), "{PLAIN}pw 1")
      }))
  })

  describe("SCRYPT", () => {
    it.effect("golden vector at the default cost verifies", () =>
      Effect.gen(function*() {
        assert.isTrue(yield* PasswordScheme.verify(golden, "correct horse battery staple"))
        assert.isFalse(yield* PasswordScheme.verify(golden, "correct horse battery stapl"))
      }))

    it.effect("golden vector with a UTF-8 password verifies", () =>
      Effect.gen(function*() {
        assert.isTrue(yield* PasswordScheme.verify(goldenUtf8, "pässwörd ✓"))
        assert.isFalse(yield* PasswordScheme.verify(goldenUtf8, "passwörd ✓"))
      }))

    it.effect("RFC 7914 test vector verifies", () =>
      Effect.gen(function*() {
        assert.isTrue(yield* PasswordScheme.verify(rfc7914, "pleaseletmein"))
        assert.isFalse(yield* PasswordScheme.verify(rfc7914, "pleaseletmeout"))
      }))

    it.effect("hash then verify (default cost and format)", () =>
      Effect.gen(function*() {
        const stored = yield* PasswordScheme.hash("hunter2")
        assert.match(stored, /^\{SCRYPT\}\$scrypt\$ln=15,r=6,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
        assert.isTrue(yield* PasswordScheme.verify(stored, "hunter2"))
        assert.isFalse(yield* PasswordScheme.verify(stored, "hunter3"))
        assert.notStrictEqual(yield* PasswordScheme.hash("hunter2"), stored, "fresh salt each time")
      }))

    it.effect("hash with other cost parameters records them", () =>
      Effect.gen(function*() {
        const stored = yield* PasswordScheme.hash("pw", "SCRYPT", { params: fastParams })
        assert.isTrue(stored.startsWith("{SCRYPT}$scrypt$ln=10,r=8,p=1$"))
        assert.isTrue(yield* PasswordScheme.verify(stored, "pw"))
      }))

    it.effect("format inverts parse", () =>
      Effect.sync(() => {
        const parsed = PasswordScheme.parse(golden)
        assert.isTrue(Result.isSuccess(parsed))
        if (Result.isSuccess(parsed)) assert.strictEqual(PasswordScheme.format(parsed.success), golden)
      }))
  })

  describe("parse", () => {
    const failures: ReadonlyArray<readonly [stored: string, reason: string]> = [
      ["secret", "MissingScheme"],
      ["{secret", "MissingScheme"],
      ["{MD5-CRYPT}$1$abc$def", "UnknownScheme"],
      ["{SCRYPT}", "Malformed"],
      ["{SCRYPT}$scrypt$ln=15,r=6,p=1$AAECAwQFBgcICQoLDA0ODw", "Malformed"],
      ["{SCRYPT}$scrypt$ln=15,r=6,p=1$AAECAwQFBgcICQoLDA0ODw==$GxtLr/ChDeR5OAhPfGG8CosWVqF7MW47VZu6SOVkgVY", "Malformed"],
      ["{SCRYPT}$scrypt$ln=30,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$GxtLr/ChDeR5OAhPfGG8CosWVqF7MW47VZu6SOVkgVY", "Malformed"],
      ["{SCRYPT}$scrypt$ln=20,r=32,p=1$AAECAwQFBgcICQoLDA0ODw$GxtLr/ChDeR5OAhPfGG8CosWVqF7MW47VZu6SOVkgVY", "Malformed"],
      ["{SCRYPT}$scrypt$ln=15,r=0,p=1$AAECAwQFBgcICQoLDA0ODw$GxtLr/ChDeR5OAhPfGG8CosWVqF7MW47VZu6SOVkgVY", "Malformed"],
      ["{SCRYPT}$scrypt$ln=15,r=6,p=1$AAEC$GxtLr/ChDeR5OAhPfGG8CosWVqF7MW47VZu6SOVkgVY", "Malformed"]
    ]
    for (const [stored, reason] of failures) {
      it.effect(`${JSON.stringify(stored.slice(0, 40))} → ${reason}, never verifies`, () =>
        Effect.gen(function*() {
          const parsed = PasswordScheme.parse(stored)
          assert.isTrue(Result.isFailure(parsed))
          if (Result.isFailure(parsed)) {
            assert.strictEqual(parsed.failure._tag, "PasswordSchemeError")
            assert.strictEqual(parsed.failure.reason, reason)
          }
          assert.isFalse(yield* PasswordScheme.verify(stored, "secret"))
        }))
    }

    it("the error names the scheme, never the secret", () => {
      const parsed = PasswordScheme.parse("{MD5}topsecretvalue")
      assert.isTrue(Result.isFailure(parsed))
      if (Result.isFailure(parsed)) {
        assert.strictEqual(parsed.failure.scheme, "MD5")
        assert.notInclude(parsed.failure.message, "topsecretvalue")
      }
      const missing = PasswordScheme.parse("topsecretvalue")
      if (Result.isFailure(missing)) assert.notInclude(missing.failure.message, "topsecretvalue")
    })

    it("an empty string is a disabled account", () => {
      const parsed = PasswordScheme.parse("")
      assert.isTrue(Result.isSuccess(parsed) && parsed.success._tag === "Disabled")
    })

    it("a PLAIN secret is redacted when printed", () => {
      const parsed = PasswordScheme.parse("{PLAIN}topsecretvalue")
      assert.isTrue(Result.isSuccess(parsed))
      if (Result.isSuccess(parsed) && parsed.success._tag === "Plain") {
        assert.notInclude(String(parsed.success.secret), "topsecretvalue")
        assert.strictEqual(Redacted.value(parsed.success.secret), "topsecretvalue")
      }
    })
  })

  it.effect("an empty password never verifies, whatever is stored", () =>
    Effect.gen(function*() {
      const stored = yield* PasswordScheme.hash("", "SCRYPT", { params: fastParams })
      assert.isFalse(yield* PasswordScheme.verify(stored, ""))
      assert.isFalse(yield* PasswordScheme.verify("", ""))
    }))

  it.effect("the dummy value matches nothing", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* PasswordScheme.verifyStored(PasswordScheme.dummy(fastParams), "anything"))
    }))

  it.effect("schemeOf names the scheme without parsing the secret", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(
        ["{SCRYPT}$x", "{cleartext}y", "", "nope"].map(PasswordScheme.schemeOf),
        ["SCRYPT", "CLEARTEXT", "", "?"]
      )
    }))
})
