/**
 * @pop3d/auth: identity (the `Directory` service and its users-file store)
 * and the SASL mechanisms checked against it. Never logs secrets.
 */
/** The cache of successful password checks (like Dovecot's auth_cache). */
export * as AuthCache from "./AuthCache.ts"
/** bcrypt ({BLF-CRYPT}) through bcryptjs. */
export * as Bcrypt from "./Bcrypt.ts"
/** Password digests on hashing threads, off the event loop (SHA-crypt, bcrypt). */
export * as HashThreads from "./HashThreads.ts"
/** The Directory service, its record type and the in-memory layer. */
export * as Directory from "./Directory.ts"
/** AUTH GSSAPI (RFC 4752) over an injected GSS-API acceptor, and the principal → user rule. */
export * as Gssapi from "./Gssapi.ts"
/** MD4 (RFC 1320), for the NT hash only. */
export * as Md4 from "./Md4.ts"
/** AUTH NTLM: the NTLMv2-only acceptor. */
export * as Ntlm from "./Ntlm.ts"
/** The NTLM message codec (MS-NLMP 2.2). */
export * as NtlmMessage from "./NtlmMessage.ts"
/** Stored `{SCHEME}secret` strings: parse, hash, constant-time verify. */
export * as PasswordScheme from "./PasswordScheme.ts"
/** Per-user quota rules in the users file's extra fields (Dovecot's `quota_rule`). */
export * as QuotaRule from "./QuotaRule.ts"
/** AUTH PLAIN. */
export * as Plain from "./Plain.ts"
/** RC4, for the NTLM MIC's key exchange only. */
export * as Rc4 from "./Rc4.ts"
/** The SASL mechanism interface and registry. */
export * as Sasl from "./Sasl.ts"
/** glibc SHA-crypt ($5$/$6$, {SHA256-CRYPT}/{SHA512-CRYPT}). */
export * as ShaCrypt from "./ShaCrypt.ts"
/** The Dovecot passwd-file users file and its Directory layer. */
export * as UsersFile from "./UsersFile.ts"
