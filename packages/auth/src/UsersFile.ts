/**
 * The users file, in Dovecot's passwd-file format: one account per line,
 * `user:password[:uid:gid:gecos:home:shell:extra_fields]`, `#` comments and
 * blank lines. Owns parsing and serialising it (comments, order and the
 * fields after the password kept verbatim), the CLI's edits (written
 * atomically, mode 0600), and the `Directory` layer that re-reads the file
 * when it changes. Must never log, or put into an error, a line's content or
 * a password: problems are reported by line number.
 *
 * The NT hash AUTH NTLM needs is kept beside the main hash, as the extra field
 * `nt_hash={NTLM}<32 hex digits>` (Dovecot's extra_fields position, the eighth
 * field): `alice:{SCRYPT}…::::::nt_hash={NTLM}8846f7eaee8fb117ad06bdd830b7586c`.
 * It is password-equivalent (whoever reads it can log in by NTLM), which is
 * one more reason the file is mode 0600. Setting a password always drops an
 * old NT hash, so a stale one never outlives the password it came from.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import { Clock, Duration, Effect, Layer, Schema, Semaphore } from "effect"
import * as AuthCache from "./AuthCache.ts"
import * as Directory from "./Directory.ts"
import * as PasswordScheme from "./PasswordScheme.ts"
import * as QuotaRule from "./QuotaRule.ts"

/** Why a users-file operation failed. */
export class UsersFileError extends Schema.TaggedError<UsersFileError>()("UsersFileError", {
  reason: Schema.Literals(["UserExists", "NoSuchUser", "InvalidName", "InvalidPassword", "Io"]),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** An account line: name, stored `{SCHEME}secret`, and the rest of the line verbatim. */
export interface UserLine {
  readonly _tag: "User"
  readonly name: string
  readonly password: string
  /** Everything after the password field, including its leading `:`; `""` when the line has two fields. */
  readonly rest: string
}

/** A comment, blank or malformed line, kept verbatim so that a rewrite loses nothing. */
export interface TextLine {
  readonly _tag: "Text"
  readonly text: string
}

/** One line of the file. */
export type Line = UserLine | TextLine

/** A line that was skipped: its 1-based number and why (never its content). */
export interface Problem {
  readonly line: number
  readonly reason: string
}

/** A parsed users file. */
export interface UsersFile {
  readonly lines: ReadonlyArray<Line>
  readonly problems: ReadonlyArray<Problem>
}

/** Whether a user name is acceptable: 1–255 characters, no `:`, `/`, whitespace or control characters. */
export const isValidName = (name: string): boolean =>
  name.length >= 1 && name.length <= 255 && !/[:/\s\p{Cc}]/u.test(name)

/** Parses the file's text. Line ends are LF (a CR before it is dropped); the first of two equal names wins. */
export const parse = (text: string): UsersFile => {
  const raw = text.split("\n")
  if (raw.length > 0 && raw[raw.length - 1] === "") raw.pop()
  const lines: Array<Line> = []
  const problems: Array<Problem> = []
  const seen = new Set<string>()
  raw.forEach((rawLine, index) => {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine
    const skip = (reason: string) => {
      problems.push({ line: index + 1, reason })
      lines.push({ _tag: "Text", text: line })
    }
    if (line.trim() === "" || line.startsWith("#")) return lines.push({ _tag: "Text", text: line })
    const first = line.indexOf(":")
    if (first < 0) return skip("no password field")
    const name = line.slice(0, first)
    if (!isValidName(name)) return skip("invalid user name")
    if (seen.has(name)) return skip("duplicate user name (the first entry is used)")
    seen.add(name)
    const second = line.indexOf(":", first + 1)
    const password = second < 0 ? line.slice(first + 1) : line.slice(first + 1, second)
    const rest = second < 0 ? "" : line.slice(second)
    lines.push({ _tag: "User", name, password, rest })
  })
  return { lines, problems }
}

/** Renders a file back to text: one LF-terminated line per entry, in order. */
export const serialise = (file: Pick<UsersFile, "lines">): string =>
  file.lines.map((line) => (line._tag === "User" ? `${line.name}:${line.password}${line.rest}` : line.text) + "\n")
    .join("")

/** The account lines of a file, in order. */
export const users = (file: Pick<UsersFile, "lines">): ReadonlyArray<UserLine> =>
  file.lines.filter((line): line is UserLine => line._tag === "User")

// ---------------------------------------------------------------------------
// File access

const ioError = (message: string) => (cause: unknown) => new UsersFileError({ reason: "Io", message, cause })

const isNotFound = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && (cause as { code?: unknown }).code === "ENOENT"

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

/** Reads and parses the file; `undefined` when it does not exist. */
export const read = (path: string): Effect.Effect<UsersFile | undefined, UsersFileError> =>
  Effect.tryPromise({
    try: async () => {
      try {
        return parse(strictUtf8.decode(await Fs.readFile(path)))
      } catch (cause) {
        if (isNotFound(cause)) return undefined
        throw cause
      }
    },
    catch: ioError(`cannot read users file ${path}`)
  })

/** Replaces the file atomically: a mode-0600 temporary file in the same directory, fsync, rename. */
export const write = (path: string, file: Pick<UsersFile, "lines">): Effect.Effect<void, UsersFileError> =>
  Effect.tryPromise({
    try: async () => {
      const dir = NodePath.dirname(path)
      await Fs.mkdir(dir, { recursive: true, mode: 0o700 })
      const tmp = NodePath.join(dir, `.${NodePath.basename(path)}.${process.pid}.${Crypto.randomBytes(6).toString("hex")}.tmp`)
      const handle = await Fs.open(tmp, "wx", 0o600)
      try {
        try {
          await handle.chmod(0o600)
          await handle.writeFile(serialise(file), "utf8")
          await handle.sync()
        } finally {
          await handle.close()
        }
        await Fs.rename(tmp, path)
      } catch (cause) {
        await Fs.rm(tmp, { force: true })
        throw cause
      }
      // Make the rename itself durable; not every file system allows this.
      const dirHandle = await Fs.open(dir, "r").catch(() => undefined)
      await dirHandle?.sync().catch(() => undefined)
      await dirHandle?.close()
    },
    catch: ioError(`cannot write users file ${path}`)
  })

// ---------------------------------------------------------------------------
// CLI operations

/** Lock files older than this are left over from a crashed writer and are taken over. */
const staleLockMs = 30_000

/**
 * Serialises read-modify-write of the users file between processes (two `pop3d user add` at once must not lose
 * one): an exclusive `<file>.lock` (O_CREAT|O_EXCL), retried for up to 10 s, taken over when stale.
 */
const locked = <A>(path: string, use: Effect.Effect<A, UsersFileError>): Effect.Effect<A, UsersFileError> => {
  const lockPath = `${path}.lock`
  const acquire = Effect.tryPromise({
    try: async () => {
      await Fs.mkdir(NodePath.dirname(path), { recursive: true, mode: 0o700 })
      const deadline = Date.now() + 10_000
      for (;;) {
        try {
          const handle = await Fs.open(lockPath, "wx", 0o600)
          await handle.writeFile(`${process.pid}\n`)
          await handle.close()
          return
        } catch (cause) {
          if ((cause as NodeJS.ErrnoException).code !== "EEXIST") throw cause
          const stat = await Fs.stat(lockPath).catch(() => undefined)
          if (stat !== undefined && Date.now() - stat.mtimeMs > staleLockMs) await Fs.rm(lockPath, { force: true })
          if (Date.now() > deadline) throw new Error(`users file is locked by another process (${lockPath})`)
          await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40))
        }
      }
    },
    catch: ioError(`cannot lock users file ${path}`)
  })
  return Effect.acquireUseRelease(acquire, () => use, () => Effect.promise(() => Fs.rm(lockPath, { force: true })))
}

/** Options for `add` and `setPassword`: how the new password is stored. */
export interface HashOptions extends PasswordScheme.Options {
  readonly scheme?: PasswordScheme.Scheme | undefined
  /** Also store the NT hash in the `nt_hash` extra field, for AUTH NTLM (default false). */
  readonly ntHash?: boolean | undefined
}

// ---------------------------------------------------------------------------
// The nt_hash extra field

/** The extra-field key the NT hash is stored under. */
export const ntHashKey = "nt_hash"

// `rest` is ":uid:gid:gecos:home:shell:extra fields"; the extra fields are space-separated key=value tokens.
const splitRest = (rest: string) => {
  const parts = rest === "" ? [] : rest.slice(1).split(":")
  return { positional: parts.slice(0, 5), extra: parts.length > 5 ? parts.slice(5).join(":") : undefined }
}

const isNtHashToken = (token: string) => token.startsWith(`${ntHashKey}=`)

/** The stored `{NTLM}…` value of a line's `nt_hash` extra field, if it has one. */
export const ntHashField = (rest: string): string | undefined => {
  const { extra } = splitRest(rest)
  const token = extra?.split(/\s+/).find(isNtHashToken)
  return token?.slice(ntHashKey.length + 1)
}

/** `rest` with its `nt_hash` field replaced by `stored` (or removed when undefined); unchanged if nothing changes. */
export const withNtHashField = (rest: string, stored: string | undefined): string => {
  const { extra, positional } = splitRest(rest)
  const tokens = (extra ?? "").split(/\s+/).filter((t) => t !== "")
  const kept = tokens.filter((t) => !isNtHashToken(t))
  if (kept.length === tokens.length && stored === undefined) return rest
  const next = stored === undefined ? kept : [...kept, `${ntHashKey}=${stored}`]
  if (next.length > 0) {
    while (positional.length < 5) positional.push("")
    return `:${positional.join(":")}:${next.join(" ")}`
  }
  while (positional.length > 0 && positional[positional.length - 1] === "") positional.pop()
  return positional.length === 0 ? "" : `:${positional.join(":")}`
}

/**
 * The quota a line's extra fields give (`quota_rule=*:storage=100M`, see `QuotaRule`): `undefined` when there is
 * none, a failure naming what is wrong (never the line) when a rule cannot be used.
 */
export const quotaField = (rest: string): ReturnType<typeof QuotaRule.fromExtraFields> =>
  QuotaRule.fromExtraFields(splitRest(rest).extra ?? "")

const checkName = (name: string) =>
  isValidName(name)
    ? Effect.void
    : Effect.fail(new UsersFileError({
      reason: "InvalidName",
      message: "user name must be 1-255 characters without ':', '/', whitespace or control characters"
    }))

const storedNtHash = (password: string, options?: HashOptions): Effect.Effect<string | undefined> =>
  options?.ntHash === true ? PasswordScheme.hash(password, "NTLM") : Effect.succeed(undefined)

const storedPassword = (password: string, options?: HashOptions) =>
  Effect.gen(function*() {
    if (password === "") {
      return yield* new UsersFileError({ reason: "InvalidPassword", message: "password must not be empty" })
    }
    const stored = yield* PasswordScheme.hash(password, options?.scheme ?? "SCRYPT", options)
    if (/[:\r\n]/.test(stored)) {
      return yield* new UsersFileError({
        reason: "InvalidPassword",
        message: "a PLAIN password cannot contain ':' or line breaks"
      })
    }
    return stored
  })

const noSuchUser = (name: string) =>
  new UsersFileError({ reason: "NoSuchUser", message: `no user ${JSON.stringify(name)}` })

/** Adds an account (creating the file if missing); fails with `UserExists` if the name is taken. */
export const add = (path: string, name: string, password: string, options?: HashOptions): Effect.Effect<void, UsersFileError> =>
  locked(path, addUnlocked(path, name, password, options))

const addUnlocked: (path: string, name: string, password: string, options?: HashOptions) => Effect.Effect<void, UsersFileError> =
  Effect.fn("UsersFile.add")(
  function*(path: string, name: string, password: string, options?: HashOptions) {
    yield* checkName(name)
    const file = (yield* read(path)) ?? { lines: [], problems: [] }
    if (users(file).some((user) => user.name === name)) {
      return yield* new UsersFileError({ reason: "UserExists", message: `user ${JSON.stringify(name)} already exists` })
    }
    const stored = yield* storedPassword(password, options)
    const rest = withNtHashField("", yield* storedNtHash(password, options))
    yield* write(path, { lines: [...file.lines, { _tag: "User", name, password: stored, rest }] })
  }
)

/** Replaces an account's password, keeping the rest of its line (an old NT hash is replaced or dropped). */
export const setPassword = (
  path: string,
  name: string,
  password: string,
  options?: HashOptions
): Effect.Effect<void, UsersFileError> => locked(path, setPasswordUnlocked(path, name, password, options))

const setPasswordUnlocked: (
  path: string,
  name: string,
  password: string,
  options?: HashOptions
) => Effect.Effect<void, UsersFileError> = Effect.fn("UsersFile.setPassword")(
  function*(path: string, name: string, password: string, options?: HashOptions) {
    const file = yield* read(path)
    if (file === undefined || !users(file).some((user) => user.name === name)) return yield* noSuchUser(name)
    const stored = yield* storedPassword(password, options)
    const nt = yield* storedNtHash(password, options)
    yield* write(path, {
      lines: file.lines.map((line) =>
        line._tag === "User" && line.name === name
          ? { ...line, password: stored, rest: withNtHashField(line.rest, nt) }
          : line
      )
    })
  }
)

/** Removes an account's line. */
export const remove = (path: string, name: string): Effect.Effect<void, UsersFileError> =>
  locked(path, removeUnlocked(path, name))

const removeUnlocked: (path: string, name: string) => Effect.Effect<void, UsersFileError> = Effect.fn(
  "UsersFile.remove"
)(function*(path: string, name: string) {
  const file = yield* read(path)
  if (file === undefined || !users(file).some((user) => user.name === name)) return yield* noSuchUser(name)
  yield* write(path, { lines: file.lines.filter((line) => !(line._tag === "User" && line.name === name)) })
})

/** One account as `list` shows it: the name and the scheme (`""` = disabled), never the secret. */
export interface Listing {
  readonly name: string
  readonly scheme: string
}

/** Lists the accounts in file order; a missing file has none. */
export const list: (path: string) => Effect.Effect<ReadonlyArray<Listing>, UsersFileError> = Effect.fn(
  "UsersFile.list"
)(function*(path: string) {
  const file = yield* read(path)
  return file === undefined
    ? []
    : users(file).map((user): Listing => ({ name: user.name, scheme: PasswordScheme.schemeOf(user.password) }))
})

// ---------------------------------------------------------------------------
// The Directory layer

/** Options for the users-file directory. */
export interface LayerOptions extends Directory.Options {
  /** The users file. */
  readonly path: string
  /** At most one `stat` per this interval on the login path (default 1 second; 0 = every login). */
  readonly checkInterval?: Duration.Input | undefined
}

type Stamp = string

const stampOf = (path: string): Promise<Stamp> =>
  Fs.stat(path, { bigint: true }).then(
    (s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`,
    (cause) => {
      if (isNotFound(cause)) return "missing"
      throw cause
    }
  )

const toSnapshot = (file: UsersFile | undefined): Directory.Snapshot =>
  Directory.snapshot(
    file === undefined ? [] : users(file).map((user) => {
      const quota = quotaField(user.rest)
      return [user.name, user.password, ntHashField(user.rest), quota._tag === "Success" ? quota.success : undefined] as const
    })
  )

/**
 * A directory backed by the users file, re-read when its identity, size or
 * times change. A missing file means no users (warned once per disappearance);
 * an unreadable file at start fails, and later keeps the last good contents.
 */
export const make: (options: LayerOptions) => Effect.Effect<Directory.Directory["Service"], UsersFileError> =
  Effect.fn("UsersFile.make")(function*(options: LayerOptions) {
  const { path } = options
  const interval = Duration.toMillis(options.checkInterval ?? Duration.seconds(1))
  const lock = yield* Semaphore.make(1)
  // Successful checks are remembered until the file changes (see AuthCache).
  const cache = AuthCache.make(options.authCache)

  const load = Effect.fn("UsersFile.load")(function*() {
    const stamp = yield* Effect.tryPromise({
      try: () => stampOf(path),
      catch: ioError(`cannot stat users file ${path}`)
    })
    const file = stamp === "missing" ? undefined : yield* read(path)
    if (file === undefined) {
      yield* Effect.logWarning(`users file ${path} does not exist: no users can log in`)
    } else {
      for (const problem of file.problems) {
        yield* Effect.logWarning(`users file ${path} line ${problem.line} skipped: ${problem.reason}`)
      }
      for (const user of users(file)) {
        const quota = quotaField(user.rest)
        if (quota._tag === "Failure") {
          yield* Effect.logWarning(
            `users file ${path}: user ${JSON.stringify(user.name)} has an unusable quota_rule (${quota.failure}); ` +
              "the default quota applies"
          )
        }
      }
    }
    const snap = toSnapshot(file)
    if (file !== undefined) yield* Directory.logUnusable(snap, `users file ${path}`)
    return { stamp: file === undefined ? "missing" : stamp, snap }
  })

  let state = yield* load()
  let checkedAt = yield* Clock.currentTimeMillis
  let lastError = ""
  // While one login re-reads the file, logins arriving meanwhile wait for it instead of using the old list.
  let refreshing = false

  const refresh = (now: number) =>
    Effect.gen(function*() {
      if (now - checkedAt < interval) return
      checkedAt = now
      refreshing = true
      // A failed stat gives a stamp that never matches, so `load` runs and reports it.
      const stamp = yield* Effect.promise(() => stampOf(path).catch(() => "unknown"))
      if (stamp === state.stamp) return
      const next = yield* Effect.result(load())
      if (next._tag === "Success") {
        state = next.success
        yield* cache.clear
        lastError = ""
        yield* Effect.logInfo(`users file ${path} loaded: ${next.success.snap.users.size} users`)
      } else if (next.failure.message !== lastError) {
        lastError = next.failure.message
        yield* Effect.logWarning(`${next.failure.message}; keeping the previous users`, next.failure.cause)
      }
    }).pipe(Effect.ensuring(Effect.sync(() => void (refreshing = false))))

  const current = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (refreshing || now - checkedAt >= interval) yield* lock.withPermits(1)(refresh(now))
    return state.snap
  })

  return Directory.make(current, options, cache)
})

/** The `Directory` layer over a users file (see `make`). */
export const layer = (options: LayerOptions): Layer.Layer<Directory.Directory, UsersFileError> =>
  Layer.effect(Directory.Directory, make(options))
