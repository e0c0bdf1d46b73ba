/**
 * AUTH PLAIN (RFC 4616): one client message `authzid NUL authcid NUL passwd`
 * in UTF-8, checked against the `Directory`. Owns the message parsing (kept
 * here so the mechanism does not depend on the protocol package's codec).
 * Must never log or echo the message; failure reasons are fixed texts, the
 * same for an unknown user and a wrong password.
 */
import { Effect, Option, Result } from "effect"
import { Directory } from "./Directory.ts"
import * as Sasl from "./Sasl.ts"

/** The three fields of a PLAIN message. */
export interface PlainMessage {
  readonly authzid: string
  readonly authcid: string
  readonly password: string
}

/** The reason text for a message that is not a valid PLAIN message. */
export const malformedReason = "malformed PLAIN message"

/** The reason text for an authorization identity other than the authentication identity. */
export const authzidReason = "authorization identity not permitted"

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

/** Parses a PLAIN message: strict UTF-8, exactly two NULs, authcid and password non-empty. */
export const decodeMessage = (bytes: Uint8Array): Result.Result<PlainMessage, string> => {
  let text: string
  try {
    text = strictUtf8.decode(bytes)
  } catch {
    return Result.fail("message is not valid UTF-8")
  }
  const fields = text.split("\0")
  if (fields.length !== 3) return Result.fail("message must have exactly three NUL-separated fields")
  const [authzid, authcid, password] = fields as [string, string, string]
  if (authcid === "") return Result.fail("authentication identity is empty")
  if (password === "") return Result.fail("password is empty")
  return Result.succeed({ authzid, authcid, password })
}

/** The PLAIN mechanism (subject to the plaintext policy). */
export const mechanism: Sasl.SaslMechanism = {
  name: "PLAIN",
  plaintext: true,
  start: () =>
    Directory.useSync((directory): Sasl.SaslExchange => {
      let finished = false
      return {
        step: (response) =>
          Effect.suspend(() => {
            if (finished) return Effect.succeed(Sasl.failure(Sasl.exchangeFinished))
            finished = true
            const message = decodeMessage(response)
            if (Result.isFailure(message)) return Effect.succeed(Sasl.failure(malformedReason))
            const { authcid, authzid, password } = message.success
            // Verify first, so a foreign authzid costs what a wrong password costs.
            return Effect.map(directory.verify(authcid, password), (mailbox) =>
              Option.isNone(mailbox)
                ? Sasl.failure(Sasl.authenticationFailed)
                : authzid !== "" && authzid !== authcid
                ? Sasl.failure(authzidReason)
                : Sasl.success(mailbox.value))
          })
      }
    })
}
