// Every informational text pop3d puts after +OK or -ERR, in one place so wording stays consistent (PROFILE V0001).
// Texts never carry a password, a SASL payload or whether a user exists.

/** Greeting: no APOP timestamp (PROFILE V0012). */
export const greeting = "POP3 server ready"
export const bye = "Signing off"
export const byeRemoved = (n: number) => `Signing off, ${n} message${n === 1 ? "" : "s"} removed`
export const capaFollows = "Capability list follows"
export const mechanismsFollow = "Supported authentication mechanisms follow"
export const userAccepted = "Send PASS"
export const loggedIn = (count: number, octets: number) => `Logged in, maildrop has ${count} messages (${octets} octets)`
export const listFollows = (count: number, octets: number) => `${count} messages (${octets} octets)`
export const uidlFollows = "Unique-id listing follows"
export const retrFollows = (octets: number) => `${octets} octets`
export const topFollows = "Top of message follows"
export const deleted = (n: number) => `Message ${n} marked for deletion`
export const stlsBegin = "Begin TLS negotiation"

export const lineTooLong = (max: number) => `Command line too long: at most ${max} octets including CRLF`
export const saslTooLong = "SASL response too long, authentication aborted"
export const loginFirst = "Not logged in: authenticate with USER/PASS or AUTH first"
export const onlyBeforeLogin = (verb: string) => `${verb} is only valid before login`
export const userFirst = "Send USER first"
export const authFailed = "Authentication failed"
export const authFailedBecause = (reason: string) => `Authentication failed: ${reason}`
export const tooManyFailures = "Authentication failed; too many failures, closing connection"
export const authCancelled = "Authentication cancelled"
export const badBase64 = "Malformed base64 in SASL response, authentication aborted"
export const unknownMechanism = (m: string) => `Unsupported authentication mechanism ${m.slice(0, 40)}`
export const plaintextNeedsTls = "Plaintext authentication is only permitted over TLS: use STLS or the implicit-TLS port"
export const plaintextNever = "Plaintext authentication is disabled on this server"
export const apopUnsupported = "APOP is not supported: use USER/PASS or AUTH"
export const stlsAfterLogin = "STLS is only valid before login"
export const stlsAlreadySecure = "TLS is already active on this connection"
export const stlsUnavailable = "STLS is not available: no TLS certificate configured"
export const noSuchMessage = (n: number, count: number) => `No such message ${n}: maildrop has ${count} messages`
export const alreadyDeleted = (n: number) => `Message ${n} already deleted`
export const messageGone = (n: number) => `Message ${n} was removed by another session`
export const loginTooSoon = (interval: number, wait: number) =>
  `Logins must be at least ${interval} seconds apart: try again in ${wait} second${wait === 1 ? "" : "s"}`
export const mailboxUnavailable = "Mailbox temporarily unavailable, try again later"
export const updateFailed = (why: string) => `Some messages marked for deletion could not be removed: ${why}`
export const idleTimeout = "Disconnected for inactivity, closing connection"
export const shuttingDown = "Server shutting down, closing connection"
export const internalError = "Internal server error, closing connection"
