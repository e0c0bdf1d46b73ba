import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Result } from "effect"
import * as Directory from "../src/Directory.ts"
import * as Gssapi from "../src/Gssapi.ts"
import * as Sasl from "../src/Sasl.ts"
import { captureLogs } from "./helpers.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)
const empty = new Uint8Array(0)
const concat = (...parts: Array<Uint8Array>) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * A fake acceptor with a readable token language. Client tokens: `AP-REQ <principal>` (complete, no reply),
 * `AP-REQ-MUTUAL <principal>` (complete, reply `AP-REP`), `LEG1` (continue, reply `MORE`), anything else fails.
 * Wrapped tokens are `W` + flag (`c` sealed, `i` integrity) + message; `unwrap` refuses anything else.
 */
const fakeAcceptor = () => {
  const log = { contexts: 0, disposed: 0, wraps: [] as Array<{ message: Uint8Array; conf: boolean }> }
  const acceptor: Gssapi.GssAcceptor = {
    newContext: () => {
      log.contexts++
      let established = false
      let disposed = false
      let failed = false
      const dead = { message: "context gone" }
      return {
        accept: (token) => {
          if (disposed || failed || established) return Result.fail(dead)
          const [verb, principal] = text(token).split(" ")
          if (verb === "LEG1") return Result.succeed({ complete: false, token: bytes("MORE"), name: undefined })
          if ((verb === "AP-REQ" || verb === "AP-REQ-MUTUAL") && principal !== undefined) {
            established = true
            return Result.succeed({ complete: true, token: verb === "AP-REQ" ? empty : bytes("AP-REP"), name: principal })
          }
          failed = true
          return Result.fail({ message: "Invalid token was supplied" })
        },
        wrap: (message, conf) => {
          if (!established || disposed) return Result.fail(dead)
          log.wraps.push({ message, conf })
          return Result.succeed(concat(bytes(conf ? "Wc" : "Wi"), message))
        },
        unwrap: (token) => {
          if (!established || disposed) return Result.fail(dead)
          if (token[0] !== 0x57 || (token[1] !== 0x63 && token[1] !== 0x69)) return Result.fail({ message: "bad MIC" })
          return Result.succeed({ data: token.subarray(2) })
        },
        dispose: () => {
          if (!disposed) log.disposed++
          disposed = true
        }
      }
    }
  }
  return { acceptor, log }
}

/** What a client wraps as its security-layer reply. */
const layerReply = (layer: number, authzid = "", maxBuffer: [number, number, number] = [0, 0, 0]) =>
  concat(bytes("Wi"), Uint8Array.of(layer, ...maxBuffer), bytes(authzid))

const offer = concat(bytes("Wi"), Uint8Array.of(0x01, 0, 0, 0))

const users = { user1: "{PLAIN}x", alice: "{PLAIN}y", carol: "" }

const rule: Gssapi.PrincipalRule = {
  defaultRealm: "EXAMPLE.TEST",
  principalMap: new Map([["user1@OTHER.REALM", "alice"], ["admin@EXAMPLE.TEST", "alice"]])
}

/** Runs the exchange with these client responses; returns every step's result and the fake's log. */
const exchange = (responses: ReadonlyArray<Uint8Array>, options: Partial<Gssapi.PrincipalRule> = {}) =>
  Effect.gen(function*() {
    const fake = fakeAcceptor()
    const mechanism = Gssapi.make({ ...rule, ...options, acceptor: fake.acceptor })
    const ex = yield* mechanism.start()
    const steps: Array<Sasl.SaslStep> = []
    for (const r of responses) steps.push(yield* ex.step(r))
    return { steps, log: fake.log, exchange: ex }
  }).pipe(Effect.provide(Directory.layerMemory(users)))

const challenge = (data: Uint8Array): Sasl.SaslStep => Sasl.challenge(data)
const failed = (reason: string): Sasl.SaslStep => Sasl.failure(reason)

describe("Gssapi.mapPrincipal", () => {
  const cases: ReadonlyArray<readonly [string, string | undefined]> = [
    ["user1@EXAMPLE.TEST", "user1"],
    ["user1@OTHER.REALM", "alice"],
    ["admin@EXAMPLE.TEST", "alice"],
    ["user2@OTHER.REALM", undefined],
    ["user1@example.test", undefined],
    ["user1/admin@EXAMPLE.TEST", undefined],
    ["pop/localhost@EXAMPLE.TEST", undefined],
    ["a\\@b@EXAMPLE.TEST", undefined],
    ["user1", undefined],
    ["@EXAMPLE.TEST", undefined],
    ["user1@", undefined]
  ]
  for (const [principal, expected] of cases) {
    it(`${principal} → ${expected ?? "none"}`, () => {
      assert.deepStrictEqual(Gssapi.mapPrincipal(principal, rule), Option.fromNullishOr(expected))
    })
  }

  it("without a default realm only the map applies", () => {
    const noRealm = { ...rule, defaultRealm: undefined }
    assert.deepStrictEqual(Gssapi.mapPrincipal("user1@EXAMPLE.TEST", noRealm), Option.none())
    assert.deepStrictEqual(Gssapi.mapPrincipal("user1@OTHER.REALM", noRealm), Option.some("alice"))
  })
})

describe("Gssapi.parsePrincipalMap", () => {
  it("parses principal=user items", () => {
    const r = Gssapi.parsePrincipalMap(" user1@OTHER.REALM=alice , bob/admin@X.ORG = bob ,")
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r)) {
      assert.deepStrictEqual([...r.success], [["user1@OTHER.REALM", "alice"], ["bob/admin@X.ORG", "bob"]])
    }
    assert.deepStrictEqual(Gssapi.parsePrincipalMap(""), Result.succeed(new Map()))
  })

  for (const bad of ["alice", "user1@X=", "=alice", "user1=alice", "a@X=b,a@X=c"]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.isTrue(Result.isFailure(Gssapi.parsePrincipalMap(bad)))
    })
  }
})

describe("Gssapi.make", () => {
  it("is GSSAPI and not subject to the plaintext policy", () => {
    const m = Gssapi.make({ ...rule, acceptor: fakeAcceptor().acceptor })
    assert.strictEqual(m.name, "GSSAPI")
    assert.isFalse(m.plaintext)
  })

  it.effect("without mutual authentication: AP-REQ → layer offer → reply → Success", () =>
    Effect.gen(function*() {
      const { log, steps } = yield* exchange([bytes("AP-REQ user1@EXAMPLE.TEST"), layerReply(0x01)])
      assert.deepStrictEqual(steps, [challenge(offer), Sasl.success("user1")])
      assert.deepStrictEqual(log.wraps, [{ message: Uint8Array.of(1, 0, 0, 0), conf: false }], "wrap([1,0,0,0]) unsealed")
      assert.strictEqual(log.disposed, 1, "the context is freed when the exchange ends")
    }))

  it.effect("with mutual authentication: AP-REQ → AP-REP, empty reply → layer offer → reply → Success", () =>
    Effect.gen(function*() {
      const { log, steps } = yield* exchange([bytes("AP-REQ-MUTUAL user1@EXAMPLE.TEST"), empty, layerReply(0x01)])
      assert.deepStrictEqual(steps, [challenge(bytes("AP-REP")), challenge(offer), Sasl.success("user1")])
      assert.strictEqual(log.disposed, 1)
    }))

  it.effect("a multi-leg context: every acceptor token goes out as a challenge until complete", () =>
    Effect.gen(function*() {
      const { steps } = yield* exchange([bytes("LEG1"), bytes("AP-REQ user1@EXAMPLE.TEST"), layerReply(0x01)])
      assert.deepStrictEqual(steps, [challenge(bytes("MORE")), challenge(offer), Sasl.success("user1")])
    }))

  it.effect("a sealed security-layer reply is accepted too (the layer byte is what counts)", () =>
    Effect.gen(function*() {
      const sealed = concat(bytes("Wc"), Uint8Array.of(0x01, 0, 0, 0))
      const { steps } = yield* exchange([bytes("AP-REQ user1@EXAMPLE.TEST"), sealed])
      assert.deepStrictEqual(steps[1], Sasl.success("user1"))
    }))

  it.effect("a non-empty reply to the AP-REP fails", () =>
    Effect.gen(function*() {
      const { log, steps } = yield* exchange([bytes("AP-REQ-MUTUAL user1@EXAMPLE.TEST"), bytes("x")])
      assert.deepStrictEqual(steps[1], failed(Gssapi.malformedReason))
      assert.strictEqual(log.wraps.length, 0, "no layer offered")
      assert.strictEqual(log.disposed, 1)
    }))

  it.effect("a token the acceptor refuses fails with the authentication-failed text", () =>
    Effect.gen(function*() {
      const { log, steps } = yield* exchange([bytes("garbage")])
      assert.deepStrictEqual(steps, [failed(Sasl.authenticationFailed)])
      assert.strictEqual(log.disposed, 1)
    }))

  describe("bad security-layer replies", () => {
    const cases: ReadonlyArray<readonly [string, Uint8Array, string]> = [
      ["integrity layer selected", layerReply(0x02), Gssapi.securityLayerReason],
      ["confidentiality layer selected", layerReply(0x04), Gssapi.securityLayerReason],
      ["several layers selected", layerReply(0x07), Gssapi.securityLayerReason],
      ["no layer selected", layerReply(0x00), Gssapi.securityLayerReason],
      ["too short", concat(bytes("Wi"), Uint8Array.of(0x01, 0, 0)), Gssapi.malformedReason],
      ["empty", bytes("Wi"), Gssapi.malformedReason],
      ["not a wrap token (bad MIC)", Uint8Array.of(0x01, 0, 0, 0), Sasl.authenticationFailed],
      ["an empty line instead of the wrap token", empty, Sasl.authenticationFailed],
      ["authzid not UTF-8", concat(layerReply(0x01), Uint8Array.of(0xc3, 0x28)), Gssapi.malformedReason]
    ]
    for (const [name, reply, reason] of cases) {
      it.effect(name, () =>
        Effect.gen(function*() {
          const { log, steps } = yield* exchange([bytes("AP-REQ user1@EXAMPLE.TEST"), reply])
          assert.deepStrictEqual(steps[1], failed(reason))
          assert.strictEqual(log.disposed, 1)
        }))
    }
  })

  describe("authorization identity", () => {
    const cases: ReadonlyArray<readonly [string, Sasl.SaslStep]> = [
      ["", Sasl.success("user1")],
      ["user1", Sasl.success("user1")],
      ["user1@EXAMPLE.TEST", Sasl.success("user1")],
      ["alice", failed(Gssapi.authzidReason)],
      ["user1@OTHER.REALM", failed(Gssapi.authzidReason)],
      ["USER1", failed(Gssapi.authzidReason)]
    ]
    for (const [authzid, expected] of cases) {
      it.effect(`authzid ${JSON.stringify(authzid)}`, () =>
        Effect.gen(function*() {
          const { steps } = yield* exchange([bytes("AP-REQ user1@EXAMPLE.TEST"), layerReply(0x01, authzid)])
          assert.deepStrictEqual(steps[1], expected)
        }))
    }

    it.effect("a mapped principal may name its mailbox", () =>
      Effect.gen(function*() {
        const { steps } = yield* exchange([bytes("AP-REQ user1@OTHER.REALM"), layerReply(0x01, "alice")])
        assert.deepStrictEqual(steps[1], Sasl.success("alice"))
      }))
  })

  describe("principal → user", () => {
    const cases: ReadonlyArray<readonly [string, Sasl.SaslStep]> = [
      ["user1@EXAMPLE.TEST", Sasl.success("user1")],
      ["user1@OTHER.REALM", Sasl.success("alice")],
      ["admin@EXAMPLE.TEST", Sasl.success("alice")],
      ["user2@OTHER.REALM", failed(Sasl.authenticationFailed)],
      ["user1/admin@EXAMPLE.TEST", failed(Sasl.authenticationFailed)],
      ["nobody@EXAMPLE.TEST", failed(Sasl.authenticationFailed)],
      ["carol@EXAMPLE.TEST", failed(Sasl.authenticationFailed)]
    ]
    for (const [principal, expected] of cases) {
      it.effect(`${principal} → ${expected._tag === "Success" ? expected.user : "Failure"}`, () =>
        Effect.gen(function*() {
          const { steps } = yield* exchange([bytes(`AP-REQ ${principal}`), layerReply(0x01)])
          assert.deepStrictEqual(steps[1], expected)
        }))
    }

    it.effect("without a default realm, a default-realm principal outside the map fails", () =>
      Effect.gen(function*() {
        const { steps } = yield* exchange([bytes("AP-REQ user1@EXAMPLE.TEST"), layerReply(0x01)], {
          defaultRealm: undefined
        })
        assert.deepStrictEqual(steps[1], failed(Sasl.authenticationFailed))
      }))
  })

  describe("tokens after the exchange finished", () => {
    it.effect("after Success", () =>
      Effect.gen(function*() {
        const { exchange: ex, log, steps } = yield* exchange([bytes("AP-REQ user1@EXAMPLE.TEST"), layerReply(0x01)])
        assert.strictEqual(steps[1]!._tag, "Success")
        assert.deepStrictEqual(yield* ex.step(layerReply(0x01)), failed(Sasl.exchangeFinished))
        assert.deepStrictEqual(yield* ex.step(bytes("AP-REQ user1@EXAMPLE.TEST")), failed(Sasl.exchangeFinished))
        assert.strictEqual(log.disposed, 1)
        assert.strictEqual(log.wraps.length, 1)
      }).pipe(Effect.provide(Directory.layerMemory(users))))

    it.effect("after Failure", () =>
      Effect.gen(function*() {
        const { exchange: ex, steps } = yield* exchange([bytes("AP-REQ user1@EXAMPLE.TEST"), layerReply(0x02)])
        assert.strictEqual(steps[1]!._tag, "Failure")
        assert.deepStrictEqual(yield* ex.step(layerReply(0x01)), failed(Sasl.exchangeFinished))
      }).pipe(Effect.provide(Directory.layerMemory(users))))
  })

  it.effect("each attempt gets its own context", () =>
    Effect.gen(function*() {
      const fake = fakeAcceptor()
      const mechanism = Gssapi.make({ ...rule, acceptor: fake.acceptor })
      const one = yield* mechanism.start()
      const two = yield* mechanism.start()
      assert.strictEqual(fake.log.contexts, 2)
      assert.deepStrictEqual(yield* two.step(bytes("garbage")), failed(Sasl.authenticationFailed))
      assert.deepStrictEqual(yield* one.step(bytes("AP-REQ user1@EXAMPLE.TEST")), challenge(offer))
      assert.deepStrictEqual(yield* one.step(layerReply(0x01)), Sasl.success("user1"))
    }).pipe(Effect.provide(Directory.layerMemory(users))))

  it.effect("failure logs say why, name the principal, and never contain the token", () => {
    const logs: Array<string> = []
    return Effect.gen(function*() {
      const fake = fakeAcceptor()
      const mechanism = Gssapi.make({ ...rule, acceptor: fake.acceptor })
      const one = yield* mechanism.start()
      yield* one.step(bytes("AP-REQ user2@OTHER.REALM"))
      yield* one.step(layerReply(0x01))
      const two = yield* mechanism.start()
      yield* two.step(bytes("secret-token"))
      assert.strictEqual(logs.length, 2)
      assert.include(logs[0]!, "user2@OTHER.REALM maps to no user")
      assert.include(logs[1]!, "Invalid token was supplied")
      for (const line of logs) assert.notInclude(line, "secret-token")
    }).pipe(Effect.provide([Directory.layerMemory(users), captureLogs(logs)]))
  })
})
