/**
 * AUTH NTLM (MS-NLMP, as MS-OXPOP3 carries it): an NTLMv2-only acceptor that
 * checks the client against the NT hash the `Directory` keeps. It owns the
 * exchange (NEGOTIATE → CHALLENGE → AUTHENTICATE) and the NTLMv2 proofs; the
 * bytes are NtlmMessage's. It must never accept NTLMv1, LM or anonymous
 * responses, never log or echo a payload, and never let an unknown user and a
 * wrong password differ in reason or in work done.
 *
 * What is checked, in order (MS-NLMP 3.2.5.1.2, 3.3.2):
 * 1. the AUTHENTICATE message is well formed (every offset and length in bounds);
 * 2. it is not anonymous (empty NT response) and not NTLMv1/LM (24-octet NT response);
 * 3. the domain is empty or this server's NetBIOS or DNS domain (case-insensitive);
 * 4. the blob's timestamp is within `maxClockSkew` of the server clock (default
 *    36 hours; MS-NLMP calls this bound MaxLifetime and leaves its value to the server);
 * 5. NTProofStr = HMAC-MD5(NTOWFv2, ServerChallenge ‖ blob), with NTOWFv2 =
 *    HMAC-MD5(NT hash, UTF-16LE(UPPER(user) ‖ domain)) for the domain as sent, as
 *    upper-cased, and empty (as Samba does), compared in constant time; an unknown
 *    user, or one without an NT hash, is checked against a dummy hash;
 * 6. when the blob's MsvAvFlags has bit 0x2, the MIC = HMAC-MD5(ExportedSessionKey,
 *    NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE with the MIC zeroed), where
 *    ExportedSessionKey is RC4(SessionBaseKey, EncryptedRandomSessionKey) under
 *    KEY_EXCH and SessionBaseKey otherwise.
 * Replays fail by construction: each exchange has a fresh random server challenge.
 * The user name maps to the mailbox as sent (no `@domain` or `DOMAIN\` splitting).
 * Not checked: MsvAvTargetName and MsvAvChannelBindings (no EPA); no signing or
 * sealing follows the exchange (POP3 has no NTLM security layer).
 */
import * as Crypto from "node:crypto"
import { Clock, Duration, Effect, Option, Redacted, Result } from "effect"
import { Directory } from "./Directory.ts"
import * as Message from "./NtlmMessage.ts"
import * as Rc4 from "./Rc4.ts"
import * as Sasl from "./Sasl.ts"

/** The names the CHALLENGE announces (only these: nothing else about the host is revealed). */
export interface Options {
  readonly netbiosDomain: string
  readonly netbiosComputer: string
  readonly dnsDomain: string
  readonly dnsComputer: string
  /** How far the client's NTLMv2 timestamp may be from the server clock (default `defaultMaxClockSkew`). */
  readonly maxClockSkew?: Duration.Input | undefined
  /** Source of server challenges (default: 8 random octets); tests fix it to replay recorded exchanges. */
  readonly serverChallenge?: (() => Uint8Array) | undefined
}

/** The default bound on |client timestamp − server time|. */
export const defaultMaxClockSkew: Duration.Duration = Duration.hours(36)

/** The VERSION the CHALLENGE carries: a fixed value (Windows 10.0.20348, NTLMSSP revision 15), not the host's. */
export const serverVersion: Message.Version = { major: 10, minor: 0, build: 20348, revision: 15 }

/** The reason for a message that cannot be parsed (the codec's reason names the field, never content). */
export const malformedReason = (why: string) => `malformed NTLM message: ${why}`

/** The reason for an NTLMv1 or LM response. */
export const ntlmV1Reason = "NTLMv1 is not accepted; use NTLMv2"

/** The reason for an anonymous AUTHENTICATE. */
export const anonymousReason = "anonymous NTLM logins are not accepted"

/** The reason for a domain that is neither empty nor this server's. */
export const foreignDomainReason = "NTLM domain is not served here"

/** The reason for an NTLMv2 timestamp outside the window. */
export const clockSkewReason = "NTLMv2 timestamp is too far from the server's clock"

// ---------------------------------------------------------------------------
// NTLMv2 primitives (MS-NLMP 3.3.2, 3.4.5)

const hmacMd5 = (key: Uint8Array, ...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const hmac = Crypto.createHmac("md5", key)
  for (const part of parts) hmac.update(part)
  return new Uint8Array(hmac.digest())
}

/** Upper-cases code point by code point, keeping any character whose upper case is longer (as Windows does). */
export const upperCase = (text: string): string =>
  Array.from(text, (ch) => {
    const upper = ch.toUpperCase()
    return upper.length === ch.length ? upper : ch
  }).join("")

/** NTOWFv2 = HMAC-MD5(NT hash, UTF-16LE(UPPER(user) ‖ domain)): the NTLMv2 ResponseKeyNT. */
export const ntowfv2 = (ntHash: Uint8Array, user: string, domain: string): Uint8Array =>
  hmacMd5(ntHash, Message.utf16le(upperCase(user) + domain))

/** NTProofStr = HMAC-MD5(ResponseKeyNT, ServerChallenge ‖ blob). */
export const ntProofStr = (responseKeyNt: Uint8Array, serverChallenge: Uint8Array, blob: Uint8Array): Uint8Array =>
  hmacMd5(responseKeyNt, serverChallenge, blob)

/** SessionBaseKey = HMAC-MD5(ResponseKeyNT, NTProofStr); for NTLMv2 it is also the KeyExchangeKey. */
export const sessionBaseKey = (responseKeyNt: Uint8Array, proof: Uint8Array): Uint8Array =>
  hmacMd5(responseKeyNt, proof)

/** ExportedSessionKey: the client's random key decrypted with RC4 under KEY_EXCH, else the KeyExchangeKey. */
export const exportedSessionKey = (
  keyExchangeKey: Uint8Array,
  flags: number,
  encryptedRandomSessionKey: Uint8Array
): Uint8Array =>
  (flags & Message.Flags.NEGOTIATE_KEY_EXCH) !== 0 ? Rc4.transform(keyExchangeKey, encryptedRandomSessionKey) : keyExchangeKey

/** MIC = HMAC-MD5(ExportedSessionKey, NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE with its MIC field zeroed). */
export const mic = (key: Uint8Array, negotiate: Uint8Array, challenge: Uint8Array, authenticate: Uint8Array): Uint8Array => {
  const zeroed = authenticate.slice()
  zeroed.fill(0, Message.micOffset, Message.micOffset + Message.micLength)
  return hmacMd5(key, negotiate, challenge, zeroed)
}

/** A Windows FILETIME (100 ns ticks since 1601-01-01 UTC) for a Unix time in milliseconds. */
export const fileTime = (millis: number): bigint => (BigInt(Math.floor(millis)) + 11_644_473_600_000n) * 10_000n

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Crypto.timingSafeEqual(a, b)

// ---------------------------------------------------------------------------
// The server's side of the messages

/** The CHALLENGE flags for a client's NEGOTIATE flags (MS-NLMP 3.2.5.1.1). ESS is always set: it makes curl use NTLMv2. */
export const challengeFlags = (clientFlags: number): number => {
  const F = Message.Flags
  const base = F.REQUEST_TARGET | F.NEGOTIATE_NTLM | F.NEGOTIATE_ALWAYS_SIGN | F.TARGET_TYPE_DOMAIN |
    F.NEGOTIATE_EXTENDED_SESSIONSECURITY | F.NEGOTIATE_TARGET_INFO | F.NEGOTIATE_VERSION
  const charset = (clientFlags & F.NEGOTIATE_UNICODE) !== 0 ? F.NEGOTIATE_UNICODE : F.NEGOTIATE_OEM
  const echoed = clientFlags &
    (F.NEGOTIATE_128 | F.NEGOTIATE_56 | F.NEGOTIATE_KEY_EXCH | F.NEGOTIATE_SIGN | F.NEGOTIATE_SEAL)
  return (base | charset | echoed) >>> 0
}

/** The CHALLENGE's TargetInfo: the four names from the options and the server time. */
export const targetInfo = (options: Options, timestamp: bigint): ReadonlyArray<Message.AvPair> => {
  const time = new Uint8Array(8)
  new DataView(time.buffer).setBigUint64(0, timestamp, true)
  return [
    { id: Message.AvId.MsvAvNbDomainName, value: Message.utf16le(options.netbiosDomain) },
    { id: Message.AvId.MsvAvNbComputerName, value: Message.utf16le(options.netbiosComputer) },
    { id: Message.AvId.MsvAvDnsDomainName, value: Message.utf16le(options.dnsDomain) },
    { id: Message.AvId.MsvAvDnsComputerName, value: Message.utf16le(options.dnsComputer) },
    { id: Message.AvId.MsvAvTimestamp, value: time }
  ]
}

/** The CHALLENGE message for a NEGOTIATE's flags, a server challenge and the server time. */
export const buildChallenge = (
  options: Options,
  clientFlags: number,
  serverChallenge: Uint8Array,
  timestamp: bigint
): Message.Challenge => {
  const flags = challengeFlags(clientFlags)
  return {
    flags,
    targetName: Message.encodeString(options.netbiosDomain, (flags & Message.Flags.NEGOTIATE_UNICODE) !== 0),
    serverChallenge,
    targetInfo: targetInfo(options, timestamp),
    version: serverVersion
  }
}

// ---------------------------------------------------------------------------
// Checking an AUTHENTICATE

/** An AUTHENTICATE that passed the structural checks (1–2 above). */
export interface Parsed {
  readonly message: Message.Authenticate
  readonly user: string
  readonly domain: string
  readonly proof: Uint8Array
  readonly blob: Uint8Array
  readonly clientBlob: Message.ClientBlob
  readonly micRequired: boolean
}

/** Checks 1–2: structure, anonymous, NTLMv1/LM. The `Failure` reason is safe to show. */
export const parseAuthenticate = (bytes: Uint8Array): Result.Result<Parsed, string> => {
  const decoded = Message.decodeAuthenticate(bytes)
  if (Result.isFailure(decoded)) return Result.fail(malformedReason(decoded.failure))
  const message = decoded.success
  const nt = message.ntResponse
  if (nt.length === 0) {
    return Result.fail(message.lmResponse.length > 1 ? ntlmV1Reason : anonymousReason)
  }
  if ((message.flags & Message.Flags.ANONYMOUS) !== 0) return Result.fail(anonymousReason)
  if (nt.length === 24) return Result.fail(ntlmV1Reason)
  if (nt.length < Message.minNtlmV2ResponseLength) return Result.fail(malformedReason("NT response is truncated"))
  const blob = nt.subarray(Message.ntProofStrLength)
  const clientBlob = Message.decodeClientBlob(blob)
  if (Result.isFailure(clientBlob)) return Result.fail(malformedReason(clientBlob.failure))
  const unicode = (message.flags & Message.Flags.NEGOTIATE_UNICODE) !== 0
  const user = Message.decodeString(message.user, unicode)
  if (Result.isFailure(user)) return Result.fail(malformedReason(`UserName: ${user.failure}`))
  const domain = Message.decodeString(message.domain, unicode)
  if (Result.isFailure(domain)) return Result.fail(malformedReason(`DomainName: ${domain.failure}`))
  const micRequired = (Message.avFlags(clientBlob.success.avPairs) & Message.avFlagMicPresent) !== 0
  if (micRequired && message.mic === undefined) return Result.fail(malformedReason("MsvAvFlags announces a MIC the message lacks"))
  if ((message.flags & Message.Flags.NEGOTIATE_KEY_EXCH) !== 0 && message.encryptedRandomSessionKey.length !== 16) {
    return Result.fail(malformedReason("KEY_EXCH needs a 16-octet EncryptedRandomSessionKey"))
  }
  return Result.succeed({
    message,
    user: user.success,
    domain: domain.success,
    proof: nt.slice(0, Message.ntProofStrLength),
    blob,
    clientBlob: clientBlob.success,
    micRequired
  })
}

/** Check 3: the domain is empty or one of ours. */
export const domainServed = (options: Options, domain: string): boolean =>
  domain === "" || [options.netbiosDomain, options.dnsDomain].some((d) => d.toUpperCase() === domain.toUpperCase())

/** Check 4: the blob's timestamp is within `skew` (in 100 ns ticks) of `now`. */
export const timestampFresh = (timestamp: bigint, now: bigint, skew: bigint): boolean =>
  (timestamp > now ? timestamp - now : now - timestamp) <= skew

/** The messages of the exchange the proofs are bound to. */
export interface Transcript {
  readonly negotiate: Uint8Array
  readonly challenge: Uint8Array
  readonly authenticate: Uint8Array
  readonly serverChallenge: Uint8Array
}

/**
 * Checks 5–6 against one NT hash. Does the same work whether or not it succeeds:
 * every domain variant and the MIC are always computed.
 */
export const proves = (parsed: Parsed, ntHash: Uint8Array, transcript: Transcript): boolean => {
  const domains = [parsed.domain, parsed.domain.toUpperCase(), ""]
  let responseKey: Uint8Array | undefined
  let fallback: Uint8Array | undefined
  for (const domain of domains) {
    const key = ntowfv2(ntHash, parsed.user, domain)
    fallback ??= key
    if (equal(ntProofStr(key, transcript.serverChallenge, parsed.blob), parsed.proof) && responseKey === undefined) {
      responseKey = key
    }
  }
  const baseKey = sessionBaseKey(responseKey ?? fallback!, parsed.proof)
  const exported = exportedSessionKey(baseKey, parsed.message.flags, parsed.message.encryptedRandomSessionKey)
  const expectedMic = mic(exported, transcript.negotiate, transcript.challenge, transcript.authenticate)
  const micOk = parsed.micRequired ? equal(expectedMic, parsed.message.mic!) : true
  return responseKey !== undefined && micOk
}

// What unknown users and users without an NT hash are checked against.
const dummyNtHash = new Uint8Array(Crypto.randomBytes(16))

const randomChallenge = (): Uint8Array => new Uint8Array(Crypto.randomBytes(8))

type Phase =
  | { readonly _tag: "AwaitNegotiate" }
  | { readonly _tag: "AwaitAuthenticate"; readonly negotiate: Uint8Array; readonly challenge: Uint8Array; readonly serverChallenge: Uint8Array }
  | { readonly _tag: "Done" }

/** The NTLM mechanism with these target names (not subject to the plaintext policy: no password crosses the wire). */
export const make = (options: Options): Sasl.SaslMechanism => {
  const skew = BigInt(Duration.toMillis(options.maxClockSkew ?? defaultMaxClockSkew)) * 10_000n
  const nextChallenge = options.serverChallenge ?? randomChallenge
  return {
    name: "NTLM",
    plaintext: false,
    start: () =>
      Directory.useSync((directory): Sasl.SaslExchange => {
        let phase: Phase = { _tag: "AwaitNegotiate" }

        const onNegotiate = (bytes: Uint8Array) =>
          Effect.gen(function*() {
            const negotiate = Message.decodeNegotiate(bytes)
            if (Result.isFailure(negotiate)) return Sasl.failure(malformedReason(negotiate.failure))
            const now = fileTime(yield* Clock.currentTimeMillis)
            const serverChallenge = nextChallenge()
            const challenge = Message.encodeChallenge(buildChallenge(options, negotiate.success.flags, serverChallenge, now))
            phase = { _tag: "AwaitAuthenticate", negotiate: bytes.slice(), challenge, serverChallenge }
            return Sasl.challenge(challenge)
          })

        const onAuthenticate = (
          bytes: Uint8Array,
          state: Extract<Phase, { _tag: "AwaitAuthenticate" }>
        ) =>
          Effect.gen(function*() {
            const parsed = parseAuthenticate(bytes)
            if (Result.isFailure(parsed)) return Sasl.failure(parsed.failure)
            const { clientBlob, domain, user } = parsed.success
            if (!domainServed(options, domain)) return Sasl.failure(foreignDomainReason)
            const now = fileTime(yield* Clock.currentTimeMillis)
            if (!timestampFresh(clientBlob.timestamp, now, skew)) return Sasl.failure(clockSkewReason)
            const record = yield* directory.lookup(user)
            const stored = Option.isSome(record) ? record.value.ntHash : undefined
            const ok = proves(parsed.success, stored === undefined ? dummyNtHash : Redacted.value(stored), {
              negotiate: state.negotiate,
              challenge: state.challenge,
              authenticate: bytes,
              serverChallenge: state.serverChallenge
            })
            return ok && stored !== undefined && Option.isSome(record)
              ? Sasl.success(record.value.mailbox)
              : Sasl.failure(Sasl.authenticationFailed)
          })

        return {
          step: (response) =>
            Effect.suspend(() => {
              const current = phase
              switch (current._tag) {
                case "AwaitNegotiate":
                  phase = { _tag: "Done" }
                  return onNegotiate(response)
                case "AwaitAuthenticate":
                  phase = { _tag: "Done" }
                  return onAuthenticate(response, current)
                case "Done":
                  return Effect.succeed(Sasl.failure(Sasl.exchangeFinished))
              }
            })
        }
      })
  }
}
