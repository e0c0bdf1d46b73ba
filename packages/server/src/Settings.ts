// Every setting pop3d has, in one table: its flag, environment variable, config-file key, default and Exchange
// counterpart, and the one Schema that validates them all at start-up. It reads files and the environment it is
// given; it never opens a socket and never falls back silently on an invalid value.
import { Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Gssapi } from "@pop3d/auth"
import { Quota } from "@pop3d/mailbox"

/** How a setting is named in each place it can be given, and what it means. */
export interface SettingSpec {
  /** Flag name without the dashes; also the key in the config file. */
  readonly flag: string
  /** Environment variable. */
  readonly env: string
  /** Default as it would be written on the command line ("" means: derived, see `doc`). */
  readonly default: string
  /** One line for `--help` and the README. */
  readonly doc: string
  /** The Exchange `Set-PopSettings` parameter this corresponds to, if any. */
  readonly exchange?: string
}

const spec = (flag: string, def: string, doc: string, exchange?: string): SettingSpec => ({
  flag,
  env: "POP3D_" + flag.toUpperCase().replace(/-/g, "_"),
  default: def,
  doc,
  ...(exchange === undefined ? {} : { exchange })
})

/** The settings table: the single source for flags, environment variables, config keys and the README. */
export const specs: ReadonlyArray<SettingSpec> = [
  spec("config", "", "Config file of `key = value` lines (keys are the flag names); default <data>/pop3d.conf if it exists"),
  spec("data", "./data", "Data folder holding the users file, the Maildirs and the TLS certificate"),
  spec("listen", "127.0.0.1", "Address both listeners bind to", "Bindings / UnencryptedOrTLSBindings / SSLBindings"),
  spec("port", "", "Plain POP3 + STLS port; 0 turns the listener off (default 110 as root, 1110 otherwise)", "UnencryptedOrTLSBindings"),
  spec("tls-port", "", "Implicit-TLS POP3 port; 0 turns it off (default 995 as root, 1995 otherwise)", "SSLBindings"),
  spec("tls-cert", "", "PEM certificate chain (default <data>/tls/cert.pem, made self-signed on first start)", "X509CertificateName"),
  spec("tls-key", "", "PEM private key (default <data>/tls/key.pem, made on first start)", "X509CertificateName"),
  spec("maildir-root", "", "Folder holding one Maildir per user, <root>/<user>/{new,cur,tmp} (default <data>/maildir)"),
  spec("users-file", "", "Users file in Dovecot passwd-file format (default <data>/users)"),
  spec("unauthenticated-timeout", "60", "Seconds of inactivity before login after which the connection is closed", "PreAuthenticatedConnectionTimeout"),
  spec("authenticated-timeout", "1800", "Seconds of inactivity after login after which the connection is closed", "AuthenticatedConnectionTimeout"),
  spec("max-command-size", "512", "Longest command line in octets, CRLF included (40..1024; below 255 pop3d warns)", "MaxCommandSize"),
  spec("max-sasl-response", "65536", "Longest SASL client response line in octets during AUTH"),
  spec("exact-rfc822-size", "on", "on: LIST/STAT sizes are exactly the octets RETR sends; off: storage sizes", "EnableExactRFC822Size"),
  spec("plaintext", "tls-only", "USER/PASS and AUTH PLAIN: allowed, tls-only (only on TLS connections) or never", "LoginType"),
  spec("sasl-mechanisms", "PLAIN", "SASL mechanisms offered by AUTH, comma-separated, in CAPA order (PLAIN, NTLM, GSSAPI)"),
  spec("ntlm-netbios-domain", "POP3D", "NTLM: NetBIOS domain name the CHALLENGE announces (also its TargetName)"),
  spec("ntlm-netbios-computer", "POP3D", "NTLM: NetBIOS computer name the CHALLENGE announces"),
  spec("ntlm-dns-domain", "localdomain", "NTLM: DNS domain name the CHALLENGE announces"),
  spec("ntlm-dns-computer", "pop3d.localdomain", "NTLM: DNS computer name the CHALLENGE announces"),
  spec("gssapi-keytab", "", "GSSAPI: keytab holding the service principal's keys; empty: GSSAPI is not offered"),
  spec("gssapi-principal", "", "GSSAPI: service principal, pop@host or pop/host@REALM (default pop@<this host's name>)"),
  spec("gssapi-default-realm", "", "GSSAPI: principals of this realm log in as their name without @REALM (default: the Kerberos configuration's default_realm)"),
  spec("gssapi-principal-map", "", "GSSAPI: more principals and the user each logs in as, principal=user comma-separated (e.g. user1@OTHER.REALM=alice)"),
  spec("max-auth-failures", "3", "Failed logins on one connection before the server answers -ERR and closes"),
  spec("max-connections", "2000", "Open connections in all; beyond, -ERR [SYS/TEMP] and close (0: no limit)", "MaxConnections"),
  spec("max-connections-per-address", "20", "Open connections from one client address (IPv6: per /64) (0: no limit)", "MaxConnectionFromSingleIP"),
  spec("max-sessions-per-user", "16", "Logged-in sessions of one user; beyond, login gets -ERR [IN-USE] (0: no limit)", "MaxConnectionsPerUser"),
  spec("login-delay", "2", "Seconds of delay after the first failed login from an address or on an account, doubling per failure"),
  spec("login-delay-max", "15", "Largest failed-login delay in seconds; 0 turns login throttling off"),
  spec("login-delay-decay", "60", "Seconds without failures that forgive one step of the failed-login delay"),
  spec("auth-cache-size", "10000", "Successful password checks remembered (as HMACs) so polling clients skip the hash; 0 turns it off"),
  spec("auth-cache-ttl", "3600", "Seconds a remembered password check stays valid (the cache empties when the users file changes)"),
  spec("quota", "0", "Storage quota per mailbox in octets, or with k, M, G, T (binary: 100M = 104857600); 0: no limit. A users file quota_rule overrides it"),
  spec("quota-messages", "0", "Message-count quota per mailbox; 0: no limit. A users file quota_rule overrides it"),
  spec("quota-full-tempfail", "off", "on: deliver exits 75 (EX_TEMPFAIL, the MTA retries) when a mailbox is full; off: 73 (EX_CANTCREAT, it bounces)"),
  spec("quota-warning-percent", "90", "Usage in percent at which one warning message is put into the mailbox (again only after going below it); 0: no warnings"),
  spec("quota-warning-from", "postmaster@localhost", "Sender address (From:) of the quota warning message"),
  spec("quota-warning-template", "", "File with the quota warning message: header lines, blank line, body, with {user} {percent} {used} {limit}… (default: the built-in packages/server/templates/quota-warning.txt)"),
  spec("retention-days", "0", "Messages older than this many days are removed by the retention sweep; 0: kept forever"),
  spec("retention-retrieved-days", "0", "Messages already retrieved (RETR) are removed after this many days; 0: the same as retention-days"),
  spec("retention-sweep-interval", "3600", "Seconds between retention sweeps over all mailboxes"),
  spec("login-interval", "0", "Minimum seconds between two logins of one user (CAPA LOGIN-DELAY); sooner gets -ERR [LOGIN-DELAY]; 0: off"),
  spec("log-level", "info", "Least severe log level written: debug, info, warning, error"),
  spec("metrics-listen", "", "HTTP endpoint for /metrics (Prometheus) and /healthz: PORT (on 127.0.0.1), HOST:PORT or [IPV6]:PORT; empty: off"),
  spec("protocol-log", "", "File the protocol log is written to (every command and first reply line, secrets redacted); empty: off", "ProtocolLogEnabled / ProtocolLogPath"),
  spec("protocol-log-max-size", "10M", "Size at which the protocol log is rotated, in octets or with K, M, G (at least 1K)", "ProtocolLogMaxFileSize"),
  spec("protocol-log-keep", "5", "Rotated protocol log files kept (FILE.1 newest … FILE.N); 0 keeps none")
]

/** The plaintext-authentication policy (PROFILE V0010). */
export type PlaintextPolicy = "allowed" | "tls-only" | "never"

/** The validated settings pop3d runs with. */
export interface Settings {
  readonly dataDir: string
  readonly configFile: string | undefined
  readonly listen: string
  readonly port: number
  readonly tlsPort: number
  readonly tlsCert: string
  readonly tlsKey: string
  readonly tlsCertIsDefault: boolean
  readonly maildirRoot: string
  readonly usersFile: string
  readonly unauthenticatedTimeout: number
  readonly authenticatedTimeout: number
  readonly maxCommandSize: number
  readonly maxSaslResponse: number
  readonly exactRfc822Size: boolean
  readonly plaintext: PlaintextPolicy
  readonly maxAuthFailures: number
  readonly maxConnections: number
  readonly maxConnectionsPerAddress: number
  readonly maxSessionsPerUser: number
  readonly loginDelay: number
  readonly loginDelayMax: number
  readonly loginDelayDecay: number
  readonly authCacheSize: number
  readonly authCacheTtl: number
  /** Default storage quota per mailbox in octets (0 = no limit). */
  readonly quota: number
  /** Default message-count quota per mailbox (0 = no limit). */
  readonly quotaMessages: number
  /** `deliver` to a full mailbox exits EX_TEMPFAIL (75) instead of EX_CANTCREAT (73). */
  readonly quotaFullTempfail: boolean
  /** Usage percentage that triggers the one warning message (0 = no warnings). */
  readonly quotaWarningPercent: number
  /** From: address of the warning message. */
  readonly quotaWarningFrom: string
  /** The warning template file, absolute ("" = the built-in one). */
  readonly quotaWarningTemplate: string
  /** Days after which any message is removed (0 = never). */
  readonly retentionDays: number
  /** Days after which a retrieved message is removed (0 = as retentionDays). */
  readonly retentionRetrievedDays: number
  /** Seconds between retention sweeps. */
  readonly retentionSweepInterval: number
  /** Minimum seconds between two logins of one user (0 = off). */
  readonly loginInterval: number
  /** Upper-case mechanism names, in the order given. */
  readonly saslMechanisms: ReadonlyArray<"PLAIN" | "NTLM" | "GSSAPI">
  /** The names AUTH NTLM's CHALLENGE announces; an NTLM login's domain must be empty or one of the two domains. */
  readonly ntlm: {
    readonly netbiosDomain: string
    readonly netbiosComputer: string
    readonly dnsDomain: string
    readonly dnsComputer: string
  }
  /** AUTH GSSAPI: where the service keys are and how a client principal becomes a user. */
  readonly gssapi: {
    /** Keytab path or `TYPE:residual`; "" means GSSAPI is not offered. */
    readonly keytab: string
    /** `service@host` or `service/host@REALM`. */
    readonly principal: string
    /** Realm stripped from principals; "" means the Kerberos configuration's default realm. */
    readonly defaultRealm: string
    /** Exact principal → user name. */
    readonly principalMap: ReadonlyMap<string, string>
  }
  readonly logLevel: "debug" | "info" | "warning" | "error"
  /** Where /metrics and /healthz are served ("" = off): PORT, HOST:PORT or [IPV6]:PORT. */
  readonly metricsListen: string
  /** The protocol log file, absolute ("" = off). */
  readonly protocolLog: string
  /** Octets after which the protocol log is rotated. */
  readonly protocolLogMaxSize: number
  /** Rotated protocol log files kept. */
  readonly protocolLogKeep: number
}

/** Start-up failed because a setting is invalid; `message` names the setting and where it came from. */
export class SettingsError extends Schema.TaggedError<SettingsError>()("SettingsError", {
  message: Schema.String
}) {}

const intIn = (min: number, max: number) =>
  Schema.String.pipe(
    Schema.check(Schema.isPattern(/^[0-9]{1,9}$/, { message: "expected a whole number" })),
    Schema.decodeTo(
      Schema.Number.pipe(Schema.check(Schema.isInt(), Schema.isBetween({ minimum: min, maximum: max }))),
      SchemaTransformation.numberFromString
    )
  )

const onOff = Schema.Literals(["on", "off", "true", "false", "yes", "no"])

/** A NetBIOS name: 1-15 letters, digits, '-', '_' or '.', starting with a letter or digit. */
const netbiosName = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/, {
    message: "expected a NetBIOS name: 1-15 letters, digits, '-', '_' or '.'"
  }))
)

/** A DNS name: dot-separated labels of letters, digits and '-', at most 253 characters. */
const dnsName = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, {
    message: "expected a DNS name such as pop3d.example.org"
  }))
)

/** The raw (string) form of every setting, keyed by flag name, validated as one Schema. */
const Raw = Schema.Struct({
  "data": Schema.NonEmptyString,
  "listen": Schema.NonEmptyString,
  "port": intIn(0, 65535),
  "tls-port": intIn(0, 65535),
  "tls-cert": Schema.String,
  "tls-key": Schema.String,
  "maildir-root": Schema.String,
  "users-file": Schema.String,
  "unauthenticated-timeout": intIn(1, 86_400),
  "authenticated-timeout": intIn(1, 86_400),
  "max-command-size": intIn(40, 1024),
  "max-sasl-response": intIn(1024, 1_048_576),
  "exact-rfc822-size": onOff,
  "plaintext": Schema.Literals(["allowed", "tls-only", "never"]),
  "max-auth-failures": intIn(1, 100),
  "max-connections": intIn(0, 1_000_000),
  "max-connections-per-address": intIn(0, 100_000),
  "max-sessions-per-user": intIn(0, 10_000),
  "login-delay": intIn(0, 60),
  "login-delay-max": intIn(0, 300),
  "login-delay-decay": intIn(1, 86_400),
  "auth-cache-size": intIn(0, 1_000_000),
  "auth-cache-ttl": intIn(1, 86_400),
  "quota": Schema.String.pipe(
    Schema.check(Schema.isPattern(/^[0-9]{1,15}[bkmgt]?$/i, { message: "expected octets, optionally with k, M, G or T (e.g. 100M)" }))
  ),
  "quota-messages": intIn(0, 999_999_999),
  "quota-full-tempfail": onOff,
  "quota-warning-percent": intIn(0, 100),
  "quota-warning-from": Schema.String.pipe(
    Schema.check(Schema.isPattern(/^[^\s@<>()",;:]+@[A-Za-z0-9.-]+$/, { message: "expected an address such as postmaster@example.org" }))
  ),
  "quota-warning-template": Schema.String,
  "retention-days": intIn(0, 36_500),
  "retention-retrieved-days": intIn(0, 36_500),
  "retention-sweep-interval": intIn(1, 604_800),
  "login-interval": intIn(0, 86_400),
  "sasl-mechanisms": Schema.String.pipe(
    Schema.check(Schema.isPattern(/^\s*(PLAIN|NTLM|GSSAPI)(\s*,\s*(PLAIN|NTLM|GSSAPI))*\s*$/i, {
      message: "expected a comma-separated list of PLAIN, NTLM, GSSAPI"
    }))
  ),
  "ntlm-netbios-domain": netbiosName,
  "ntlm-netbios-computer": netbiosName,
  "ntlm-dns-domain": dnsName,
  "ntlm-dns-computer": dnsName,
  "gssapi-keytab": Schema.String,
  "gssapi-principal": Schema.String.pipe(
    Schema.check(Schema.isPattern(/^$|^[^\s@/]+@[^\s@/]+$|^[^\s@/]+(\/[^\s@/]+)+(@[^\s@]+)?$/, {
      message: "expected service@host (e.g. pop@mail.example.com) or a Kerberos name such as pop/mail.example.com@EXAMPLE.COM"
    }))
  ),
  "gssapi-default-realm": Schema.String.pipe(
    Schema.check(Schema.isPattern(/^[^\s@]*$/, { message: "expected a realm name such as EXAMPLE.COM" }))
  ),
  "gssapi-principal-map": Schema.String,
  "log-level": Schema.Literals(["debug", "info", "warning", "error"]),
  "metrics-listen": Schema.String.pipe(
    Schema.check(Schema.isPattern(
      /^$|^(?:\[[0-9A-Fa-f:.]+\]:|[^\s:[\]]+:)?(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})$/,
      { message: "expected PORT, HOST:PORT or [IPV6]:PORT with a port from 1 to 65535, or empty" }
    ))
  ),
  "protocol-log": Schema.String,
  "protocol-log-max-size": Schema.String.pipe(
    Schema.check(Schema.isPattern(/^[0-9]{1,10}[KMG]?$/i, { message: "expected octets, optionally with K, M or G (e.g. 10M)" }))
  ),
  "protocol-log-keep": intIn(0, 1000)
})

/** Parses a config file of `key = value` lines; `#` starts a comment. Keys are flag names. */
export const parseConfigFile = (text: string, file: string): Result.Result<Record<string, string>, string> => {
  const out: Record<string, string> = {}
  const known = new Set(specs.map((s) => s.flag))
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/(^|\s)#.*$/, "").trim()
    if (line === "") continue
    const eq = line.indexOf("=")
    if (eq <= 0) return Result.fail(`${file}:${i + 1}: expected "key = value"`)
    const key = line.slice(0, eq).trim()
    if (!known.has(key) || key === "config") return Result.fail(`${file}:${i + 1}: unknown setting "${key}"`)
    out[key] = line.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1")
  }
  return Result.succeed(out)
}

/** Where a raw value came from, for error messages. */
type Origin = "default" | "config" | "env" | "flag"

/** The sources settings are read from, in increasing precedence: defaults, config file, environment, flags. */
export interface Sources {
  readonly flags: Readonly<Record<string, string | undefined>>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly isRoot: boolean
}

const describeOrigin = (flag: string, origin: Origin, configFile: string | undefined): string => {
  const s = specs.find((x) => x.flag === flag)!
  switch (origin) {
    case "flag":
      return `--${flag}`
    case "env":
      return s.env
    case "config":
      return `${flag} in ${configFile}`
    case "default":
      return `${flag} (default)`
  }
}

/** Reads, merges and validates the settings; fails with a message naming the offending setting. */
export const load = (sources: Sources): Effect.Effect<Settings, SettingsError> =>
  Effect.gen(function*() {
    const pick = (flag: string): [string, Origin] | undefined => {
      const s = specs.find((x) => x.flag === flag)!
      const f = sources.flags[flag]
      if (f !== undefined) return [f, "flag"]
      const e = sources.env[s.env]
      if (e !== undefined && e !== "") return [e, "env"]
      return undefined
    }
    const dataDir = Path.resolve(pick("data")?.[0] ?? "./data")
    const explicitConfig = pick("config")?.[0]
    const configPath = explicitConfig !== undefined ? Path.resolve(explicitConfig) : Path.join(dataDir, "pop3d.conf")
    let fromFile: Record<string, string> = {}
    let configFile: string | undefined
    if (explicitConfig !== undefined || Fs.existsSync(configPath)) {
      const text = yield* Effect.try({
        try: () => Fs.readFileSync(configPath, "utf8"),
        catch: (e) => new SettingsError({ message: `cannot read config file ${configPath}: ${(e as Error).message}` })
      })
      const parsed = parseConfigFile(text, configPath)
      if (Result.isFailure(parsed)) return yield* new SettingsError({ message: parsed.failure })
      fromFile = parsed.success
      configFile = configPath
    }
    const raw: Record<string, string> = {}
    const origin: Record<string, Origin> = {}
    for (const s of specs) {
      if (s.flag === "config") continue
      const p = pick(s.flag)
      if (p !== undefined) {
        raw[s.flag] = p[0]
        origin[s.flag] = p[1]
      } else if (fromFile[s.flag] !== undefined) {
        raw[s.flag] = fromFile[s.flag]!
        origin[s.flag] = "config"
      } else {
        raw[s.flag] = s.default
        origin[s.flag] = "default"
      }
    }
    if (raw["data"] === "" || origin["data"] === "default") raw["data"] = dataDir
    if (raw["port"] === "") raw["port"] = sources.isRoot ? "110" : "1110"
    if (raw["tls-port"] === "") raw["tls-port"] = sources.isRoot ? "995" : "1995"
    const decoded = Schema.decodeUnknownResult(Raw)(raw, { errors: "first" })
    if (Result.isFailure(decoded)) {
      const issue = decoded.failure.issue
      const flag = firstPathKey(issue) ?? "settings"
      const where = specs.some((s) => s.flag === flag) ? describeOrigin(flag, origin[flag] ?? "default", configFile) : flag
      const value = raw[flag]
      return yield* new SettingsError({
        message: `invalid setting ${where}${value === undefined ? "" : ` = "${value}"`}: ${
          SchemaIssue.makeFormatterDefault()(leafIssue(issue)).split("\n")[0]
        }`
      })
    }
    const r = decoded.success
    if (r["login-delay-max"] > 0 && r["login-delay"] > r["login-delay-max"]) {
      return yield* new SettingsError({
        message: `invalid setting ${describeOrigin("login-delay", origin["login-delay"] ?? "default", configFile)} = "${
          raw["login-delay"]
        }": must not exceed login-delay-max (${r["login-delay-max"]})`
      })
    }
    if (octets(r["protocol-log-max-size"]) < 1024) {
      return yield* new SettingsError({
        message: `invalid setting ${describeOrigin("protocol-log-max-size", origin["protocol-log-max-size"] ?? "default", configFile)} = "${
          raw["protocol-log-max-size"]
        }": must be at least 1K`
      })
    }
    if (Quota.parseSize(r["quota"]) === undefined) {
      return yield* new SettingsError({
        message: `invalid setting ${describeOrigin("quota", origin["quota"] ?? "default", configFile)} = "${raw["quota"]}": too large`
      })
    }
    const principalMap = Gssapi.parsePrincipalMap(r["gssapi-principal-map"])
    if (Result.isFailure(principalMap)) {
      const where = describeOrigin("gssapi-principal-map", origin["gssapi-principal-map"] ?? "default", configFile)
      return yield* new SettingsError({
        message: `invalid setting ${where} = "${r["gssapi-principal-map"]}": ${principalMap.failure}`
      })
    }
    const data = Path.resolve(r["data"])
    const inData = (v: string, ...rel: Array<string>) => (v === "" ? Path.join(data, ...rel) : Path.resolve(v))
    return {
      dataDir: data,
      configFile,
      listen: r["listen"],
      port: r["port"],
      tlsPort: r["tls-port"],
      tlsCert: inData(r["tls-cert"], "tls", "cert.pem"),
      tlsKey: inData(r["tls-key"], "tls", "key.pem"),
      tlsCertIsDefault: r["tls-cert"] === "" && r["tls-key"] === "",
      maildirRoot: inData(r["maildir-root"], "maildir"),
      usersFile: inData(r["users-file"], "users"),
      unauthenticatedTimeout: r["unauthenticated-timeout"],
      authenticatedTimeout: r["authenticated-timeout"],
      maxCommandSize: r["max-command-size"],
      maxSaslResponse: r["max-sasl-response"],
      exactRfc822Size: r["exact-rfc822-size"] === "on" || r["exact-rfc822-size"] === "true" ||
        r["exact-rfc822-size"] === "yes",
      plaintext: r["plaintext"],
      maxAuthFailures: r["max-auth-failures"],
      maxConnections: r["max-connections"],
      maxConnectionsPerAddress: r["max-connections-per-address"],
      maxSessionsPerUser: r["max-sessions-per-user"],
      loginDelay: r["login-delay"],
      loginDelayMax: r["login-delay-max"],
      loginDelayDecay: r["login-delay-decay"],
      authCacheSize: r["auth-cache-size"],
      authCacheTtl: r["auth-cache-ttl"],
      quota: Quota.parseSize(r["quota"]) ?? 0,
      quotaMessages: r["quota-messages"],
      quotaFullTempfail: r["quota-full-tempfail"] === "on" || r["quota-full-tempfail"] === "true" ||
        r["quota-full-tempfail"] === "yes",
      quotaWarningPercent: r["quota-warning-percent"],
      quotaWarningFrom: r["quota-warning-from"],
      quotaWarningTemplate: r["quota-warning-template"] === "" ? "" : Path.resolve(r["quota-warning-template"]),
      retentionDays: r["retention-days"],
      retentionRetrievedDays: r["retention-retrieved-days"],
      retentionSweepInterval: r["retention-sweep-interval"],
      loginInterval: r["login-interval"],
      saslMechanisms: [...new Set(r["sasl-mechanisms"].split(",").map((m) => m.trim().toUpperCase()))] as Array<
        "PLAIN" | "NTLM" | "GSSAPI"
      >,
      ntlm: {
        netbiosDomain: r["ntlm-netbios-domain"],
        netbiosComputer: r["ntlm-netbios-computer"],
        dnsDomain: r["ntlm-dns-domain"],
        dnsComputer: r["ntlm-dns-computer"]
      },
      gssapi: {
        keytab: r["gssapi-keytab"] === "" || /^[A-Za-z]+:/.test(r["gssapi-keytab"])
          ? r["gssapi-keytab"]
          : Path.resolve(r["gssapi-keytab"]),
        principal: r["gssapi-principal"] === "" ? `pop@${Os.hostname()}` : r["gssapi-principal"],
        defaultRealm: r["gssapi-default-realm"],
        principalMap: principalMap.success
      },
      logLevel: r["log-level"],
      metricsListen: r["metrics-listen"],
      protocolLog: r["protocol-log"] === "" ? "" : Path.resolve(r["protocol-log"]),
      protocolLogMaxSize: octets(r["protocol-log-max-size"]),
      protocolLogKeep: r["protocol-log-keep"]
    } satisfies Settings
  })

const firstPathKey = (issue: SchemaIssue.Issue): string | undefined => {
  let cur: SchemaIssue.Issue = issue
  for (let i = 0; i < 8; i++) {
    if (cur._tag === "Pointer") {
      const k = cur.path[0]
      return typeof k === "string" ? k : undefined
    }
    if (cur._tag === "Composite" && cur.issues.length > 0) cur = cur.issues[0]!
    else return undefined
  }
  return undefined
}

const leafIssue = (issue: SchemaIssue.Issue): SchemaIssue.Issue => {
  let cur: SchemaIssue.Issue = issue
  for (let i = 0; i < 8; i++) {
    if (cur._tag === "Pointer") cur = cur.issue
    else if (cur._tag === "Composite" && cur.issues.length > 0) cur = cur.issues[0]!
    else return cur
  }
  return cur
}

/** A size in octets from `N`, `NK`, `NM` or `NG` (binary multiples). */
export const octets = (text: string): number => {
  const m = /^([0-9]+)([KMG]?)$/i.exec(text.trim())
  if (m === null) return NaN
  return Number(m[1]) * ({ "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!.toUpperCase()]!
}

/** Warnings about settings that are valid but unwise, printed at start-up. */
export const warnings = (s: Settings): ReadonlyArray<string> =>
  s.maxCommandSize < 255
    ? [`max-command-size ${s.maxCommandSize} is below the 255 octets RFC 2449 requires wherever CAPA is offered`]
    : []
