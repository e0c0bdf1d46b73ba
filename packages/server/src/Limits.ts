// Connection limits, as Exchange's Set-PopSettings has them: connections to the server in total
// (MaxConnections), from one client address (MaxConnectionFromSingleIP) and logged-in sessions per user
// (MaxConnectionsPerUser). Each slot is a scoped resource: it is released when its scope closes, however the
// connection or session ends (QUIT, error, timeout, interruption). It only counts; it never reads a socket or
// writes a reply (the caller renders `-ERR [SYS/TEMP]` / `-ERR [IN-USE]` from the error's `code`).
import { Context, Effect, Layer, Schema } from "effect"
import type { Scope } from "effect"
import * as Net from "node:net"

/** The limits; 0 means "no limit". */
export interface Options {
  /** Connections to the whole server at once (Exchange MaxConnections). */
  readonly maxConnections?: number | undefined
  /** Connections from one client address at once (Exchange MaxConnectionFromSingleIP). */
  readonly maxConnectionsPerAddress?: number | undefined
  /** Logged-in sessions of one user at once (Exchange MaxConnectionsPerUser). */
  readonly maxSessionsPerUser?: number | undefined
}

/**
 * Defaults: MaxConnections 2000, MaxConnectionFromSingleIP 20, MaxConnectionsPerUser 16. (Exchange 2013's page
 * documents 2147483647, i.e. unlimited, for the first two; pop3d bounds them so one client cannot take them all.)
 */
export const defaults = {
  maxConnections: 2000,
  maxConnectionsPerAddress: 20,
  maxSessionsPerUser: 16
} as const

/** A limit was reached; the connection (or login) is refused with `code` and `message`. */
export class LimitExceeded extends Schema.TaggedError<LimitExceeded>()("LimitExceeded", {
  reason: Schema.Literals(["Connections", "ConnectionsFromAddress", "SessionsForUser"]),
  message: Schema.String
}) {}

/** The POP3 response code for a refusal: `SYS/TEMP` for connections, `IN-USE` for a user's sessions (RFC 3206). */
export const responseCode = (error: LimitExceeded): "SYS/TEMP" | "IN-USE" =>
  error.reason === "SessionsForUser" ? "IN-USE" : "SYS/TEMP"

/** Texts safe to show the client: they name no address, user or count. */
export const texts = {
  Connections: "Too many connections to this server, try again later",
  ConnectionsFromAddress: "Too many connections from your address, try again later",
  SessionsForUser: "Too many sessions open for this mailbox, try again later"
} as const

/** The counts right now (for tests, metrics and logs). */
export interface Counts {
  readonly connections: number
  readonly addresses: number
  readonly sessions: number
  readonly users: number
}

/** The limits service. */
export interface Shape {
  /** Takes a connection slot for `address` until the scope closes; fails when either connection limit is reached. */
  connection(address: string): Effect.Effect<void, LimitExceeded, Scope.Scope>
  /** Takes a session slot for `user` until the scope closes; fails when the user's limit is reached. */
  session(user: string): Effect.Effect<void, LimitExceeded, Scope.Scope>
  /** Open connections from `address` (after `addressKey`). */
  connectionsFrom(address: string): Effect.Effect<number>
  /** Open sessions of `user`. */
  sessionsOf(user: string): Effect.Effect<number>
  readonly counts: Effect.Effect<Counts>
}

/** The limits service tag. */
export class Limits extends Context.Service<Limits, Shape>()("@pop3d/server/Limits") {}

/**
 * The key an address is counted (and throttled) under: IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as plain IPv4, an
 * IPv6 zone dropped and the address cut to its first `ipv6Prefix` bits (128 = the whole address), in canonical
 * form. Anything else (a Unix socket path, "unknown") is its own key.
 */
export const addressKey = (address: string, ipv6Prefix: number = 128): string => {
  const bare = address.replace(/%.*$/, "")
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare)
  if (mapped !== null && Net.isIPv4(mapped[1]!)) return mapped[1]!
  if (Net.isIPv4(bare)) return bare
  if (!Net.isIPv6(bare)) return address
  const words = ipv6Words(bare)
  const prefix = Math.max(0, Math.min(128, Math.floor(ipv6Prefix)))
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, prefix - 16 * i))
    words[i] = keep === 0 ? 0 : words[i]! & (0xffff << (16 - keep)) & 0xffff
  }
  const text = words.map((w) => w.toString(16)).join(":")
  return prefix < 128 ? `${text}/${prefix}` : text
}

// The eight 16-bit words of a valid IPv6 address (an embedded IPv4 tail included).
const ipv6Words = (address: string): Array<number> => {
  let text = address.toLowerCase()
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  if (v4 !== null) {
    const [a, b, c, d] = [v4[1], v4[2], v4[3], v4[4]].map(Number) as [number, number, number, number]
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ":" + ((c << 8) | d).toString(16)
  }
  const [head, tail] = text.includes("::") ? text.split("::") as [string, string] : [text, undefined]
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((w) => parseInt(w, 16)))
  const left = parse(head)
  if (tail === undefined) return left
  const right = parse(tail)
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
}

const increment = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)
const decrement = (map: Map<string, number>, key: string) => {
  const n = (map.get(key) ?? 0) - 1
  if (n <= 0) map.delete(key)
  else map.set(key, n)
}

const unlimited = (n: number) => n <= 0 || !Number.isFinite(n)

/** Builds the service; the counts live in this value (one per server). */
export const make = (options?: Options): Shape => {
  const maxConnections = options?.maxConnections ?? defaults.maxConnections
  const maxPerAddress = options?.maxConnectionsPerAddress ?? defaults.maxConnectionsPerAddress
  const maxPerUser = options?.maxSessionsPerUser ?? defaults.maxSessionsPerUser
  let connections = 0
  const byAddress = new Map<string, number>()
  const byUser = new Map<string, number>()
  let sessions = 0

  const refuse = (reason: LimitExceeded["reason"]) => Effect.fail(new LimitExceeded({ reason, message: texts[reason] }))

  const connection = (address: string) => {
    const key = addressKey(address)
    return Effect.acquireRelease(
      Effect.suspend(() => {
        if (!unlimited(maxConnections) && connections >= maxConnections) return refuse("Connections")
        if (!unlimited(maxPerAddress) && (byAddress.get(key) ?? 0) >= maxPerAddress) {
          return refuse("ConnectionsFromAddress")
        }
        connections++
        increment(byAddress, key)
        return Effect.void
      }),
      () =>
        Effect.sync(() => {
          connections--
          decrement(byAddress, key)
        })
    )
  }

  const session = (user: string) =>
    Effect.acquireRelease(
      Effect.suspend(() => {
        if (!unlimited(maxPerUser) && (byUser.get(user) ?? 0) >= maxPerUser) return refuse("SessionsForUser")
        sessions++
        increment(byUser, user)
        return Effect.void
      }),
      () =>
        Effect.sync(() => {
          sessions--
          decrement(byUser, user)
        })
    )

  return {
    connection,
    session,
    connectionsFrom: (address) => Effect.sync(() => byAddress.get(addressKey(address)) ?? 0),
    sessionsOf: (user) => Effect.sync(() => byUser.get(user) ?? 0),
    counts: Effect.sync(() => ({ connections, addresses: byAddress.size, sessions, users: byUser.size }))
  }
}

/** The limits as a layer (one set of counters for everything that uses it). */
export const layer = (options?: Options): Layer.Layer<Limits> => Layer.sync(Limits, () => make(options))
