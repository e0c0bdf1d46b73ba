import { assert, describe, it } from "@effect/vitest"
import * as Crypto from "node:crypto"
import { Effect, Result } from "effect"
import { TestClock } from "effect/testing"
import * as Directory from "../src/Directory.ts"
import * as Ntlm from "../src/Ntlm.ts"
import * as Message from "../src/NtlmMessage.ts"
import * as PasswordScheme from "../src/PasswordScheme.ts"
import * as Sasl from "../src/Sasl.ts"
import * as Client from "./ntlmClient.ts"
import { curl } from "./ntlmGoldens.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, "hex"))

const options: Ntlm.Options = {
  netbiosDomain: "POP3D",
  netbiosComputer: "POP3D",
  dnsDomain: "localdomain",
  dnsComputer: "pop3d.localdomain"
}

/** A syntactically valid scrypt string nothing matches: an account without an NT hash. */
const scryptOnly = `{SCRYPT}$scrypt$ln=10,r=8,p=1$${Crypto.randomBytes(16).toString("base64").replace(/=+$/, "")}$${
  Crypto.randomBytes(32).toString("base64").replace(/=+$/, "")
}`

const users: Record<string, string | Directory.MemoryUser> = {
  // NT hash stored beside the main hash (as `user add` writes it with NTLM on).
  alice: { password: scryptOnly, ntHash: `{NTLM}${hex(Client.ntHash("Alice's pass 1"))}` },
  // NT hash derived from a {PLAIN} password.
  bob: "{PLAIN}Bob pass",
  // NT hash as the main scheme.
  "Émile": `{NTLM}${hex(Client.ntHash("pässwörd"))}`,
  carol: scryptOnly,
  dave: { password: "", ntHash: `{NTLM}${hex(Client.ntHash("dave"))}` },
  user1: "{PLAIN}Secret123!"
}

const now = Date.UTC(2026, 10, 27, 12, 0, 0)

type Answer = (negotiate: Uint8Array, challenge: Uint8Array) => Uint8Array

/** Runs NEGOTIATE → CHALLENGE → AUTHENTICATE through the mechanism; returns the last step (or the first failure). */
const login = (answer: Answer, negotiate = Client.negotiate(), mechanism = Ntlm.make(options)) =>
  Effect.gen(function*() {
    const exchange = yield* mechanism.start()
    const first = yield* exchange.step(negotiate)
    if (first._tag !== "Challenge") return first
    return yield* exchange.step(answer(negotiate, first.data))
  }).pipe(Effect.provide(Directory.layerMemory(users)))

const as = (o: Omit<Client.AuthenticateOptions, "negotiate" | "challenge">): Answer => (negotiate, challenge) =>
  Client.authenticate({ ...o, negotiate, challenge })

const atNow = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.andThen(TestClock.setTime(now), effect)

const failed = Sasl.failure(Sasl.authenticationFailed)

describe("Ntlm: MS-NLMP 4.2.4 NTLMv2 vectors", () => {
  // User "User", domain "Domain", password "Password", server challenge 0123456789abcdef,
  // client challenge aaaaaaaaaaaaaaaa, time 0, AV pairs NbDomainName "Domain", NbComputerName "Server".
  const ntHash = PasswordScheme.ntHash("Password")
  const responseKey = Ntlm.ntowfv2(ntHash, "User", "Domain")
  const blob = Message.encodeClientBlob({
    timestamp: 0n,
    clientChallenge: fromHex("aaaaaaaaaaaaaaaa"),
    avPairs: [
      { id: Message.AvId.MsvAvNbDomainName, value: Message.utf16le("Domain") },
      { id: Message.AvId.MsvAvNbComputerName, value: Message.utf16le("Server") }
    ]
  })
  const proof = Ntlm.ntProofStr(responseKey, fromHex("0123456789abcdef"), blob)

  it("NT hash (4.2.2.1.2)", () => assert.strictEqual(hex(ntHash), "a4f49c406510bdcab6824ee7c30fd852"))
  it("NTOWFv2 = ResponseKeyNT (4.2.4.1.1)", () => assert.strictEqual(hex(responseKey), "0c868a403bfd7a93a3001ef22ef02e3f"))
  it("NTProofStr (4.2.4.2.2)", () => assert.strictEqual(hex(proof), "68cd0ab851e51c96aabc927bebef6a1c"))
  it("SessionBaseKey (4.2.4.1.2)", () =>
    assert.strictEqual(hex(Ntlm.sessionBaseKey(responseKey, proof)), "8de40ccadbc14a82f15cb0ad0de95ca3"))
  it("ExportedSessionKey under KEY_EXCH decrypts the 4.2.4 EncryptedRandomSessionKey to 0x55…", () => {
    const exported = Ntlm.exportedSessionKey(
      Ntlm.sessionBaseKey(responseKey, proof),
      Message.Flags.NEGOTIATE_KEY_EXCH,
      fromHex("c5dad2544fc9799094ce1ce90bc9d03e")
    )
    assert.strictEqual(hex(exported), "55".repeat(16))
  })
  it("the user name is upper-cased, the domain is not", () => {
    assert.strictEqual(hex(Ntlm.ntowfv2(ntHash, "uSeR", "Domain")), hex(responseKey))
    assert.notStrictEqual(hex(Ntlm.ntowfv2(ntHash, "User", "DOMAIN")), hex(responseKey))
  })
})

describe("Ntlm: the CHALLENGE", () => {
  it.effect("always ESS, TARGET_INFO and VERSION; UNICODE when asked, OEM otherwise; asked-for 128/56/KEY_EXCH/SIGN/SEAL echoed", () =>
    Effect.sync(() => {
      const F = Message.Flags
      const curlAnswer = Ntlm.challengeFlags(Client.curlFlags)
      for (const flag of [F.NEGOTIATE_EXTENDED_SESSIONSECURITY, F.NEGOTIATE_TARGET_INFO, F.NEGOTIATE_VERSION, F.NEGOTIATE_OEM]) {
        assert.notStrictEqual(curlAnswer & flag, 0)
      }
      for (const flag of [F.NEGOTIATE_UNICODE, F.NEGOTIATE_KEY_EXCH, F.NEGOTIATE_128, F.NEGOTIATE_SEAL]) {
        assert.strictEqual(curlAnswer & flag, 0)
      }
      const windowsAnswer = Ntlm.challengeFlags(Client.windowsFlags)
      for (const flag of [F.NEGOTIATE_UNICODE, F.NEGOTIATE_KEY_EXCH, F.NEGOTIATE_128, F.NEGOTIATE_56, F.NEGOTIATE_SIGN, F.NEGOTIATE_SEAL]) {
        assert.notStrictEqual(windowsAnswer & flag, 0)
      }
      assert.strictEqual(windowsAnswer & F.NEGOTIATE_OEM, 0)
      assert.notStrictEqual(Ntlm.challengeFlags(0) & F.NEGOTIATE_EXTENDED_SESSIONSECURITY, 0)
    }))

  it.effect("carries only the configured names, the server time and a fresh 8-octet challenge each time", () =>
    atNow(Effect.gen(function*() {
      const challenges: Array<Message.Challenge> = []
      for (let i = 0; i < 3; i++) {
        const exchange = yield* Ntlm.make(options).start()
        const step = yield* exchange.step(Client.negotiate())
        assert.strictEqual(step._tag, "Challenge")
        if (step._tag === "Challenge") challenges.push(Client.readChallenge(step.data))
      }
      const challenge = challenges[0]!
      const names = challenge.targetInfo.filter((p) => p.id !== Message.AvId.MsvAvTimestamp)
        .map((p) => [p.id, Buffer.from(p.value).toString("utf16le")])
      assert.deepStrictEqual(names, [[2, "POP3D"], [1, "POP3D"], [4, "localdomain"], [3, "pop3d.localdomain"]])
      const time = challenge.targetInfo.find((p) => p.id === Message.AvId.MsvAvTimestamp)!
      assert.strictEqual(new DataView(time.value.buffer).getBigUint64(0, true), Ntlm.fileTime(now))
      assert.strictEqual(Buffer.from(challenge.targetName).toString("utf16le"), "POP3D")
      assert.strictEqual(new Set(challenges.map((c) => hex(c.serverChallenge))).size, 3)
      for (const c of challenges) assert.strictEqual(c.serverChallenge.length, 8)
    }).pipe(Effect.provide(Directory.layerMemory(users)))))
})

describe("Ntlm: logging in", () => {
  it("is named NTLM and not subject to the plaintext policy", () => {
    const mechanism = Ntlm.make(options)
    assert.strictEqual(mechanism.name, "NTLM")
    assert.isFalse(mechanism.plaintext)
  })

  it.effect("NTLMv2 with MIC and KEY_EXCH (Windows, python3-ntlm-auth), NT hash stored beside the main hash", () =>
    atNow(Effect.gen(function*() {
      assert.deepStrictEqual(yield* login(as({ user: "alice", password: "Alice's pass 1", mic: true })), Sasl.success("alice"))
    })))

  it.effect("NTLMv2 without MIC, OEM strings (curl), NT hash derived from {PLAIN}", () =>
    atNow(Effect.gen(function*() {
      assert.deepStrictEqual(
        yield* login(as({ user: "bob", password: "Bob pass" }), Client.negotiate(Client.curlFlags)),
        Sasl.success("bob")
      )
    })))

  it.effect("non-ASCII user and password, {NTLM} as the main scheme", () =>
    atNow(Effect.gen(function*() {
      assert.deepStrictEqual(yield* login(as({ user: "Émile", password: "pässwörd", mic: true })), Sasl.success("Émile"))
      assert.deepStrictEqual(
        yield* login(as({ user: "Émile", password: "pässwörd" }), Client.negotiate(Client.curlFlags)),
        Sasl.success("Émile"),
        "OEM (UTF-8) user name"
      )
    })))

  it.effect("the domain may be empty, the NetBIOS or the DNS domain, in any case; a foreign domain fails", () =>
    atNow(Effect.gen(function*() {
      for (const domain of ["", "POP3D", "pop3d", "localdomain", "LOCALDOMAIN"]) {
        assert.deepStrictEqual(
          yield* login(as({ user: "alice", password: "Alice's pass 1", domain, mic: true })),
          Sasl.success("alice"),
          `domain ${JSON.stringify(domain)}`
        )
      }
      for (const domain of ["EVIL", "pop3d.localdomain", "POP3D."]) {
        assert.deepStrictEqual(
          yield* login(as({ user: "alice", password: "Alice's pass 1", domain, mic: true })),
          Sasl.failure(Ntlm.foreignDomainReason),
          `domain ${JSON.stringify(domain)}`
        )
      }
    })))

  it.effect("a recorded curl 7.88 exchange verifies (fixed server challenge, clock at the recording)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(curl.checkedAtMillis)
      const mechanism = Ntlm.make({ ...curl.options, serverChallenge: () => curl.serverChallenge })
      assert.deepStrictEqual(yield* login(() => curl.authenticate, curl.negotiate, mechanism), Sasl.success("user1"))
    }))
})

describe("Ntlm: refusals", () => {
  it.effect("wrong password, unknown user, account without NT hash, disabled account: the same failure", () =>
    atNow(Effect.gen(function*() {
      assert.deepStrictEqual(yield* login(as({ user: "alice", password: "wrong", mic: true })), failed)
      assert.deepStrictEqual(yield* login(as({ user: "nobody", password: "Alice's pass 1", mic: true })), failed)
      assert.deepStrictEqual(yield* login(as({ user: "carol", password: "anything", mic: true })), failed)
      assert.deepStrictEqual(yield* login(as({ user: "dave", password: "dave", mic: true })), failed)
      assert.deepStrictEqual(yield* login(as({ user: "ALICE", password: "Alice's pass 1", mic: true })), failed, "names are case-sensitive")
    })))

  it.effect("wrong user: a proof made for one user does not log in another", () =>
    atNow(Effect.gen(function*() {
      // Computed for alice, sent as bob.
      assert.deepStrictEqual(
        yield* login(as({ user: "bob", ntowfUser: "alice", password: "Alice's pass 1", mic: true })),
        failed
      )
    })))

  it.effect("tampered NTProofStr", () =>
    atNow(Effect.gen(function*() {
      assert.deepStrictEqual(yield* login(as({ user: "alice", password: "Alice's pass 1", mic: true, tamperProof: true })), failed)
      assert.deepStrictEqual(
        yield* login(as({ user: "bob", password: "Bob pass", tamperProof: true }), Client.negotiate(Client.curlFlags)),
        failed
      )
    })))

  it.effect("tampered MIC", () =>
    atNow(Effect.gen(function*() {
      assert.deepStrictEqual(yield* login(as({ user: "alice", password: "Alice's pass 1", mic: true, tamperMic: true })), failed)
    })))

  it.effect("a MIC announced in MsvAvFlags but missing from the message", () =>
    atNow(Effect.gen(function*() {
      const stripped: Answer = (negotiate, challenge) => {
        const full = Result.getOrThrow(
          Message.decodeAuthenticate(Client.authenticate({ negotiate, challenge, user: "alice", password: "Alice's pass 1", mic: true }))
        )
        const { mic: _mic, version: _version, ...rest } = full
        return Message.encodeAuthenticate(rest)
      }
      const step = yield* login(stripped)
      assert.strictEqual(step._tag, "Failure")
      if (step._tag === "Failure") assert.match(step.reason, /announces a MIC/)
    })))

  it.effect("any single-bit change to a MIC-protected AUTHENTICATE fails", () =>
    atNow(Effect.gen(function*() {
      const negotiate = Client.negotiate()
      const exchange = yield* Ntlm.make(options).start()
      const first = yield* exchange.step(negotiate)
      assert.strictEqual(first._tag, "Challenge")
      if (first._tag !== "Challenge") return
      const message = Client.authenticate({ negotiate, challenge: first.data, user: "alice", password: "Alice's pass 1", mic: true })
      const transcript = {
        negotiate,
        challenge: first.data,
        serverChallenge: Client.readChallenge(first.data).serverChallenge
      }
      const ntHash = Client.ntHash("Alice's pass 1")
      const accepts = (bytes: Uint8Array) => {
        const parsed = Ntlm.parseAuthenticate(bytes)
        return Result.isSuccess(parsed) && Ntlm.proves(parsed.success, ntHash, { ...transcript, authenticate: bytes })
      }
      assert.isTrue(accepts(message), "the untouched message")
      for (let bit = 0; bit < message.length * 8; bit++) {
        const changed = message.slice()
        changed[bit >> 3]! ^= 1 << (bit & 7)
        assert.isFalse(accepts(changed), `bit ${bit} (octet ${bit >> 3})`)
      }
    }).pipe(Effect.provide(Directory.layerMemory(users)))))

  it.effect("a replayed AUTHENTICATE fails in a fresh exchange (new server challenge) and in the finished one", () =>
    atNow(Effect.gen(function*() {
      const negotiate = Client.negotiate()
      const first = yield* Ntlm.make(options).start()
      const challenge = yield* first.step(negotiate)
      if (challenge._tag !== "Challenge") return assert.fail("no challenge")
      const recorded = Client.authenticate({ negotiate, challenge: challenge.data, user: "bob", password: "Bob pass" })
      assert.deepStrictEqual(yield* first.step(recorded), Sasl.success("bob"))
      assert.deepStrictEqual(yield* first.step(recorded), Sasl.failure(Sasl.exchangeFinished))
      assert.deepStrictEqual(yield* login(() => recorded, negotiate), failed, "replayed into a new exchange")
      // The recorded curl message, replayed against a random challenge instead of the one it answered.
      yield* TestClock.setTime(curl.checkedAtMillis)
      assert.deepStrictEqual(yield* login(() => curl.authenticate, curl.negotiate, Ntlm.make(curl.options)), failed)
    }).pipe(Effect.provide(Directory.layerMemory(users)))))

  it.effect("NTLMv1 (24-octet NT response) and LM-only are refused with a clear reason", () =>
    atNow(Effect.gen(function*() {
      assert.deepStrictEqual(
        yield* login(as({ user: "bob", password: "Bob pass", ntlmV1: true }), Client.negotiate(Client.curlFlags)),
        Sasl.failure(Ntlm.ntlmV1Reason)
      )
      assert.strictEqual(Ntlm.ntlmV1Reason, "NTLMv1 is not accepted; use NTLMv2")
      const lmOnly: Answer = (_negotiate, challenge) =>
        Message.encodeAuthenticate({
          flags: Client.readChallenge(challenge).flags,
          lmResponse: new Uint8Array(24).fill(1),
          ntResponse: new Uint8Array(0),
          domain: new Uint8Array(0),
          user: new TextEncoder().encode("bob"),
          workstation: new Uint8Array(0),
          encryptedRandomSessionKey: new Uint8Array(0)
        })
      assert.deepStrictEqual(yield* login(lmOnly), Sasl.failure(Ntlm.ntlmV1Reason))
    })))

  it.effect("anonymous is refused", () =>
    atNow(Effect.gen(function*() {
      assert.deepStrictEqual(yield* login(as({ user: "", anonymous: true })), Sasl.failure(Ntlm.anonymousReason))
    })))

  it.effect("a timestamp more than 36 hours from the server clock is refused; 35 hours is accepted", () =>
    atNow(Effect.gen(function*() {
      const hours = (h: number) => BigInt(h) * 3600n * 10_000_000n
      const at = (offset: bigint) => as({ user: "bob", password: "Bob pass", timestamp: Ntlm.fileTime(now) + offset })
      assert.deepStrictEqual(yield* login(at(-hours(37))), Sasl.failure(Ntlm.clockSkewReason))
      assert.deepStrictEqual(yield* login(at(hours(37))), Sasl.failure(Ntlm.clockSkewReason))
      assert.deepStrictEqual(yield* login(at(-hours(35))), Sasl.success("bob"))
      assert.deepStrictEqual(yield* login(at(hours(35))), Sasl.success("bob"))
      const strict = Ntlm.make({ ...options, maxClockSkew: "5 minutes" })
      assert.deepStrictEqual(yield* login(at(-hours(1)), Client.negotiate(), strict), Sasl.failure(Ntlm.clockSkewReason))
    })))

  it.effect("garbage and truncated messages fail with a 'malformed' reason, at either step", () =>
    atNow(Effect.gen(function*() {
      const malformed = (step: Sasl.SaslStep) => step._tag === "Failure" && step.reason.startsWith("malformed NTLM message")
      for (const bad of [new Uint8Array(0), new TextEncoder().encode("hello"), Client.negotiate().subarray(0, 12)]) {
        const exchange = yield* Ntlm.make(options).start()
        assert.isTrue(malformed(yield* exchange.step(bad)), `NEGOTIATE ${hex(bad)}`)
        assert.deepStrictEqual(yield* exchange.step(Client.negotiate()), Sasl.failure(Sasl.exchangeFinished))
      }
      const full: { value: Uint8Array } = { value: new Uint8Array(0) }
      const keep: Answer = (negotiate, challenge) =>
        (full.value = Client.authenticate({ negotiate, challenge, user: "alice", password: "Alice's pass 1", mic: true }))
      assert.deepStrictEqual(yield* login(keep), Sasl.success("alice"))
      for (let n = 0; n < full.value.length; n += 7) {
        const step = yield* login((negotiate, challenge) => keep(negotiate, challenge).subarray(0, n))
        assert.strictEqual(step._tag, "Failure", `truncated to ${n}`)
      }
      assert.isTrue(malformed(yield* login(() => Client.negotiate())), "a NEGOTIATE where the AUTHENTICATE belongs")
    }).pipe(Effect.provide(Directory.layerMemory(users)))))
})
