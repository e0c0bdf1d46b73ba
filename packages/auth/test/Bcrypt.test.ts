import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as Bcrypt from "../src/Bcrypt.ts"
import * as PasswordScheme from "../src/PasswordScheme.ts"

// Damien Miller's test vectors for the OpenBSD bcrypt algorithm (shipped with jBCrypt, his Java port of
// OpenBSD's bcrypt.c): password, expected crypt string.
const openbsdVectors: ReadonlyArray<readonly [string, string]> = [
  ["", "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."],
  ["", "$2a$08$HqWuK6/Ng6sg9gQzbLrgb.Tl.ZHfXLhvt/SgVyWhQqgqcZ7ZuUtye"],
  ["", "$2a$10$k1wbIrmNyFAPwPVPSVa/zecw2BCEnBwVS2GbrmgzxFUOqW9dk4TCW"],
  ["", "$2a$12$k42ZFHFWqBp3vWli.nIn8uYyIkbvYRvodzbfbK18SSsY.CsIQPlxO"],
  ["a", "$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe"],
  ["a", "$2a$08$cfcvVd2aQ8CMvoMpP2EBfeodLEkkFJ9umNEfPD18.hUF62qqlC/V."],
  ["a", "$2a$10$k87L/MF28Q673VKh8/cPi.SUl7MU/rWuSiIDDFayrKk/1tBsSQu4u"],
  ["a", "$2a$12$8NJH3LsPrANStV6XtBakCez0cKHXVxmvxIlcz785vxAIZrihHZpeS"],
  ["abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"],
  ["abc", "$2a$08$Ro0CUfOqk6cXEKf3dyaM7OhSCvnwM9s4wIX9JeLapehKK5YdLxKcm"],
  ["abc", "$2a$10$WvvTPHKwdBJ3uk0Z37EMR.hLA2W6N9AEBhEgrAOljy2Ae5MtaSIUi"],
  ["abc", "$2a$12$EXRkfkdmXn2gzds2SSitu.MW9.gAVqa9eLS1//RYtYCmB1eLHg.9q"],
  ["abcdefghijklmnopqrstuvwxyz", "$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC"],
  ["abcdefghijklmnopqrstuvwxyz", "$2a$08$aTsUwsyowQuzRrDqFflhgekJ8d9/7Z3GV3UcgvzQW3J5zMyrTvlz."],
  ["abcdefghijklmnopqrstuvwxyz", "$2a$10$fVH8e28OQRj9tqiDXs1e1uxpsjN0c7II7YPKXua2NAKYvM6iQk7dq"],
  ["abcdefghijklmnopqrstuvwxyz", "$2a$12$D4G5f18o7aMMfwasBL7GpuQWuP3pkrZrOAnqP.bmezbMng.QwJ/pG"],
  ["~!@#$%^&*()      ~!@#$%^&*()PNBFRD", "$2a$06$fPIsBO8qRqkjj273rfaOI.HtSV9jLDpTbZn782DC6/t7qT67P6FfO"],
  ["~!@#$%^&*()      ~!@#$%^&*()PNBFRD", "$2a$08$Eq2r4G/76Wv39MzSX262huzPz612MZiYHVUJe/OcOql2jo4.9UxTW"],
  ["~!@#$%^&*()      ~!@#$%^&*()PNBFRD", "$2a$10$LgfYWkbzEvQ4JakH7rOvHe0y8pHKF9OaFgwUZ2q7W2FFZmZzJYlfS"],
  ["~!@#$%^&*()      ~!@#$%^&*()PNBFRD", "$2a$12$WApznUOJfkEGSmYRfnkrPOr466oFDCaj4b6HY3EXGvfxm43seyhgC"]
]

// Openwall crypt_blowfish's vectors (those whose passwords are text), including the 72-octet key limit, and the
// same keys under $2b$/$2y$ and a UTF-8 password, each checked against libxcrypt's crypt(3) on Debian 12.
const openwallVectors: ReadonlyArray<readonly [string, string]> = [
  ["U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"],
  ["U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"],
  ["U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"],
  [
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored",
    "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"
  ],
  ["", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"],
  ["U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"],
  ["U*U", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"],
  ["pässwörd ✓", "$2b$06$abcdefghijklmnopqrstuuaZPHaeUKncN6Wb.2sBg/z7IOSXZmIVS"]
]

// Written by Dovecot 2.3.19's `doveadm pw -s BLF-CRYPT` (its default cost 5) and `-s CRYPT`.
const dovecotVectors: ReadonlyArray<readonly [string, string]> = [
  ["{BLF-CRYPT}$2y$05$V778H70seE0mjjsVv42ijuUJA4RvSk.1nVMRDxzY8PPhq4OT2n3JO", "carol: pw"],
  ["{BLF-CRYPT}$2y$08$mHjeRp5dQ1SmSxy9VS.0QeAyV4k9zbff0wuN95oHt7ZC3.P43pEBC", "cost8"],
  ["{CRYPT}$2y$05$VEeOonySWCchZAhd1tHQl.EeoaT2SErhLD8t6INxcS8m.3NMDI84m", "erin"],
  ["{BLF-CRYPT}$2y$05$6ApJf69qx5GBc.io3kuwK.oIxHLcrbFGf3b/khKR59VfVZ6Qv/cp6", "S3cret pässwörd"]
]

describe("Bcrypt", () => {
  describe("known-answer vectors", () => {
    for (const [password, expected] of [...openbsdVectors, ...openwallVectors]) {
      it.effect(`${JSON.stringify(password).slice(0, 24)} → ${expected.slice(0, 29)}`, () =>
        Effect.gen(function*() {
          const stored = Bcrypt.parse(expected)
          assert.isDefined(stored)
          assert.strictEqual(yield* Bcrypt.digest(password, stored!), expected.slice(29))
          // Through the stored-string path (where the empty password never verifies, by design).
          if (password !== "") assert.isTrue(yield* PasswordScheme.verify("{BLF-CRYPT}" + expected, password))
          assert.isFalse(yield* PasswordScheme.verify("{BLF-CRYPT}" + expected, "x" + password))
        }), 30_000)
    }
  })

  describe("Dovecot-written values", () => {
    for (const [stored, password] of dovecotVectors) {
      it.effect(`${stored.slice(0, 22)}… verifies`, () =>
        Effect.gen(function*() {
          assert.isTrue(yield* PasswordScheme.verify(stored, password))
          assert.isFalse(yield* PasswordScheme.verify(stored, password.toUpperCase()))
        }))
    }
  })

  it("only the first 72 octets count (and $2a$/$2b$/$2y$ agree on text passwords)", () =>
    Effect.runPromise(Effect.gen(function*() {
      const salt = { minor: "b" as const, cost: 4, salt: "abcdefghijklmnopqrstuu" }
      const a = yield* Bcrypt.digest("x".repeat(72), salt)
      assert.strictEqual(yield* Bcrypt.digest("x".repeat(80), salt), a)
      assert.strictEqual(a, "bzadhGtS2zEF.gu0yd0opP6cVzb.e0i") // libxcrypt
      assert.strictEqual(yield* Bcrypt.digest("x".repeat(72), { ...salt, minor: "y" }), a)
      assert.strictEqual(yield* Bcrypt.digest("x".repeat(72), { ...salt, minor: "a" }), a)
    })))

  it("parse: shape and cost bounds", () => {
    const good = "$2b$10$k87L/MF28Q673VKh8/cPi.SUl7MU/rWuSiIDDFayrKk/1tBsSQu4u"
    assert.deepStrictEqual(Bcrypt.parse(good), {
      minor: "b",
      cost: 10,
      salt: "k87L/MF28Q673VKh8/cPi.",
      hash: "SUl7MU/rWuSiIDDFayrKk/1tBsSQu4u"
    })
    assert.isUndefined(Bcrypt.parse(good.slice(0, -1)))
    assert.isUndefined(Bcrypt.parse(good.replace("$2b$", "$2x$")), "$2x$ (crypt_blowfish's buggy revision) is not read")
    assert.isUndefined(Bcrypt.parse(good.replace("$10$", "$03$")))
    assert.isUndefined(Bcrypt.parse(good.replace("$10$", "$17$")), "above maxCost")
    assert.isDefined(Bcrypt.parse(good.replace("$10$", "$16$")))
    for (const [stored, message] of [
      ["{BLF-CRYPT}" + good.replace("$10$", "$20$"), "cost outside"],
      ["{BLF-CRYPT}$2b$10$short", "expected $2b$NN$"],
      ["{BLF-CRYPT}" + good.replace("$2b$", "$2x$"), "only $5$, $6$"]
    ] as const) {
      const parsed = PasswordScheme.parse(stored)
      assert.isTrue(Result.isFailure(parsed) && parsed.failure.message.includes(message), stored)
    }
  })

  it.effect("hash writes $2b$ at the default cost and verifies; format inverts parse", () =>
    Effect.gen(function*() {
      const stored = yield* PasswordScheme.hash("fresh pässword", "BLF-CRYPT")
      assert.match(stored, /^\{BLF-CRYPT\}\$2b\$10\$[./A-Za-z0-9]{53}$/)
      assert.isTrue(yield* PasswordScheme.verify(stored, "fresh pässword"))
      assert.isFalse(yield* PasswordScheme.verify(stored, "fresh password"))
      const parsed = PasswordScheme.parse(stored)
      assert.isTrue(Result.isSuccess(parsed) && PasswordScheme.format(parsed.success) === stored)
    }))

  it.effect("the dummy has the given cost and matches nothing", () =>
    Effect.gen(function*() {
      const dummy = Bcrypt.dummy(5)
      assert.isDefined(Bcrypt.parse(Bcrypt.format(dummy)))
      assert.isFalse(yield* PasswordScheme.verifyStored({ _tag: "Bcrypt", value: dummy }, "anything"))
    }))
})
