// Which SASL mechanisms this server offers, built from the settings. Each mechanism is a plug-in value of
// `Sasl.SaslMechanism`; the session never changes when one is added. A mechanism that cannot run here (e.g. a
// missing Kerberos library or keytab) is left out with a logged reason, never fatal.
import { Effect, Option, Result } from "effect"
import { Ntlm, Plain } from "@pop3d/auth"
import type { Sasl } from "@pop3d/auth"
import { Gssapi } from "@pop3d/auth"
import * as GssapiBinding from "@pop3d/gssapi"
import type { Settings } from "./Settings.ts"

/** The mechanisms to offer, in CAPA order. */
export const fromSettings = (settings: Settings): Effect.Effect<ReadonlyArray<Sasl.SaslMechanism>> =>
  Effect.gen(function*() {
    const out: Array<Sasl.SaslMechanism> = []
    for (const name of settings.saslMechanisms) {
      switch (name) {
        case "PLAIN":
          out.push(Plain.mechanism)
          break
        case "NTLM":
          out.push(Ntlm.make(settings.ntlm))
          break
        case "GSSAPI": {
          const mechanism = yield* gssapi(settings)
          if (Option.isSome(mechanism)) out.push(mechanism.value)
          break
        }
      }
    }
    return out
  })

/**
 * AUTH GSSAPI over the MIT Kerberos binding (@pop3d/gssapi), or None with the reason logged: no keytab set, the
 * addon not built or not loadable, or no key for the service principal in the keytab.
 */
const gssapi = (settings: Settings): Effect.Effect<Option.Option<Sasl.SaslMechanism>> =>
  Effect.gen(function*() {
    const { defaultRealm, keytab, principal, principalMap } = settings.gssapi
    const notOffered = (why: string) =>
      Effect.as(Effect.logWarning(`GSSAPI is not offered: ${why}`), Option.none<Sasl.SaslMechanism>())
    if (keytab === "") return yield* notOffered("no keytab (setting gssapi-keytab)")
    const binding = GssapiBinding.load()
    if (Result.isFailure(binding)) return yield* notOffered(binding.failure)
    const acceptor = binding.success.acceptor({ keytab, principal })
    if (Result.isFailure(acceptor)) {
      return yield* notOffered(`no key for ${principal} in ${keytab}: ${acceptor.failure.message}`)
    }
    let realm: string | undefined = defaultRealm === "" ? undefined : defaultRealm
    if (realm === undefined) {
      const configured = binding.success.defaultRealm()
      if (Result.isSuccess(configured)) realm = configured.success
      else {
        yield* Effect.logWarning(
          `GSSAPI: no default realm (${configured.failure.message}); only gssapi-principal-map principals can log in`
        )
      }
    }
    yield* Effect.logInfo("GSSAPI offered").pipe(
      Effect.annotateLogs({ principal, keytab, defaultRealm: realm ?? "(none)", mappedPrincipals: principalMap.size })
    )
    return Option.some(Gssapi.make({ acceptor: acceptor.success, defaultRealm: realm, principalMap }))
  })
