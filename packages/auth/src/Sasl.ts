/**
 * The SASL mechanism interface the session drives, and a registry of the
 * enabled mechanisms. The session knows only this interface: it sends
 * `+ <base64 of data>` for each `Challenge` and feeds the client's next line
 * (base64-decoded) to `step`, until `Success` or `Failure`. Every mechanism
 * pop3d offers is client-first: the first `step` gets the AUTH command's
 * initial response, or, when there is none, the reply to an empty challenge
 * (`+ `) the session sends (RFC 5034). Mechanisms must never log, or put into
 * a `Failure` reason, a payload or a secret.
 */
import { Effect, Option } from "effect"
import type { Directory } from "./Directory.ts"

/** What one step of an exchange produced. `reason` is safe to show the client. */
export type SaslStep =
  | { readonly _tag: "Challenge"; readonly data: Uint8Array }
  | { readonly _tag: "Success"; readonly user: string }
  | { readonly _tag: "Failure"; readonly reason: string }

/** One authentication attempt in progress; `step` takes each decoded client response. */
export interface SaslExchange {
  step(response: Uint8Array): Effect.Effect<SaslStep>
}

/** A SASL mechanism: its IANA name, whether the plaintext policy applies to it, and how to begin an exchange. */
export interface SaslMechanism {
  readonly name: string
  readonly plaintext: boolean
  start(): Effect.Effect<SaslExchange, never, Directory>
}

/** A server challenge carrying `data`. */
export const challenge = (data: Uint8Array): SaslStep => ({ _tag: "Challenge", data })

/** Authentication succeeded; `user` is the mailbox to open. */
export const success = (user: string): SaslStep => ({ _tag: "Success", user })

/** Authentication failed, with a reason safe to show the client. */
export const failure = (reason: string): SaslStep => ({ _tag: "Failure", reason })

/** The reason text for a wrong user or a wrong password alike. */
export const authenticationFailed = "authentication failed"

/** The reason text for a step after the exchange has finished. */
export const exchangeFinished = "authentication exchange already finished"

/** The enabled mechanisms, looked up by name. */
export interface Registry {
  /** The mechanism with this name (case-insensitive). */
  get(name: string): Option.Option<SaslMechanism>
  /** The names in the order given, upper-case, for CAPA's SASL line. */
  readonly names: ReadonlyArray<string>
}

/** Builds a registry; two mechanisms with the same name are a programming error (throws). */
export const registry = (mechanisms: ReadonlyArray<SaslMechanism>): Registry => {
  const byName = new Map<string, SaslMechanism>()
  for (const mechanism of mechanisms) {
    const name = mechanism.name.toUpperCase()
    if (byName.has(name)) throw new Error(`Sasl.registry: mechanism ${name} given twice`)
    byName.set(name, mechanism)
  }
  return {
    get: (name) => Option.fromNullishOr(byName.get(name.toUpperCase())),
    names: [...byName.keys()]
  }
}
