/**
 * AUTH GSSAPI (RFC 4752) over Kerberos V5 (RFC 4121): drives a GSS-API acceptor through context establishment
 * and the security-layer negotiation, then maps the authenticated principal to a mailbox. The acceptor comes in
 * the options (the MIT binding from @pop3d/gssapi in the server, a fake in tests): this module loads no native
 * code and holds no Kerberos code. It offers only "no security layer". It never logs a token.
 *
 * The exchange, as RFC 4752 section 3.1 has it (every client tried accepts exactly this):
 *   C: <AP-REQ>                        → accept; not complete: `+ <token>` and accept the next one
 *   S: + <AP-REP>   C: (empty)         only when accept produced a token (mutual authentication)
 *   S: + wrap([0x01, 0, 0, 0])         bit 0x01 = no security layer, maximum buffer 0 (integrity-only token)
 *   C: wrap([layer, maxbuf×3, authzid]) → unwrap; layer must be exactly 0x01; authzid empty, the mailbox or the
 *                                        principal itself; the mapped user must exist and not be disabled
 */
import { Effect, Option, Redacted, Result } from "effect"
import { Directory } from "./Directory.ts"
import * as PasswordScheme from "./PasswordScheme.ts"
import * as Sasl from "./Sasl.ts"

/** A GSS-API failure as the acceptor reports it (MIT's gss_display_status text). */
export interface GssFailure {
  readonly message: string
}

/** One GSS-API security context (the acceptor side), as the mechanism uses it. */
export interface GssContext {
  /** GSS_Accept_sec_context: `name` is the initiator principal once `complete`. */
  accept(token: Uint8Array): Result.Result<
    { readonly complete: boolean; readonly token: Uint8Array; readonly name: string | undefined },
    GssFailure
  >
  /** GSS_Wrap; `conf` asks for confidentiality. */
  wrap(message: Uint8Array, conf: boolean): Result.Result<Uint8Array, GssFailure>
  /** GSS_Unwrap. */
  unwrap(token: Uint8Array): Result.Result<{ readonly data: Uint8Array }, GssFailure>
  /** Frees the context (idempotent). */
  dispose(): void
}

/** Makes one security context per AUTH GSSAPI attempt; bound to the service principal and keytab. */
export interface GssAcceptor {
  newContext(): GssContext
}

/** How an authenticated principal becomes a user name. */
export interface PrincipalRule {
  /** `local@REALM` maps to `local` when REALM is this realm (compared exactly); undefined: no realm is stripped. */
  readonly defaultRealm: string | undefined
  /** Exact principal → user name; consulted first, so it also overrides the default-realm rule. */
  readonly principalMap: ReadonlyMap<string, string>
}

/** What `make` needs. */
export interface Options extends PrincipalRule {
  readonly acceptor: GssAcceptor
}

/** "No security layer": the only layer offered, and the only one a client may select. */
export const noSecurityLayer = 0x01

/** The reason text when the client selects a security layer other than "no security layer". */
export const securityLayerReason = "security layer not offered"

/** The reason text for an authorization identity the principal may not use. */
export const authzidReason = "authorization identity not permitted"

/** The reason text for a malformed security-layer message or a non-empty reply to the AP-REP. */
export const malformedReason = "malformed GSSAPI message"

/**
 * The user a principal logs in as: the map's entry for it, else its name without `@REALM` when REALM is the
 * default realm and the name is a plain one (no instance `/…`, no escaped characters); else None.
 */
export const mapPrincipal = (principal: string, rule: PrincipalRule): Option.Option<string> => {
  const mapped = rule.principalMap.get(principal)
  if (mapped !== undefined) return Option.some(mapped)
  const at = principal.lastIndexOf("@")
  if (at <= 0 || rule.defaultRealm === undefined) return Option.none()
  const local = principal.slice(0, at)
  if (principal.slice(at + 1) !== rule.defaultRealm || /[/\\@]/.test(local)) return Option.none()
  return Option.some(local)
}

/** Parses a principal map written `principal=user,principal=user` (spaces around items allowed). */
export const parsePrincipalMap = (text: string): Result.Result<ReadonlyMap<string, string>, string> => {
  const out = new Map<string, string>()
  for (const item of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const eq = item.lastIndexOf("=")
    const principal = item.slice(0, eq).trim()
    const user = item.slice(eq + 1).trim()
    if (eq <= 0 || principal === "" || user === "" || !principal.includes("@")) {
      return Result.fail(`expected principal@REALM=user, got "${item}"`)
    }
    if (out.has(principal)) return Result.fail(`principal ${principal} is mapped twice`)
    out.set(principal, user)
  }
  return Result.succeed(out)
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

type Phase =
  | { readonly _tag: "Establishing" }
  | { readonly _tag: "AwaitEmpty"; readonly principal: string }
  | { readonly _tag: "AwaitLayer"; readonly principal: string }
  | { readonly _tag: "Finished" }

/** The GSSAPI mechanism over the given acceptor and principal rule. Not subject to the plaintext policy. */
export const make = (options: Options): Sasl.SaslMechanism => ({
  name: "GSSAPI",
  plaintext: false,
  start: () =>
    Directory.useSync((directory): Sasl.SaslExchange => {
      const context = options.acceptor.newContext()
      let phase: Phase = { _tag: "Establishing" }

      const fail = (reason: string, detail: string): Effect.Effect<Sasl.SaslStep> => {
        phase = { _tag: "Finished" }
        context.dispose()
        return Effect.as(
          Effect.logInfo(`GSSAPI authentication failed: ${detail}`),
          Sasl.failure(reason)
        )
      }

      const offerLayer = (principal: string): Effect.Effect<Sasl.SaslStep> => {
        const wrapped = context.wrap(Uint8Array.of(noSecurityLayer, 0, 0, 0), false)
        if (Result.isFailure(wrapped)) return fail(Sasl.authenticationFailed, wrapped.failure.message)
        phase = { _tag: "AwaitLayer", principal }
        return Effect.succeed(Sasl.challenge(wrapped.success))
      }

      const establish = (token: Uint8Array): Effect.Effect<Sasl.SaslStep> => {
        const accepted = context.accept(token)
        if (Result.isFailure(accepted)) return fail(Sasl.authenticationFailed, accepted.failure.message)
        const { complete, name, token: reply } = accepted.success
        if (!complete) return Effect.succeed(Sasl.challenge(reply))
        if (name === undefined) return fail(Sasl.authenticationFailed, "the context has no initiator name")
        if (reply.length === 0) return offerLayer(name)
        phase = { _tag: "AwaitEmpty", principal: name }
        return Effect.succeed(Sasl.challenge(reply))
      }

      const authorize = (principal: string, token: Uint8Array): Effect.Effect<Sasl.SaslStep> =>
        Effect.suspend(() => {
          const unwrapped = context.unwrap(token)
          if (Result.isFailure(unwrapped)) return fail(Sasl.authenticationFailed, unwrapped.failure.message)
          const message = unwrapped.success.data
          if (message.length < 4) return fail(malformedReason, `${principal}: security-layer reply too short`)
          if (message[0] !== noSecurityLayer) {
            return fail(securityLayerReason, `${principal} selected security layer 0x${message[0]!.toString(16)}`)
          }
          let authzid: string
          try {
            authzid = strictUtf8.decode(message.subarray(4))
          } catch {
            return fail(malformedReason, `${principal}: authorization identity is not UTF-8`)
          }
          const user = mapPrincipal(principal, options)
          if (Option.isNone(user)) return fail(Sasl.authenticationFailed, `principal ${principal} maps to no user`)
          return Effect.flatMap(directory.lookup(user.value), (record) => {
            if (Option.isNone(record)) {
              return fail(Sasl.authenticationFailed, `principal ${principal} maps to unknown user ${user.value}`)
            }
            const stored = PasswordScheme.parse(Redacted.value(record.value.password))
            if (Result.isSuccess(stored) && stored.success._tag === "Disabled") {
              return fail(Sasl.authenticationFailed, `principal ${principal}: user ${user.value} is disabled`)
            }
            if (authzid !== "" && authzid !== user.value && authzid !== principal) {
              return fail(authzidReason, `principal ${principal} may not act as ${JSON.stringify(authzid)}`)
            }
            phase = { _tag: "Finished" }
            context.dispose()
            return Effect.succeed(Sasl.success(record.value.mailbox))
          })
        })

      return {
        step: (response) =>
          Effect.suspend(() => {
            switch (phase._tag) {
              case "Finished":
                return Effect.succeed(Sasl.failure(Sasl.exchangeFinished))
              case "Establishing":
                return establish(response)
              case "AwaitEmpty":
                return response.length === 0
                  ? offerLayer(phase.principal)
                  : fail(malformedReason, `${phase.principal}: non-empty reply to the AP-REP`)
              case "AwaitLayer":
                return authorize(phase.principal, response)
            }
          })
      }
    })
})
