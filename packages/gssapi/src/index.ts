/**
 * @pop3d/gssapi: the typed face of the native MIT Kerberos GSS-API acceptor (native/gssapi.c). `load` finds the
 * addon and says why when it cannot; `GssAcceptor` gives one security context per authentication attempt. It
 * never throws past its API (native errors come back as `GssError` values) and implements no Kerberos itself.
 */
import { Data, Result } from "effect"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"

/** A GSS-API call failed; `message` is MIT's gss_display_status text (it names principals, never keys). */
export class GssError extends Data.TaggedError("GssError")<{
  readonly operation: string
  readonly message: string
  readonly major: number
  readonly minor: number
}> {}

/** What `accept` returns for one client token. */
export interface Accepted {
  /** The context is established (GSS_S_COMPLETE); otherwise another client token is needed. */
  readonly complete: boolean
  /** The token for the client; empty when there is none (no mutual authentication). */
  readonly token: Uint8Array
  /** The initiator's principal (e.g. `user1@EXAMPLE.TEST`) once complete, else undefined. */
  readonly name: string | undefined
  /** The GSS context flags (GSS_C_MUTUAL_FLAG = 2, GSS_C_INTEG_FLAG = 32, …). */
  readonly flags: number
}

/** What `unwrap` returns. */
export interface Unwrapped {
  readonly data: Uint8Array
  /** The token was sealed (confidentiality), not only integrity-protected. */
  readonly conf: boolean
}

/** One security context, from the client's first token to the established context. */
export interface GssContext {
  /** GSS_Accept_sec_context with one client token. After a failure the context is unusable. */
  accept(token: Uint8Array): Result.Result<Accepted, GssError>
  /** GSS_Wrap (established contexts only); sealed when `conf`. */
  wrap(message: Uint8Array, conf: boolean): Result.Result<Uint8Array, GssError>
  /** GSS_Unwrap (established contexts only). */
  unwrap(token: Uint8Array): Result.Result<Unwrapped, GssError>
  /** Deletes the context now (idempotent); otherwise the garbage collector's finalizer does it. */
  dispose(): void
}

/** Acceptor credentials for one service principal from one keytab, shared by the contexts made from them. */
export interface GssAcceptor {
  /** The service principal as configured (`pop@host` or `pop/host@REALM`), or `undefined` for any in the keytab. */
  readonly principal: string | undefined
  /** The keytab the keys come from. */
  readonly keytab: string
  /** A fresh security context for one authentication attempt. */
  newContext(): GssContext
}

/** Where the acceptor's keys and name come from. */
export interface AcceptorOptions {
  /** Keytab path (or `TYPE:residual`, e.g. `FILE:/etc/pop.keytab`). Passed to MIT per credential, not process-wide. */
  readonly keytab: string
  /** `service@host` (host-based, e.g. `pop@mail.example.com`) or a Kerberos name `pop/host@REALM`; omit for any. */
  readonly principal?: string | undefined
}

/** The loaded addon. */
export interface Binding {
  /** Acquires acceptor credentials (checks that the keytab holds a key for the principal). */
  acceptor(options: AcceptorOptions): Result.Result<GssAcceptor, GssError>
  /** The default realm of the Kerberos configuration (krb5.conf, or the file KRB5_CONFIG names). */
  defaultRealm(): Result.Result<string, GssError>
  /** Where the addon was loaded from. */
  readonly path: string
}

/** The raw exports of native/gssapi.c. */
interface Native {
  acquire(principal: string | null, keytab: string | null): object
  context(credential: object): object
  accept(context: object, token: Uint8Array): { complete: boolean; token: Uint8Array; name: string | null; flags: number }
  wrap(context: object, message: Uint8Array, conf: boolean): Uint8Array
  unwrap(context: object, token: Uint8Array): { data: Uint8Array; conf: boolean }
  dispose(context: object): void
  defaultRealm(): string
}

const toGssError = (operation: string, e: unknown): GssError => {
  const err = e as { message?: unknown; major?: unknown; minor?: unknown; operation?: unknown }
  return new GssError({
    operation: typeof err.operation === "string" ? err.operation : operation,
    message: typeof err.message === "string" ? err.message : String(e),
    major: typeof err.major === "number" ? err.major : 0,
    minor: typeof err.minor === "number" ? err.minor : 0
  })
}

const attempt = <A>(operation: string, f: () => A): Result.Result<A, GssError> => {
  try {
    return Result.succeed(f())
  } catch (e) {
    return Result.fail(toGssError(operation, e))
  }
}

const wrapContext = (native: Native, handle: object): GssContext => ({
  accept: (token) =>
    Result.map(attempt("accept", () => native.accept(handle, token)), (r) => ({
      complete: r.complete,
      token: r.token,
      name: r.name ?? undefined,
      flags: r.flags
    })),
  wrap: (message, conf) => attempt("wrap", () => native.wrap(handle, message, conf)),
  unwrap: (token) => attempt("unwrap", () => native.unwrap(handle, token)),
  dispose: () => native.dispose(handle)
})

const bind = (native: Native, path: string): Binding => ({
  path,
  acceptor: (options) => {
    const principal = options.principal === undefined || options.principal === "" ? undefined : options.principal
    return Result.map(attempt("acquire", () => native.acquire(principal ?? null, options.keytab)), (credential) => ({
      principal,
      keytab: options.keytab,
      newContext: () => wrapContext(native, native.context(credential))
    }))
  },
  defaultRealm: () => attempt("defaultRealm", () => native.defaultRealm())
})

/** The package folder (this file is src/index.ts). */
const packageDir = Path.resolve(import.meta.dirname, "..")

/** Where the build puts the addon. */
export const addonPath = Path.join(packageDir, "build", "Release", "pop3d_gssapi.node")

/** The command that builds the addon. */
export const buildCommand = "pnpm --filter @pop3d/gssapi run build"

let cached: Result.Result<Binding, string> | undefined

/** Loads the addon once; the failure is a sentence saying why (not built, and why; or the loader's error). */
export const load = (): Result.Result<Binding, string> => {
  if (cached !== undefined) return cached
  if (!Fs.existsSync(addonPath)) {
    let why = ""
    try {
      why = Fs.readFileSync(Path.join(packageDir, "build", "UNAVAILABLE"), "utf8").trim()
    } catch {
      // never attempted
    }
    cached = Result.fail(`the GSSAPI addon is not built (${why === "" ? `no ${addonPath}` : why}); build it with: ${buildCommand}`)
    return cached
  }
  try {
    const native = createRequire(import.meta.url)(addonPath) as Native
    cached = Result.succeed(bind(native, addonPath))
  } catch (e) {
    cached = Result.fail(`the GSSAPI addon ${addonPath} cannot be loaded: ${e instanceof Error ? e.message : String(e)}`)
  }
  return cached
}
