import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Result } from "effect"
import * as PasswordScheme from "../src/PasswordScheme.ts"
import * as ShaCrypt from "../src/ShaCrypt.ts"

// Every test vector of Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" (the tables at the end of the
// specification, also in glibc's crypt-sha256.c/crypt-sha512.c): setting, password, expected crypt string.
const sha256Vectors: ReadonlyArray<readonly [string, string, string]> = [
  ["$5$saltstring", "Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"],
  [
    "$5$rounds=10000$saltstringsaltstring",
    "Hello world!",
    "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"
  ],
  [
    "$5$rounds=5000$toolongsaltstring",
    "This is just a test",
    "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"
  ],
  [
    "$5$rounds=1400$anotherlongsaltstring",
    "a very much longer text to encrypt.  This one even stretches over morethan one line.",
    "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"
  ],
  [
    "$5$rounds=77777$short",
    "we have a short salt string but not a short password",
    "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"
  ],
  [
    "$5$rounds=123456$asaltof16chars..",
    "a short string",
    "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"
  ],
  [
    "$5$rounds=10$roundstoolow",
    "the minimum number is still observed",
    "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"
  ]
]

const sha512Vectors: ReadonlyArray<readonly [string, string, string]> = [
  [
    "$6$saltstring",
    "Hello world!",
    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
  ],
  [
    "$6$rounds=10000$saltstringsaltstring",
    "Hello world!",
    "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."
  ],
  [
    "$6$rounds=5000$toolongsaltstring",
    "This is just a test",
    "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"
  ],
  [
    "$6$rounds=1400$anotherlongsaltstring",
    "a very much longer text to encrypt.  This one even stretches over morethan one line.",
    "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"
  ],
  [
    "$6$rounds=77777$short",
    "we have a short salt string but not a short password",
    "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"
  ],
  [
    "$6$rounds=123456$asaltof16chars..",
    "a short string",
    "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"
  ],
  [
    "$6$rounds=10$roundstoolow",
    "the minimum number is still observed",
    "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."
  ]
]

// Made with Dovecot 2.3.19's `doveadm pw` and glibc/libxcrypt crypt(3) on Debian 12 (UTF-8 passwords).
const dovecotVectors: ReadonlyArray<readonly [string, string]> = [
  [
    "{SHA512-CRYPT}$6$IeL.tL0Nsec.aL5R$PcufsCa4wgqaghtmMWdFgNLYPsKbYXeJGn.Ma69vd8kEhHmdglPwH9dWshiSf4dK2Agcf1tlyVHK3HQqb8aR71",
    "alice pw"
  ],
  ["{SHA256-CRYPT}$5$7gSPBqKj562mUR4N$o.vOMF7F.yxt5JU5p/P3brYjXOfBkQVXCte.djRFFs0", "bob-pw"],
  [
    "{SHA512-CRYPT}$6$rounds=7000$00XwsXC775zAerbv$chKbdDsP9yGY37sQdJ4UBE7ge3wTsd6TGFzXYQbd0xY/rMiORusoThARlyruBXP/V4y6t3t4eVgnSNT1H6Prl/",
    "dävé ✓"
  ],
  [
    "{CRYPT}$6$abcdefgh$5h9Mm.ecuztnrJC6T7cAtQ4o7FtYpL4tT67zsYdnhVxFZgTNpIjaD6Iwfs7gKwWwyjrO5Eb.hHVDSKewe9tkc/",
    "ivan"
  ]
]

describe("ShaCrypt", () => {
  describe("Drepper's test vectors", () => {
    for (const [setting, password, expected] of [...sha256Vectors, ...sha512Vectors]) {
      it.effect(`${setting} → ${expected.slice(0, 30)}…`, () =>
        Effect.gen(function*() {
          assert.strictEqual(yield* ShaCrypt.crypt(password, setting), expected)
          // The output is itself a valid setting that reproduces itself.
          assert.strictEqual(yield* ShaCrypt.crypt(password, expected), expected)
          // And as a stored {SCHEME} string it verifies the password and nothing else.
          const scheme = expected.startsWith("$5$") ? "{SHA256-CRYPT}" : "{SHA512-CRYPT}"
          assert.isTrue(yield* PasswordScheme.verify(scheme + expected, password))
          assert.isFalse(yield* PasswordScheme.verify(scheme + expected, password + "x"))
          assert.isFalse(yield* PasswordScheme.verify(scheme + expected, password.slice(1)))
        }), 30_000)
    }
  })

  describe("Dovecot-written values", () => {
    for (const [stored, password] of dovecotVectors) {
      it.effect(`${stored.slice(0, 24)}… verifies`, () =>
        Effect.gen(function*() {
          assert.isTrue(yield* PasswordScheme.verify(stored, password))
          assert.isFalse(yield* PasswordScheme.verify(stored, password.toUpperCase()))
          assert.isFalse(yield* PasswordScheme.verify(stored, ""))
        }))
    }
  })

  it("parseSetting clamps rounds and cuts the salt like glibc", () => {
    assert.deepStrictEqual(ShaCrypt.parseSetting("$5$rounds=10$roundstoolow"), {
      variant: "SHA-256",
      rounds: 1000,
      roundsCustom: true,
      salt: "roundstoolow"
    })
    assert.deepStrictEqual(ShaCrypt.parseSetting("$6$rounds=9999999999$x"), {
      variant: "SHA-512",
      rounds: ShaCrypt.roundsMax,
      roundsCustom: true,
      salt: "x"
    })
    assert.deepStrictEqual(ShaCrypt.parseSetting("$6$toolongsaltstring$ignored"), {
      variant: "SHA-512",
      rounds: 5000,
      roundsCustom: false,
      salt: "toolongsaltstrin"
    })
    assert.strictEqual(ShaCrypt.parseSetting("$1$md5crypt"), undefined)
  })

  it("parseStored is strict about shape and digest length", () => {
    const good = sha512Vectors[0]![2]
    assert.isDefined(ShaCrypt.parseStored(good))
    assert.isUndefined(ShaCrypt.parseStored(good.slice(0, -1)), "short digest")
    assert.isUndefined(ShaCrypt.parseStored(good + "A"), "long digest")
    assert.isUndefined(ShaCrypt.parseStored("$6$saltstring"), "no digest")
    assert.isUndefined(ShaCrypt.parseStored("$6$toolongsaltstring$" + good.slice(-86)), "salt over 16")
    assert.isUndefined(ShaCrypt.parseStored("$6$sa:lt$" + good.slice(-86)), "':' in salt")
    assert.isUndefined(ShaCrypt.parseStored("$5$saltstring$" + good.slice(-86)), "SHA-512 digest under $5$")
    assert.isDefined(ShaCrypt.parseStored("$6$$" + good.slice(-86)), "an empty salt is allowed")
  })

  it("stored strings: malformed and over-limit values are errors naming the scheme only", () => {
    const digest = sha512Vectors[0]![2].slice(-86)
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["{SHA512-CRYPT}$6$salt", "SHA512-CRYPT"],
      [`{SHA512-CRYPT}$6$rounds=1000001$salt$${digest}`, "SHA512-CRYPT"],
      ["{CRYPT}abJnggxhB/yWI", "CRYPT"],
      ["{CRYPT}$1$saltsalt$hashhashhashhashhashha", "CRYPT"]
    ]
    for (const [stored, scheme] of cases) {
      const parsed = PasswordScheme.parse(stored)
      assert.isTrue(Result.isFailure(parsed), stored)
      if (Result.isFailure(parsed)) {
        assert.strictEqual(parsed.failure.reason, "Malformed")
        assert.strictEqual(parsed.failure.scheme, scheme)
        assert.notInclude(parsed.failure.message, "salt$")
      }
    }
    const atLimit = PasswordScheme.parse(`{SHA512-CRYPT}$6$rounds=1000000$salt$${digest}`)
    assert.isTrue(Result.isSuccess(atLimit))
  })

  it.effect("hash writes Dovecot's default form and verifies", () =>
    Effect.gen(function*() {
      for (const scheme of ["SHA512-CRYPT", "SHA256-CRYPT"] as const) {
        const stored = yield* PasswordScheme.hash("new pässword", scheme)
        const id = scheme === "SHA512-CRYPT" ? "6" : "5"
        const len = scheme === "SHA512-CRYPT" ? 86 : 43
        assert.match(stored, new RegExp(`^\\{${scheme}\\}\\$${id}\\$[./0-9A-Za-z]{16}\\$[./0-9A-Za-z]{${len}}$`))
        assert.isTrue(yield* PasswordScheme.verify(stored, "new pässword"))
        assert.isFalse(yield* PasswordScheme.verify(stored, "new password"))
        const parsed = PasswordScheme.parse(stored)
        assert.isTrue(Result.isSuccess(parsed) && PasswordScheme.format(parsed.success) === stored)
      }
    }))

  it.live("the rounds loop yields to the event loop between slices", () =>
    Effect.gen(function*() {
      let ticks = 0
      let running = true
      const tick = () => {
        ticks++
        if (running) setImmediate(tick)
      }
      setImmediate(tick)
      const setting = ShaCrypt.parseSetting("$6$rounds=20000$yieldtest")!
      yield* ShaCrypt.digest(new TextEncoder().encode("pw"), setting)
      running = false
      // 20000 rounds are 80 slices: other work must have run between most of them.
      assert.isAtLeast(ticks, 20)
    }))

  it.effect("digest can be interrupted between slices", () =>
    Effect.gen(function*() {
      const setting = ShaCrypt.parseSetting("$6$rounds=999999$interrupt")!
      const fiber = yield* Effect.forkChild(ShaCrypt.digest(new TextEncoder().encode("pw"), setting))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      assert.isTrue(true)
    }))
})

describe("ShaCrypt with long passwords", () => {
  it.effect("a 64 KiB candidate is refused at the cost of a 1024-octet one, without a length² buffer", () =>
    Effect.gen(function*() {
      const stored = "{SHA512-CRYPT}" + sha512Vectors[0]![2]
      const start = performance.now()
      assert.isFalse(yield* PasswordScheme.verify(stored, "x".repeat(65_536)))
      assert.isBelow(performance.now() - start, 5_000)
      // At the limit itself a password still verifies.
      const limit = "y".repeat(ShaCrypt.maxPasswordOctets)
      const atLimit = yield* ShaCrypt.crypt(limit, "$6$rounds=1000$limit")
      assert.isTrue(yield* PasswordScheme.verify("{SHA512-CRYPT}" + atLimit!, limit))
      const over = yield* ShaCrypt.crypt(limit + "y", "$6$rounds=1000$limit")
      assert.isFalse(yield* PasswordScheme.verify("{SHA512-CRYPT}" + over!, limit + "y"), "over the limit: refused")
    }), 30_000)
})
