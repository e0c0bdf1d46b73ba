// Owns the capability list CAPA announces (RFC 2449), in a fixed order. It renders lines only; whether USER or STLS
// is offered on a connection is decided by the caller. It must never include the terminating ".".

/** What this connection offers, as the session knows it. */
export interface Capabilities {
  readonly user: boolean
  readonly stls: boolean
  readonly sasl: ReadonlyArray<string>
  readonly implementation: string
  readonly expire?: string | undefined
  readonly loginDelay?: number | undefined
}

/** The CAPA body lines in RFC 2449 names, in a fixed order, optional ones only when offered. */
export const render = (caps: Capabilities): ReadonlyArray<string> => {
  const lines = ["TOP", "UIDL"]
  if (caps.user) lines.push("USER")
  if (caps.sasl.length > 0) lines.push(`SASL ${caps.sasl.join(" ")}`)
  lines.push("RESP-CODES", "AUTH-RESP-CODE", "PIPELINING")
  if (caps.stls) lines.push("STLS")
  if (caps.expire !== undefined) lines.push(`EXPIRE ${caps.expire}`)
  if (caps.loginDelay !== undefined) lines.push(`LOGIN-DELAY ${caps.loginDelay}`)
  lines.push(`IMPLEMENTATION ${caps.implementation}`)
  return lines
}
