// Owns the rendering of server replies: `+OK`/`-ERR` status lines (at most 512 octets with CRLF, RFC 2449 response
// codes in brackets) and small multi-line bodies with their terminator. Replies are latin1 strings (one char = one
// octet). It must never emit a CR, LF or NUL inside a line, nor a status line over 512 octets.
import { Buffer } from "node:buffer"
import { Schema } from "effect"

/** The RFC 2449 / RFC 3206 extended response codes pop3d uses. */
export const ResponseCode = Schema.Literals(["AUTH", "SYS/TEMP", "SYS/PERM", "IN-USE", "LOGIN-DELAY"])

/** An extended response code, rendered as ` [CODE]` after the status indicator. */
export type ResponseCode = typeof ResponseCode.Type

/** The largest status line in octets, CRLF included (RFC 2449 section 4, MS-STANXPOP3 C0001). */
export const maxStatusLine = 512

const CRLF = "\r\n"
const UNSAFE = /[\r\n\0]/g
const WIDE = /[^\u0000-\u00ff]/g

/** Makes `text` safe for one reply line: CR, LF and NUL become spaces, characters beyond latin1 become "?". */
export const sanitize = (text: string): string => text.replace(UNSAFE, " ").replace(WIDE, "?")

const status = (indicator: "+OK" | "-ERR", text: string | undefined, code: ResponseCode | undefined): string => {
  let line = code === undefined ? indicator : `${indicator} [${code}]`
  if (text !== undefined && text.length > 0) line += " " + sanitize(text)
  // The sanitized line is latin1, so its length is its size in octets.
  if (line.length > maxStatusLine - CRLF.length) line = line.slice(0, maxStatusLine - CRLF.length)
  return line + CRLF
}

/** Renders a positive status line, `+OK [CODE] text` + CRLF, truncated to 512 octets. */
export const ok = (text?: string, code?: ResponseCode): string => status("+OK", text, code)

/** Renders a negative status line, `-ERR [CODE] text` + CRLF, truncated to 512 octets. */
export const err = (text: string, code?: ResponseCode): string => status("-ERR", text, code)

/** Renders a SASL continuation, `+ data` + CRLF (RFC 5034: never `+OK`; not a status line, so not truncated). */
export const continuation = (data: string): string => `+ ${sanitize(data)}${CRLF}`

/** Renders the body of a multi-line reply: each line sanitized and dot-stuffed, CRLF line ends, then `.` CRLF. */
export const multiline = (lines: ReadonlyArray<string>): string => {
  let out = ""
  for (const line of lines) {
    const safe = sanitize(line)
    out += safe.charCodeAt(0) === 46 ? "." + safe + CRLF : safe + CRLF
  }
  return out + "." + CRLF
}

/** Writes a non-negative integer's decimal digits at `at`; returns the offset after them. */
const writeDecimal = (out: Uint8Array, at: number, n: number): number => {
  if (n >= 0x80000000) {
    const high = Math.floor(n / 1e9)
    at = writeDecimal(out, at, high)
    return writeDigits(out, at, n - high * 1e9, 9)
  }
  let digits = 1
  for (let m = n; m >= 10; m = (m / 10) | 0) digits++
  return writeDigits(out, at, n, digits)
}

/** Writes the last `digits` decimal digits of `n` (below 2^31), zero-padded, at `at`. */
const writeDigits = (out: Uint8Array, at: number, n: number, digits: number): number => {
  const end = at + digits
  for (let i = end - 1; i >= at; i--) {
    const next = (n / 10) | 0
    out[i] = 48 + n - next * 10
    n = next
  }
  return end
}

/** The most octets of one `a b` line: two 16-digit integers (up to 2^53), a space and CRLF. */
const maxNumberLine = 16 + 1 + 16 + 2

/**
 * Renders the body of a multi-line reply of `count` lines `first(i) second(i)` (non-negative integers: LIST's
 * numbers and sizes, UIDL's numbers and UIDs) and its terminator, straight into octets: no string per line, as a
 * mailbox of 100,000 messages would otherwise build 100,000 of them. Equal to `multiline` of the same lines.
 */
export const numberLines = (count: number, first: (i: number) => number, second: (i: number) => number): Uint8Array => {
  const out = Buffer.allocUnsafe(count * maxNumberLine + 3)
  let at = 0
  for (let i = 0; i < count; i++) {
    at = writeDecimal(out, at, first(i))
    out[at++] = 32
    at = writeDecimal(out, at, second(i))
    out[at++] = 13
    out[at++] = 10
  }
  out[at++] = 46
  out[at++] = 13
  out[at++] = 10
  return out.subarray(0, at)
}
