/**
 * A test-side NTLM client (MS-NLMP 3.1.5): builds NEGOTIATE and NTLMv2
 * AUTHENTICATE messages the way Windows, python3-ntlm-auth and curl do, with
 * its own HMAC code so the server's proofs are checked against an independent
 * computation. Switches produce the broken and hostile variants the tests need.
 */
import * as Crypto from "node:crypto"
import { Result } from "effect"
import * as Md4 from "../src/Md4.ts"
import * as Message from "../src/NtlmMessage.ts"
import * as Rc4 from "../src/Rc4.ts"

const F = Message.Flags

const hmac = (key: Uint8Array, ...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const h = Crypto.createHmac("md5", key)
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** NT hash of a password, computed here from the MD4 module (itself checked against RFC 1320). */
export const ntHash = (password: string): Uint8Array => Md4.digest(Buffer.from(password, "utf16le"))

/** Flags like a Windows client: UNICODE, NTLM, ESS, TARGET_INFO, VERSION, 128, 56, KEY_EXCH, SIGN, SEAL. */
export const windowsFlags = (F.NEGOTIATE_UNICODE | F.NEGOTIATE_OEM | F.REQUEST_TARGET | F.NEGOTIATE_SIGN |
  F.NEGOTIATE_SEAL | F.NEGOTIATE_NTLM | F.NEGOTIATE_ALWAYS_SIGN | F.NEGOTIATE_EXTENDED_SESSIONSECURITY |
  F.NEGOTIATE_TARGET_INFO | F.NEGOTIATE_VERSION | F.NEGOTIATE_128 | F.NEGOTIATE_KEY_EXCH | F.NEGOTIATE_56) >>> 0

/** curl 7.88's NEGOTIATE flags: OEM only, no UNICODE. */
export const curlFlags = (F.NEGOTIATE_OEM | F.REQUEST_TARGET | F.NEGOTIATE_NTLM | F.NEGOTIATE_ALWAYS_SIGN |
  F.NEGOTIATE_EXTENDED_SESSIONSECURITY) >>> 0

/** A NEGOTIATE message with these flags. */
export const negotiate = (flags: number = windowsFlags): Uint8Array =>
  Message.encodeNegotiate({
    flags,
    domain: new Uint8Array(0),
    workstation: new Uint8Array(0),
    ...((flags & F.NEGOTIATE_VERSION) !== 0 ? { version: { major: 10, minor: 0, build: 19041, revision: 15 } } : {})
  })

export interface AuthenticateOptions {
  readonly negotiate: Uint8Array
  readonly challenge: Uint8Array
  readonly user: string
  readonly domain?: string
  /** The password, or the NT hash directly. */
  readonly password?: string
  readonly ntHash?: Uint8Array
  /** The user name NTOWFv2 is computed with, when it should differ from the one sent. */
  readonly ntowfUser?: string
  readonly workstation?: string
  /** Add MsvAvFlags 0x2 and a MIC (as Windows and python3-ntlm-auth do). */
  readonly mic?: boolean
  /** Under KEY_EXCH (when the challenge has it): the random session key sent encrypted. */
  readonly randomSessionKey?: Uint8Array
  /** The blob timestamp; default the CHALLENGE's MsvAvTimestamp. */
  readonly timestamp?: bigint
  readonly clientChallenge?: Uint8Array
  /** Send an NTLMv1-shaped response: 24-octet LM and NT responses. */
  readonly ntlmV1?: boolean
  /** Send no NT response at all (anonymous). */
  readonly anonymous?: boolean
  /** Flip a bit of the NTProofStr. */
  readonly tamperProof?: boolean
  /** Flip a bit of the MIC. */
  readonly tamperMic?: boolean
}

/** The decoded CHALLENGE, throwing on a malformed one. */
export const readChallenge = (bytes: Uint8Array): Message.Challenge => {
  const decoded = Message.decodeChallenge(bytes)
  if (Result.isFailure(decoded)) throw new Error(`bad CHALLENGE: ${decoded.failure}`)
  return decoded.success
}

/** An AUTHENTICATE message answering `challenge` (MS-NLMP 3.1.5.1.2 with NTLMv2). */
export const authenticate = (o: AuthenticateOptions): Uint8Array => {
  const challenge = readChallenge(o.challenge)
  const unicode = (challenge.flags & F.NEGOTIATE_UNICODE) !== 0
  const flags = challenge.flags
  const text = (s: string) => Message.encodeString(s, unicode)
  const domain = o.domain ?? ""
  const workstation = o.workstation ?? "TESTCLIENT"
  const serverTime = challenge.targetInfo.find((p) => p.id === Message.AvId.MsvAvTimestamp)
  const timestamp = o.timestamp ??
    (serverTime === undefined ? 0n : new DataView(serverTime.value.buffer, serverTime.value.byteOffset).getBigUint64(0, true))
  const base = {
    flags,
    domain: text(domain),
    user: text(o.user),
    workstation: text(workstation)
  }
  if (o.anonymous === true) {
    return Message.encodeAuthenticate({
      ...base,
      flags: (flags | F.ANONYMOUS) >>> 0,
      user: new Uint8Array(0),
      lmResponse: new Uint8Array(1),
      ntResponse: new Uint8Array(0),
      encryptedRandomSessionKey: new Uint8Array(0)
    })
  }
  if (o.ntlmV1 === true) {
    // Shape only: the server must refuse it on length before any crypto.
    return Message.encodeAuthenticate({
      ...base,
      lmResponse: new Uint8Array(Crypto.randomBytes(24)),
      ntResponse: new Uint8Array(Crypto.randomBytes(24)),
      encryptedRandomSessionKey: new Uint8Array(0)
    })
  }
  const nt = o.ntHash ?? ntHash(o.password ?? "")
  const responseKey = hmac(nt, Buffer.from((o.ntowfUser ?? o.user).toUpperCase() + domain, "utf16le"))
  const avPairs = [
    ...challenge.targetInfo,
    ...(o.mic === true ? [{ id: Message.AvId.MsvAvFlags, value: Uint8Array.of(2, 0, 0, 0) }] : [])
  ]
  const clientChallenge = o.clientChallenge ?? new Uint8Array(Crypto.randomBytes(8))
  const blob = Message.encodeClientBlob({ timestamp, clientChallenge, avPairs })
  const proof = hmac(responseKey, challenge.serverChallenge, blob)
  const sessionBaseKey = hmac(responseKey, proof)
  if (o.tamperProof === true) proof[0] ^= 1
  const keyExch = (flags & F.NEGOTIATE_KEY_EXCH) !== 0
  const exported = keyExch ? (o.randomSessionKey ?? new Uint8Array(Crypto.randomBytes(16))) : sessionBaseKey
  const encryptedRandomSessionKey = keyExch ? Rc4.transform(sessionBaseKey, exported) : new Uint8Array(0)
  const lmResponse = o.mic === true
    ? new Uint8Array(24)
    : new Uint8Array([...hmac(responseKey, challenge.serverChallenge, clientChallenge), ...clientChallenge])
  const message = Message.encodeAuthenticate({
    ...base,
    lmResponse,
    ntResponse: new Uint8Array([...proof, ...blob]),
    encryptedRandomSessionKey,
    ...(o.mic === true
      ? { version: { major: 10, minor: 0, build: 19041, revision: 15 }, mic: new Uint8Array(16) }
      : {})
  })
  if (o.mic === true) {
    const mic = hmac(exported, o.negotiate, o.challenge, message)
    if (o.tamperMic === true) mic[5] ^= 0x80
    message.set(mic, Message.micOffset)
  }
  return message
}
