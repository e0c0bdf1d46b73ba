// Which SASL mechanisms this server offers, built from the settings. Each mechanism is a plug-in value of
// `Sasl.SaslMechanism`; the session never changes when one is added. A mechanism that cannot run here (e.g. a
// missing Kerberos library or keytab) is left out with a logged reason, never fatal.
import { Effect } from "effect"
import { Plain } from "@pop3d/auth"
import type { Sasl } from "@pop3d/auth"
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
        case "GSSAPI":
          yield* Effect.logWarning(`${name} is not available in this build; not offered`)
          break
      }
    }
    return out
  })
