/**
 * The NTLM message codec (MS-NLMP 2.2): NEGOTIATE, CHALLENGE and AUTHENTICATE
 * messages, AV pairs and the NTLMv2 client blob. Bytes in, values out: every
 * length and offset is checked against the message before it is read, and a
 * bad message is a `Result` failure naming the field, never the content.
 * Nothing here hashes, reads a clock, draws random numbers or keeps state.
 * Limits: a message is at most `maxMessageSize` octets; strings stay as raw
 * bytes until `decodeString` (the UNICODE flag decides how).
 */
import { Result } from "effect"

/** The 8-octet signature every NTLM message starts with: "NTLMSSP\0". */
export const signature: Uint8Array = Uint8Array.of(0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00)

/** The largest message pop3d reads (real ones are a few hundred octets; AV pairs are what grows). */
export const maxMessageSize = 16 * 1024

/** NEGOTIATE flags (MS-NLMP 2.2.2.5), by their specification names without the NTLMSSP_ prefix. */
export const Flags = {
  NEGOTIATE_UNICODE: 0x00000001,
  NEGOTIATE_OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  NEGOTIATE_SIGN: 0x00000010,
  NEGOTIATE_SEAL: 0x00000020,
  NEGOTIATE_DATAGRAM: 0x00000040,
  NEGOTIATE_LM_KEY: 0x00000080,
  NEGOTIATE_NTLM: 0x00000200,
  ANONYMOUS: 0x00000800,
  NEGOTIATE_OEM_DOMAIN_SUPPLIED: 0x00001000,
  NEGOTIATE_OEM_WORKSTATION_SUPPLIED: 0x00002000,
  NEGOTIATE_ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  TARGET_TYPE_SERVER: 0x00020000,
  NEGOTIATE_EXTENDED_SESSIONSECURITY: 0x00080000,
  NEGOTIATE_IDENTIFY: 0x00100000,
  REQUEST_NON_NT_SESSION_KEY: 0x00400000,
  NEGOTIATE_TARGET_INFO: 0x00800000,
  NEGOTIATE_VERSION: 0x02000000,
  NEGOTIATE_128: 0x20000000,
  NEGOTIATE_KEY_EXCH: 0x40000000,
  NEGOTIATE_56: 0x80000000
} as const

/** AV pair identifiers (MS-NLMP 2.2.2.1). */
export const AvId = {
  MsvAvEOL: 0,
  MsvAvNbComputerName: 1,
  MsvAvNbDomainName: 2,
  MsvAvDnsComputerName: 3,
  MsvAvDnsDomainName: 4,
  MsvAvDnsTreeName: 5,
  MsvAvFlags: 6,
  MsvAvTimestamp: 7,
  MsvAvSingleHost: 8,
  MsvAvTargetName: 9,
  MsvAvChannelBindings: 10
} as const

/** MsvAvFlags bit: the AUTHENTICATE message carries a MIC. */
export const avFlagMicPresent = 0x2

/** One AV pair; the list a codec returns never includes the terminating MsvAvEOL. */
export interface AvPair {
  readonly id: number
  readonly value: Uint8Array
}

/** The VERSION structure (MS-NLMP 2.2.2.10); debugging information only. */
export interface Version {
  readonly major: number
  readonly minor: number
  readonly build: number
  readonly revision: number
}

/** NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1); domain and workstation are raw OEM octets. */
export interface Negotiate {
  readonly flags: number
  readonly domain: Uint8Array
  readonly workstation: Uint8Array
  readonly version?: Version | undefined
}

/** CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2); `targetName` is raw octets in the negotiated encoding. */
export interface Challenge {
  readonly flags: number
  readonly targetName: Uint8Array
  readonly serverChallenge: Uint8Array
  readonly targetInfo: ReadonlyArray<AvPair>
  readonly version?: Version | undefined
}

/** AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3); strings are raw octets, `mic` is there when the header has room for it. */
export interface Authenticate {
  readonly flags: number
  readonly lmResponse: Uint8Array
  readonly ntResponse: Uint8Array
  readonly domain: Uint8Array
  readonly user: Uint8Array
  readonly workstation: Uint8Array
  readonly encryptedRandomSessionKey: Uint8Array
  readonly version?: Version | undefined
  readonly mic?: Uint8Array | undefined
}

/** NTLMv2_CLIENT_CHALLENGE (MS-NLMP 2.2.2.7): the blob after the 16-octet NTProofStr. */
export interface ClientBlob {
  /** 100 ns ticks since 1601-01-01 UTC. */
  readonly timestamp: bigint
  readonly clientChallenge: Uint8Array
  readonly avPairs: ReadonlyArray<AvPair>
}

/** Where a message is in the exchange (MessageType). */
export const MessageType = { Negotiate: 1, Challenge: 2, Authenticate: 3 } as const

/** Octets of the MIC field and its offset in an AUTHENTICATE message. */
export const micOffset = 72
export const micLength = 16

// ---------------------------------------------------------------------------
// Reading

type Decoded<A> = Result.Result<A, string>

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const copy = (bytes: Uint8Array, start: number, end: number): Uint8Array => bytes.slice(start, end)

/** Checks the signature, the message type and the size limit. */
const checkHeader = (bytes: Uint8Array, type: number, minLength: number, name: string): string | undefined => {
  if (bytes.length > maxMessageSize) return `${name} message is longer than ${maxMessageSize} octets`
  if (bytes.length < minLength) return `${name} message is truncated`
  for (let i = 0; i < signature.length; i++) if (bytes[i] !== signature[i]) return "not an NTLMSSP message"
  if (view(bytes).getUint32(8, true) !== type) return `expected an NTLM ${name} message`
  return undefined
}

/** A security buffer (len, maxlen, offset) at `at`: its octets, or a failure when it points outside the message. */
const field = (bytes: Uint8Array, at: number, name: string, payloadStart: number): Decoded<Uint8Array> => {
  const v = view(bytes)
  const length = v.getUint16(at, true)
  const offset = v.getUint32(at + 4, true)
  if (length === 0) return Result.succeed(new Uint8Array(0))
  if (offset < payloadStart || offset + length > bytes.length) return Result.fail(`${name} lies outside the message`)
  return Result.succeed(copy(bytes, offset, offset + length))
}

/** Where the payload begins: the lowest offset of a non-empty field, or the message end. */
const payloadStart = (bytes: Uint8Array, fieldsAt: ReadonlyArray<number>): number => {
  const v = view(bytes)
  let start = bytes.length
  for (const at of fieldsAt) {
    if (v.getUint16(at, true) > 0) start = Math.min(start, v.getUint32(at + 4, true))
  }
  return start
}

const readVersion = (bytes: Uint8Array, at: number): Version => {
  const v = view(bytes)
  return { major: bytes[at]!, minor: bytes[at + 1]!, build: v.getUint16(at + 2, true), revision: bytes[at + 7]! }
}

/**
 * Parses a NEGOTIATE message. The domain and workstation fields are read only when
 * their OEM_*_SUPPLIED flag is set (otherwise MS-NLMP says to ignore them), and
 * messages of 16 octets from very old clients are accepted.
 */
export const decodeNegotiate = (bytes: Uint8Array): Decoded<Negotiate> => {
  const bad = checkHeader(bytes, MessageType.Negotiate, 16, "NEGOTIATE")
  if (bad !== undefined) return Result.fail(bad)
  const flags = view(bytes).getUint32(12, true)
  const empty = new Uint8Array(0)
  if (bytes.length < 32) return Result.succeed({ flags, domain: empty, workstation: empty })
  const supplied = [
    ...((flags & Flags.NEGOTIATE_OEM_DOMAIN_SUPPLIED) !== 0 ? [16] : []),
    ...((flags & Flags.NEGOTIATE_OEM_WORKSTATION_SUPPLIED) !== 0 ? [24] : [])
  ]
  const start = payloadStart(bytes, supplied)
  if (start < 32) return Result.fail("NEGOTIATE payload overlaps its header")
  const domain = supplied.includes(16) ? field(bytes, 16, "NEGOTIATE DomainName", 32) : Result.succeed(empty)
  if (Result.isFailure(domain)) return Result.fail(domain.failure)
  const workstation = supplied.includes(24) ? field(bytes, 24, "NEGOTIATE Workstation", 32) : Result.succeed(empty)
  if (Result.isFailure(workstation)) return Result.fail(workstation.failure)
  const hasVersion = (flags & Flags.NEGOTIATE_VERSION) !== 0 && start >= 40
  return Result.succeed({
    flags,
    domain: domain.success,
    workstation: workstation.success,
    ...(hasVersion ? { version: readVersion(bytes, 32) } : {})
  })
}

/** Parses a CHALLENGE message (the client's side; used by tests and tools). */
export const decodeChallenge = (bytes: Uint8Array): Decoded<Challenge> => {
  const bad = checkHeader(bytes, MessageType.Challenge, 32, "CHALLENGE")
  if (bad !== undefined) return Result.fail(bad)
  const v = view(bytes)
  const flags = v.getUint32(20, true)
  const serverChallenge = copy(bytes, 24, 32)
  const hasInfoField = bytes.length >= 48
  const start = payloadStart(bytes, hasInfoField ? [12, 40] : [12])
  if (start < (hasInfoField ? 48 : 32)) return Result.fail("CHALLENGE payload overlaps its header")
  const targetName = field(bytes, 12, "CHALLENGE TargetName", 32)
  if (Result.isFailure(targetName)) return Result.fail(targetName.failure)
  let targetInfo: ReadonlyArray<AvPair> = []
  if (hasInfoField) {
    const info = field(bytes, 40, "CHALLENGE TargetInfo", 48)
    if (Result.isFailure(info)) return Result.fail(info.failure)
    if (info.success.length > 0) {
      const pairs = decodeAvPairs(info.success)
      if (Result.isFailure(pairs)) return Result.fail(pairs.failure)
      targetInfo = pairs.success
    }
  }
  const hasVersion = (flags & Flags.NEGOTIATE_VERSION) !== 0 && start >= 56
  return Result.succeed({
    flags,
    targetName: targetName.success,
    serverChallenge,
    targetInfo,
    ...(hasVersion ? { version: readVersion(bytes, 48) } : {})
  })
}

const authenticateFields = [12, 20, 28, 36, 44, 52] as const

/** Parses an AUTHENTICATE message. Every field must lie after the header and inside the message. */
export const decodeAuthenticate = (bytes: Uint8Array): Decoded<Authenticate> => {
  const bad = checkHeader(bytes, MessageType.Authenticate, 64, "AUTHENTICATE")
  if (bad !== undefined) return Result.fail(bad)
  const start = payloadStart(bytes, authenticateFields)
  if (start < 64) return Result.fail("AUTHENTICATE payload overlaps its header")
  const names = ["LmChallengeResponse", "NtChallengeResponse", "DomainName", "UserName", "Workstation", "EncryptedRandomSessionKey"]
  const values: Array<Uint8Array> = []
  for (let i = 0; i < authenticateFields.length; i++) {
    const value = field(bytes, authenticateFields[i]!, `AUTHENTICATE ${names[i]}`, 64)
    if (Result.isFailure(value)) return Result.fail(value.failure)
    values.push(value.success)
  }
  const [lmResponse, ntResponse, domain, user, workstation, encryptedRandomSessionKey] = values as [
    Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array
  ]
  const flags = view(bytes).getUint32(60, true)
  const hasVersion = (flags & Flags.NEGOTIATE_VERSION) !== 0 && start >= 72
  const hasMic = start >= micOffset + micLength
  return Result.succeed({
    flags,
    lmResponse,
    ntResponse,
    domain,
    user,
    workstation,
    encryptedRandomSessionKey,
    ...(hasVersion ? { version: readVersion(bytes, 64) } : {}),
    ...(hasMic ? { mic: copy(bytes, micOffset, micOffset + micLength) } : {})
  })
}

/** Parses an AV pair list up to its MsvAvEOL (required); anything after the EOL is ignored. */
export const decodeAvPairs = (bytes: Uint8Array): Decoded<ReadonlyArray<AvPair>> => {
  const v = view(bytes)
  const pairs: Array<AvPair> = []
  let at = 0
  for (;;) {
    if (at + 4 > bytes.length) return Result.fail("AV pair list has no MsvAvEOL")
    const id = v.getUint16(at, true)
    const length = v.getUint16(at + 2, true)
    if (id === AvId.MsvAvEOL) return Result.succeed(pairs)
    if (at + 4 + length > bytes.length) return Result.fail("AV pair runs past the end of its list")
    pairs.push({ id, value: copy(bytes, at + 4, at + 4 + length) })
    at += 4 + length
  }
}

/** Octets of the NTProofStr in an NTLMv2 response. */
export const ntProofStrLength = 16

/** The shortest NTLMv2 response: NTProofStr, the 28-octet blob header, an MsvAvEOL. */
export const minNtlmV2ResponseLength = ntProofStrLength + 28 + 4

/** Parses the NTLMv2 client blob (the NT response after its NTProofStr); the MsvAvFlags/Timestamp sizes are checked. */
export const decodeClientBlob = (blob: Uint8Array): Decoded<ClientBlob> => {
  if (blob.length < 32) return Result.fail("NTLMv2 client blob is truncated")
  if (blob[0] !== 1 || blob[1] !== 1) return Result.fail("NTLMv2 client blob has an unknown RespType")
  const pairs = decodeAvPairs(blob.subarray(28))
  if (Result.isFailure(pairs)) return Result.fail(pairs.failure)
  for (const pair of pairs.success) {
    if (pair.id === AvId.MsvAvFlags && pair.value.length !== 4) return Result.fail("MsvAvFlags must be 4 octets")
    if (pair.id === AvId.MsvAvTimestamp && pair.value.length !== 8) return Result.fail("MsvAvTimestamp must be 8 octets")
  }
  return Result.succeed({
    timestamp: view(blob).getBigUint64(8, true),
    clientChallenge: copy(blob, 16, 24),
    avPairs: pairs.success
  })
}

/** The MsvAvFlags value in a list (0 when absent). */
export const avFlags = (pairs: ReadonlyArray<AvPair>): number => {
  const pair = pairs.find((p) => p.id === AvId.MsvAvFlags)
  return pair === undefined ? 0 : view(pair.value).getUint32(0, true)
}

const utf16 = new TextDecoder("utf-16le", { fatal: true, ignoreBOM: true })
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const latin1 = new TextDecoder("latin1")

/**
 * Decodes a string field: UTF-16LE when the UNICODE flag is set (odd lengths and
 * lone surrogates fail), otherwise the "OEM" octets, read as UTF-8 when they are
 * valid UTF-8 (what curl sends) and as Latin-1 otherwise.
 */
export const decodeString = (bytes: Uint8Array, unicode: boolean): Decoded<string> => {
  if (unicode) {
    if (bytes.length % 2 !== 0) return Result.fail("UTF-16 string has an odd length")
    try {
      return Result.succeed(utf16.decode(bytes))
    } catch {
      return Result.fail("UTF-16 string is not valid")
    }
  }
  try {
    return Result.succeed(utf8.decode(bytes))
  } catch {
    return Result.succeed(latin1.decode(bytes))
  }
}

/** Encodes a string as UTF-16LE (the UNICODE encoding, and always the encoding of AV pair names). */
export const utf16le = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "utf16le"))

/** Encodes a string for a field: UTF-16LE when `unicode`, UTF-8 octets otherwise. */
export const encodeString = (text: string, unicode: boolean): Uint8Array =>
  unicode ? utf16le(text) : new TextEncoder().encode(text)

// ---------------------------------------------------------------------------
// Writing

/** Lays out a header of `headerLength` octets followed by the payload fields, filling each security buffer. */
const layout = (
  headerLength: number,
  type: number,
  fields: ReadonlyArray<readonly [at: number, value: Uint8Array]>,
  fill: (v: DataView, bytes: Uint8Array) => void
): Uint8Array => {
  const total = headerLength + fields.reduce((n, [, value]) => n + value.length, 0)
  const bytes = new Uint8Array(total)
  const v = view(bytes)
  bytes.set(signature)
  v.setUint32(8, type, true)
  let offset = headerLength
  for (const [at, value] of fields) {
    v.setUint16(at, value.length, true)
    v.setUint16(at + 2, value.length, true)
    v.setUint32(at + 4, offset, true)
    bytes.set(value, offset)
    offset += value.length
  }
  fill(v, bytes)
  return bytes
}

const writeVersion = (v: DataView, at: number, version: Version | undefined) => {
  if (version === undefined) return
  v.setUint8(at, version.major)
  v.setUint8(at + 1, version.minor)
  v.setUint16(at + 2, version.build, true)
  v.setUint8(at + 7, version.revision)
}

/** Encodes a NEGOTIATE message (the client's side; used by tests and tools). */
export const encodeNegotiate = (message: Negotiate): Uint8Array =>
  layout(message.version === undefined ? 32 : 40, MessageType.Negotiate, [
    [16, message.domain],
    [24, message.workstation]
  ], (v) => {
    v.setUint32(12, message.flags, true)
    writeVersion(v, 32, message.version)
  })

/** Encodes a CHALLENGE message: header (with the VERSION field when given), TargetName, TargetInfo. */
export const encodeChallenge = (message: Challenge): Uint8Array =>
  layout(message.version === undefined ? 48 : 56, MessageType.Challenge, [
    [12, message.targetName],
    [40, message.targetInfo.length === 0 ? new Uint8Array(0) : encodeAvPairs(message.targetInfo)]
  ], (v, bytes) => {
    v.setUint32(20, message.flags, true)
    bytes.set(message.serverChallenge.subarray(0, 8), 24)
    writeVersion(v, 48, message.version)
  })

/** Encodes an AUTHENTICATE message (the client's side); a `mic` makes the header 88 octets. */
export const encodeAuthenticate = (message: Authenticate): Uint8Array =>
  layout(message.mic !== undefined ? 88 : message.version !== undefined ? 72 : 64, MessageType.Authenticate, [
    [28, message.domain],
    [36, message.user],
    [44, message.workstation],
    [12, message.lmResponse],
    [20, message.ntResponse],
    [52, message.encryptedRandomSessionKey]
  ], (v, bytes) => {
    v.setUint32(60, message.flags, true)
    writeVersion(v, 64, message.version)
    if (message.mic !== undefined) bytes.set(message.mic.subarray(0, micLength), micOffset)
  })

/** Encodes an AV pair list and its terminating MsvAvEOL. */
export const encodeAvPairs = (pairs: ReadonlyArray<AvPair>): Uint8Array => {
  const bytes = new Uint8Array(pairs.reduce((n, p) => n + 4 + p.value.length, 4))
  const v = view(bytes)
  let at = 0
  for (const pair of pairs) {
    v.setUint16(at, pair.id, true)
    v.setUint16(at + 2, pair.value.length, true)
    bytes.set(pair.value, at + 4)
    at += 4 + pair.value.length
  }
  return bytes
}

/** Encodes an NTLMv2 client blob: RespType 1, HiRespType 1, timestamp, client challenge, AV pairs, 4 zero octets. */
export const encodeClientBlob = (blob: ClientBlob): Uint8Array => {
  const pairs = encodeAvPairs(blob.avPairs)
  const bytes = new Uint8Array(28 + pairs.length + 4)
  const v = view(bytes)
  bytes[0] = 1
  bytes[1] = 1
  v.setBigUint64(8, blob.timestamp, true)
  bytes.set(blob.clientChallenge.subarray(0, 8), 16)
  bytes.set(pairs, 28)
  return bytes
}
