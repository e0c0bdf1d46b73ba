/**
 * @pop3d/auth: identity (the `Directory` service and its users-file store)
 * and the SASL mechanisms checked against it. Never logs secrets.
 */
/** The Directory service, its record type and the in-memory layer. */
export * as Directory from "./Directory.ts"
/** Stored `{SCHEME}secret` strings: parse, hash, constant-time verify. */
export * as PasswordScheme from "./PasswordScheme.ts"
/** AUTH PLAIN. */
export * as Plain from "./Plain.ts"
/** The SASL mechanism interface and registry. */
export * as Sasl from "./Sasl.ts"
/** The Dovecot passwd-file users file and its Directory layer. */
export * as UsersFile from "./UsersFile.ts"
