import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Ntlm from "../src/Ntlm.ts"
import * as Message from "../src/NtlmMessage.ts"
import * as Client from "./ntlmClient.ts"
import { curl } from "./ntlmGoldens.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const fromHex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"))
const text = (bytes: Uint8Array, unicode: boolean) => Result.getOrThrow(Message.decodeString(bytes, unicode))
const ok = <A>(result: Result.Result<A, string>): A => {
  if (Result.isFailure(result)) throw new Error(`expected success, got: ${result.failure}`)
  return result.success
}
const fails = <A>(result: Result.Result<A, string>, pattern: RegExp) => {
  assert.isTrue(Result.isFailure(result), "expected a failure")
  if (Result.isFailure(result)) assert.match(result.failure, pattern)
}

const options: Ntlm.Options = {
  netbiosDomain: "POP3D",
  netbiosComputer: "POP3D",
  dnsDomain: "localdomain",
  dnsComputer: "pop3d.localdomain"
}
const serverChallenge = fromHex("0123456789abcdef")
const timestamp = Ntlm.fileTime(Date.UTC(2026, 10, 27, 8, 47, 1))

/** The CHALLENGE pop3d sends curl (OEM) with the options above: exact bytes, field by field. */
const challengeForCurl = fromHex(`
  4e544c4d53535000 02000000
  0500 0500 38000000
  06828902
  0123456789abcdef 0000000000000000
  6c00 6c00 3d000000
  0a00 7c4f 0000000f
  504f503344
  0200 0a00 50004f00500033004400
  0100 0a00 50004f00500033004400
  0400 1600 6c006f00630061006c0064006f006d00610069006e00
  0300 2200 70006f007000330064002e006c006f00630061006c0064006f006d00610069006e00
  0700 0800 803068de4b7edd01
  0000 0000`)

/** The same for a Windows-like client (UNICODE, KEY_EXCH, SIGN, SEAL, 128, 56 echoed). */
const challengeForWindows = fromHex(`
  4e544c4d53535000 02000000
  0a00 0a00 38000000
  358289e2
  0123456789abcdef 0000000000000000
  6c00 6c00 42000000
  0a00 7c4f 0000000f
  50004f00500033004400
  0200 0a00 50004f00500033004400
  0100 0a00 50004f00500033004400
  0400 1600 6c006f00630061006c0064006f006d00610069006e00
  0300 2200 70006f007000330064002e006c006f00630061006c0064006f006d00610069006e00
  0700 0800 803068de4b7edd01
  0000 0000`)

describe("NtlmMessage: goldens", () => {
  it("curl 7.88's NEGOTIATE (recorded): OEM, NTLM, ALWAYS_SIGN, ESS; no domain, no workstation", () => {
    const negotiate = ok(Message.decodeNegotiate(curl.negotiate))
    assert.strictEqual(negotiate.flags, Client.curlFlags)
    assert.strictEqual(negotiate.domain.length, 0)
    assert.strictEqual(negotiate.workstation.length, 0)
    assert.isUndefined(negotiate.version)
  })

  it("the recorded PoC CHALLENGE decodes and re-encodes to the same bytes", () => {
    const challenge = ok(Message.decodeChallenge(curl.challenge))
    assert.strictEqual(hex(challenge.serverChallenge), "d4723a7adbc971c0")
    assert.strictEqual(text(challenge.targetName, false), "EXAMPLE")
    assert.deepStrictEqual(challenge.targetInfo.map((p) => p.id), [2, 1, 4, 3, 7])
    assert.deepStrictEqual(challenge.version, { major: 10, minor: 0, build: 20348, revision: 15 })
    assert.strictEqual(hex(Message.encodeChallenge(challenge)), hex(curl.challenge))
  })

  it("curl 7.88's AUTHENTICATE (recorded): user1 from WORKSTATION, LMv2 24 + NTLMv2 168 octets, no MIC", () => {
    const message = ok(Message.decodeAuthenticate(curl.authenticate))
    assert.strictEqual(text(message.user, false), "user1")
    assert.strictEqual(text(message.domain, false), "")
    assert.strictEqual(text(message.workstation, false), "WORKSTATION")
    assert.strictEqual(message.lmResponse.length, 24)
    assert.strictEqual(message.ntResponse.length, 168)
    assert.strictEqual(message.encryptedRandomSessionKey.length, 0)
    assert.isUndefined(message.mic)
    const blob = ok(Message.decodeClientBlob(message.ntResponse.subarray(16)))
    assert.deepStrictEqual(blob.avPairs.map((p) => p.id), [2, 1, 4, 3, 7])
    assert.strictEqual(Message.avFlags(blob.avPairs), 0)
  })

  it("pop3d's CHALLENGE to curl, byte for byte (OEM TargetName, four names, timestamp)", () => {
    const built = Message.encodeChallenge(Ntlm.buildChallenge(options, Client.curlFlags, serverChallenge, timestamp))
    assert.strictEqual(hex(built), hex(challengeForCurl))
  })

  it("pop3d's CHALLENGE to a Windows-like client, byte for byte (UNICODE TargetName, echoed flags)", () => {
    const built = Message.encodeChallenge(Ntlm.buildChallenge(options, Client.windowsFlags, serverChallenge, timestamp))
    assert.strictEqual(hex(built), hex(challengeForWindows))
  })

  it("a Windows-like NEGOTIATE, byte for byte", () => {
    assert.strictEqual(
      hex(Client.negotiate()),
      "4e544c4d5353500001000000378288e2000000002800000000000000280000000a00614a0000000f"
    )
  })
})

describe("NtlmMessage: round trips", () => {
  it("NEGOTIATE with supplied domain and workstation and a VERSION", () => {
    const message: Message.Negotiate = {
      flags: (Client.windowsFlags | Message.Flags.NEGOTIATE_OEM_DOMAIN_SUPPLIED |
        Message.Flags.NEGOTIATE_OEM_WORKSTATION_SUPPLIED) >>> 0,
      domain: new TextEncoder().encode("EXAMPLE"),
      workstation: new TextEncoder().encode("PC1"),
      version: { major: 6, minor: 1, build: 7601, revision: 15 }
    }
    assert.deepStrictEqual(ok(Message.decodeNegotiate(Message.encodeNegotiate(message))), message)
  })

  it("CHALLENGE with and without VERSION and TargetInfo", () => {
    const withAll = Ntlm.buildChallenge(options, Client.windowsFlags, serverChallenge, timestamp)
    assert.deepStrictEqual(ok(Message.decodeChallenge(Message.encodeChallenge(withAll))), withAll)
    const bare: Message.Challenge = {
      flags: Message.Flags.NEGOTIATE_OEM | Message.Flags.NEGOTIATE_NTLM,
      targetName: new Uint8Array(0),
      serverChallenge,
      targetInfo: []
    }
    assert.deepStrictEqual(ok(Message.decodeChallenge(Message.encodeChallenge(bare))), bare)
  })

  it("AUTHENTICATE with VERSION and MIC, and without either", () => {
    const full: Message.Authenticate = {
      flags: Ntlm.challengeFlags(Client.windowsFlags),
      lmResponse: new Uint8Array(24),
      ntResponse: fromHex("00".repeat(16) + "0101000000000000" + "803068de4b7edd01" + "aa".repeat(8) + "00000000" + "00000000"),
      domain: Message.utf16le("POP3D"),
      user: Message.utf16le("alice"),
      workstation: Message.utf16le("PC1"),
      encryptedRandomSessionKey: new Uint8Array(16).fill(7),
      version: { major: 10, minor: 0, build: 19041, revision: 15 },
      mic: new Uint8Array(16).fill(9)
    }
    assert.deepStrictEqual(ok(Message.decodeAuthenticate(Message.encodeAuthenticate(full))), full)
    const { mic: _mic, version: _version, ...rest } = full
    const bare: Message.Authenticate = { ...rest, flags: Client.curlFlags }
    assert.deepStrictEqual(ok(Message.decodeAuthenticate(Message.encodeAuthenticate(bare))), bare)
  })

  it("the NTLMv2 client blob", () => {
    const blob: Message.ClientBlob = {
      timestamp,
      clientChallenge: fromHex("aaaaaaaaaaaaaaaa"),
      avPairs: [{ id: Message.AvId.MsvAvFlags, value: Uint8Array.of(2, 0, 0, 0) }]
    }
    assert.deepStrictEqual(ok(Message.decodeClientBlob(Message.encodeClientBlob(blob))), blob)
  })
})

describe("NtlmMessage: malformed input is a failure, never an exception", () => {
  const authenticate = Message.encodeAuthenticate({
    flags: Client.curlFlags,
    lmResponse: new Uint8Array(24),
    ntResponse: new Uint8Array(60),
    domain: new Uint8Array(0),
    user: new TextEncoder().encode("alice"),
    workstation: new TextEncoder().encode("PC"),
    encryptedRandomSessionKey: new Uint8Array(0)
  })

  it("wrong signature, wrong type, empty", () => {
    fails(Message.decodeNegotiate(new Uint8Array(0)), /truncated/)
    fails(Message.decodeNegotiate(new TextEncoder().encode("NTLMSSQ\0\x01\0\0\0\0\0\0\0")), /not an NTLMSSP/)
    fails(Message.decodeNegotiate(authenticate), /expected an NTLM NEGOTIATE/)
    fails(Message.decodeAuthenticate(Client.negotiate()), /expected an NTLM AUTHENTICATE|truncated/)
  })

  it("every truncation of an AUTHENTICATE fails", () => {
    for (let n = 0; n < authenticate.length; n++) {
      assert.isTrue(Result.isFailure(Message.decodeAuthenticate(authenticate.subarray(0, n))), `length ${n}`)
    }
  })

  it("an offset or length pointing outside the message fails and names the field", () => {
    const bad = authenticate.slice()
    new DataView(bad.buffer).setUint32(36 + 4, 0xfffffff0, true) // UserName offset
    fails(Message.decodeAuthenticate(bad), /UserName lies outside/)
    const long = authenticate.slice()
    new DataView(long.buffer).setUint16(20, 0xffff, true) // NtChallengeResponse length
    fails(Message.decodeAuthenticate(long), /NtChallengeResponse lies outside/)
    const overlap = authenticate.slice()
    new DataView(overlap.buffer).setUint32(12 + 4, 8, true) // LmChallengeResponse inside the header
    fails(Message.decodeAuthenticate(overlap), /overlaps its header/)
  })

  it("messages over the size limit fail", () => {
    const huge = new Uint8Array(Message.maxMessageSize + 1)
    huge.set(authenticate)
    fails(Message.decodeAuthenticate(huge), /longer than/)
  })

  it("AV pairs: no EOL, a pair past the end, a wrong-sized MsvAvFlags", () => {
    fails(Message.decodeAvPairs(fromHex("0200 0400 4100 4200")), /no MsvAvEOL/)
    fails(Message.decodeAvPairs(fromHex("0200 0800 4100")), /past the end/)
    const blob = Message.encodeClientBlob({
      timestamp,
      clientChallenge: new Uint8Array(8),
      avPairs: [{ id: Message.AvId.MsvAvFlags, value: Uint8Array.of(2, 0) }]
    })
    fails(Message.decodeClientBlob(blob), /MsvAvFlags must be 4 octets/)
    const wrongType = Message.encodeClientBlob({ timestamp, clientChallenge: new Uint8Array(8), avPairs: [] })
    wrongType[0] = 2
    fails(Message.decodeClientBlob(wrongType), /RespType/)
  })

  it("strings: odd UTF-16 length and lone surrogates fail; OEM falls back to Latin-1", () => {
    fails(Message.decodeString(Uint8Array.of(0x61, 0, 0x62), true), /odd length/)
    fails(Message.decodeString(Uint8Array.of(0x00, 0xd8), true), /not valid/)
    assert.strictEqual(text(Uint8Array.of(0xc3, 0xa4), false), "ä")
    assert.strictEqual(text(Uint8Array.of(0xe4), false), "ä")
  })

  it("random garbage never throws", () => {
    let seed = 42
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff)
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(next() % 200)
      for (let j = 0; j < bytes.length; j++) bytes[j] = next() & 0xff
      if (i % 2 === 0 && bytes.length >= 12) bytes.set([...Message.signature, 1 + (i % 3), 0, 0, 0])
      Message.decodeNegotiate(bytes)
      Message.decodeChallenge(bytes)
      Message.decodeAuthenticate(bytes)
      Message.decodeClientBlob(bytes)
    }
  })
})
