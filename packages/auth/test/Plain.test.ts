import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Result } from "effect"
import * as Directory from "../src/Directory.ts"
import * as Plain from "../src/Plain.ts"
import * as Sasl from "../src/Sasl.ts"
import { countingScrypt } from "./helpers.ts"

const bytes = (text: string) => new TextEncoder().encode(text)

const run = (message: Uint8Array, scrypt = countingScrypt().scrypt) =>
  Effect.gen(function*() {
    const exchange = yield* Plain.mechanism.start()
    return yield* exchange.step(message)
  }).pipe(Effect.provide(Directory.layerMemory({ alice: "{PLAIN}pw", "bøb": "{PLAIN}pässword" }, { scrypt })))

describe("Plain.decodeMessage", () => {
  const good: ReadonlyArray<readonly [string, Uint8Array, Plain.PlainMessage]> = [
    ["no authzid", bytes("\0alice\0pw"), { authzid: "", authcid: "alice", password: "pw" }],
    ["authzid", bytes("admin\0alice\0pw"), { authzid: "admin", authcid: "alice", password: "pw" }],
    ["spaces kept", bytes("\0alice\0 p w "), { authzid: "", authcid: "alice", password: " p w " }],
    ["UTF-8", bytes("\0bøb\0pässword"), { authzid: "", authcid: "bøb", password: "pässword" }]
  ]
  for (const [name, input, expected] of good) {
    it(name, () => {
      const result = Plain.decodeMessage(input)
      assert.isTrue(Result.isSuccess(result))
      if (Result.isSuccess(result)) assert.deepStrictEqual(result.success, expected)
    })
  }

  const bad: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["empty", new Uint8Array(0)],
    ["no NULs", bytes("alicepw")],
    ["one NUL", bytes("alice\0pw")],
    ["three NULs", bytes("\0alice\0pw\0")],
    ["empty authcid", bytes("\0\0pw")],
    ["empty password", bytes("\0alice\0")],
    ["invalid UTF-8", Uint8Array.of(0, 0x61, 0, 0xc3, 0x28)],
    ["overlong UTF-8", Uint8Array.of(0, 0x61, 0, 0xc0, 0xaf)],
    ["lone surrogate", Uint8Array.of(0, 0x61, 0, 0xed, 0xa0, 0x80)]
  ]
  for (const [name, input] of bad) {
    it(`rejects ${name}`, () => {
      assert.isTrue(Result.isFailure(Plain.decodeMessage(input)))
    })
  }
})

describe("Plain.mechanism", () => {
  it("is PLAIN and subject to the plaintext policy", () => {
    assert.strictEqual(Plain.mechanism.name, "PLAIN")
    assert.isTrue(Plain.mechanism.plaintext)
  })

  it.effect("right password → Success with the mailbox", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* run(bytes("\0alice\0pw")), { _tag: "Success", user: "alice" })
      assert.deepStrictEqual(yield* run(bytes("alice\0alice\0pw")), { _tag: "Success", user: "alice" })
      assert.deepStrictEqual(yield* run(bytes("\0bøb\0pässword")), { _tag: "Success", user: "bøb" })
    }))

  it.effect("wrong password and unknown user fail with the same text", () =>
    Effect.gen(function*() {
      const wrong = yield* run(bytes("\0alice\0nope"))
      const unknown = yield* run(bytes("\0mallory\0pw"))
      assert.deepStrictEqual(wrong, { _tag: "Failure", reason: "authentication failed" })
      assert.deepStrictEqual(unknown, wrong)
    }))

  it.effect("malformed messages fail with the malformed text and cost no scrypt", () =>
    Effect.gen(function*() {
      const { counter, scrypt } = countingScrypt()
      for (
        const message of [
          bytes("alicepw"),
          bytes("\0alice\0pw\0"),
          bytes("\0\0pw"),
          Uint8Array.of(0, 0x61, 0, 0xff)
        ]
      ) {
        assert.deepStrictEqual(yield* run(message, scrypt), { _tag: "Failure", reason: "malformed PLAIN message" })
      }
      assert.strictEqual(counter.calls, 0)
    }))

  it.effect("a foreign authzid fails after the password check", () =>
    Effect.gen(function*() {
      const { counter, scrypt } = countingScrypt()
      assert.deepStrictEqual(yield* run(bytes("root\0alice\0pw"), scrypt), {
        _tag: "Failure",
        reason: "authorization identity not permitted"
      })
      assert.strictEqual(counter.calls, 1, "the verify cost was paid")
      assert.deepStrictEqual(yield* run(bytes("root\0alice\0wrong"), scrypt), {
        _tag: "Failure",
        reason: "authentication failed"
      }, "a wrong password does not learn whether the authzid would be allowed")
    }))

  it.effect("a step after the exchange finished fails", () =>
    Effect.gen(function*() {
      const exchange = yield* Plain.mechanism.start()
      assert.strictEqual((yield* exchange.step(bytes("\0alice\0pw")))._tag, "Success")
      assert.deepStrictEqual(yield* exchange.step(bytes("\0alice\0pw")), {
        _tag: "Failure",
        reason: "authentication exchange already finished"
      })
      const failed = yield* Plain.mechanism.start()
      assert.strictEqual((yield* failed.step(bytes("junk")))._tag, "Failure")
      assert.strictEqual((yield* failed.step(bytes("\0alice\0pw")))._tag, "Failure")
    }).pipe(Effect.provide(Directory.layerMemory({ alice: "{PLAIN}pw" }))))

  it.effect("failure reasons never contain the payload", () =>
    Effect.gen(function*() {
      for (const message of ["\0alice\0hunter2", "\0hunter2\0x", "hunter2\0alice\0pw", "hunter2"]) {
        const step = yield* run(bytes(message))
        if (step._tag === "Failure") assert.notInclude(step.reason, "hunter2")
      }
    }))
})

describe("Sasl.registry", () => {
  const fake = (name: string, plaintext = false): Sasl.SaslMechanism => ({
    name,
    plaintext,
    start: () => Effect.succeed({ step: () => Effect.succeed(Sasl.challenge(new Uint8Array(0))) })
  })

  it("looks mechanisms up case-insensitively and lists names in order", () => {
    const registry = Sasl.registry([Plain.mechanism, fake("NTLM"), fake("gssapi")])
    assert.deepStrictEqual(registry.names, ["PLAIN", "NTLM", "GSSAPI"])
    assert.strictEqual(Option.getOrUndefined(registry.get("PLAIN")), Plain.mechanism)
    assert.strictEqual(Option.getOrUndefined(registry.get("plain")), Plain.mechanism)
    assert.strictEqual(Option.getOrUndefined(registry.get("GSSAPI"))?.name, "gssapi")
    assert.isTrue(Option.isNone(registry.get("CRAM-MD5")))
  })

  it("refuses a mechanism given twice", () => {
    assert.throws(() => Sasl.registry([fake("X"), fake("x")]))
  })

  it.effect("a multi-step mechanism drives through Challenge steps with no session changes", () =>
    Effect.gen(function*() {
      // A toy two-step mechanism, as NTLM will be: challenge, then verify.
      const toy: Sasl.SaslMechanism = {
        name: "TOY",
        plaintext: false,
        start: () =>
          Directory.Directory.useSync((directory) => {
            let round = 0
            return {
              step: (response) =>
                Effect.gen(function*() {
                  round++
                  if (round === 1) return Sasl.challenge(Uint8Array.of(42))
                  const [user, password] = new TextDecoder().decode(response).split(" ") as [string, string]
                  const mailbox = yield* directory.verify(user, password)
                  return Option.isSome(mailbox) ? Sasl.success(mailbox.value) : Sasl.failure(Sasl.authenticationFailed)
                })
            }
          })
      }
      const exchange = yield* toy.start()
      assert.deepStrictEqual(yield* exchange.step(new Uint8Array(0)), { _tag: "Challenge", data: Uint8Array.of(42) })
      assert.deepStrictEqual(yield* exchange.step(bytes("alice pw")), { _tag: "Success", user: "alice" })
    }).pipe(Effect.provide(Directory.layerMemory({ alice: "{PLAIN}pw" }))))
})
