// Owns the SASL message codecs POP3 carries (RFC 5034): strict base64 for continuation lines and the PLAIN message
// (RFC 4616, three NUL-separated UTF-8 fields). Failures are human reasons that never echo the client's secret.
// It must never check credentials, keep exchange state or accept malformed base64.
import { Buffer } from "node:buffer"
import { Result } from "effect"

/** The credentials a PLAIN message carries; `authzid` is "" when the client asks for no other identity. */
export interface PlainCredentials {
  readonly authzid: string
  readonly authcid: string
  readonly password: string
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const EMPTY = new Uint8Array(0)

/** Decodes RFC 4648 base64 strictly (alphabet, padding, canonical pad bits); "=" is the empty response (RFC 5034). */
export const decodeBase64 = (text: string): Result.Result<Uint8Array, string> => {
  if (text === "=" || text.length === 0) return Result.succeed(EMPTY)
  if (text.length % 4 !== 0) return Result.fail("base64 length is not a multiple of 4")
  if (!BASE64.test(text)) return Result.fail("not valid base64")
  const bytes = Buffer.from(text, "base64")
  // Non-zero bits in the last character before padding make the encoding non-canonical.
  if (bytes.toString("base64") !== text) return Result.fail("base64 padding bits are not zero")
  return Result.succeed(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
}

/** Encodes bytes as RFC 4648 base64 with padding ("" for no bytes). */
export const encodeBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** Decodes a PLAIN message `authzid NUL authcid NUL password` (RFC 4616). */
export const decodePlain = (bytes: Uint8Array): Result.Result<PlainCredentials, string> => {
  const first = bytes.indexOf(0)
  const second = first === -1 ? -1 : bytes.indexOf(0, first + 1)
  if (second === -1 || bytes.indexOf(0, second + 1) !== -1) {
    return Result.fail("PLAIN message must have exactly three NUL-separated fields")
  }
  if (second === first + 1) return Result.fail("PLAIN authentication identity is empty")
  if (second + 1 === bytes.length) return Result.fail("PLAIN password is empty")
  try {
    return Result.succeed({
      authzid: utf8.decode(bytes.subarray(0, first)),
      authcid: utf8.decode(bytes.subarray(first + 1, second)),
      password: utf8.decode(bytes.subarray(second + 1))
    })
  } catch {
    return Result.fail("PLAIN message is not valid UTF-8")
  }
}
