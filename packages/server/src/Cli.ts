// The `pop3d` command line: serve, user add|passwd|del|list, deliver. It reads the settings once through
// Settings.load and composes the store and directory Layers; it holds no protocol logic of its own.
import { Console, Duration, Effect, Layer, Option, References } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Fs from "node:fs"
import * as Readline from "node:readline"
import { UsersFile } from "@pop3d/auth"
import { Mailbox, Maildir } from "@pop3d/mailbox"
import * as DataDir from "./DataDir.ts"
import * as Limits from "./Limits.ts"
import * as Throttle from "./Throttle.ts"
import * as Mechanisms from "./Mechanisms.ts"
import * as Server from "./Server.ts"
import * as Settings from "./Settings.ts"

/** sysexits(3) codes used by `deliver` and the user commands. */
export const ExitCode = { usage: 64, dataErr: 65, noUser: 67, software: 70, cantCreate: 73, ioErr: 74, tempFail: 75, config: 78 } as const

/** A failure that ends the command with a message and an exit status. */
export class CliFailure {
  readonly _tag = "CliFailure"
  readonly message: string
  readonly code: number
  constructor(message: string, code: number) {
    this.message = message
    this.code = code
  }
}

const settingFlag = (s: Settings.SettingSpec) =>
  Flag.String(s.flag).pipe(
    Flag.optional,
    Flag.withDescription(`${s.doc} [env ${s.env}${s.default === "" ? "" : `, default ${s.default}`}]`)
  )

/** Every setting as a `serve` flag. */
const serveFlags = Object.fromEntries(Settings.specs.map((s) => [s.flag, settingFlag(s)])) as Record<
  string,
  Flag.Flag<Option.Option<string>>
>

/** The settings the maintenance commands need (where the data is). */
const storageFlags = Object.fromEntries(
  Settings.specs.filter((s) => ["config", "data", "users-file", "maildir-root"].includes(s.flag)).map((s) => [
    s.flag,
    settingFlag(s)
  ])
) as Record<string, Flag.Flag<Option.Option<string>>>

const loadSettings = (flags: Record<string, Option.Option<string>>) =>
  Settings.load({
    flags: Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, Option.getOrUndefined(v)])),
    env: process.env,
    isRoot: process.getuid?.() === 0
  }).pipe(Effect.mapError((e) => new CliFailure(e.message, ExitCode.config)))

const logLevel = { debug: "Debug", info: "Info", warning: "Warn", error: "Error" } as const

const serve = Command.make("serve", serveFlags, (flags) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(flags)
    for (const w of Settings.warnings(settings)) yield* Effect.logWarning(w)
    const mechanisms = yield* Mechanisms.fromSettings(settings)
    const program = Effect.gen(function*() {
      const prepared = yield* DataDir.prepare(settings)
      const listeners = yield* Server.listen(settings, mechanisms)
      for (const l of listeners) yield* Effect.logInfo("listening").pipe(Effect.annotateLogs({ listener: l.name, address: l.address }))
      for (const line of DataDir.banner(settings, prepared)) yield* Console.log(line)
      if (listeners.length === 0) yield* Effect.logWarning("no listener is on: both ports are 0")
      return yield* Server.serveAll(listeners)
    })
    return yield* program.pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        Maildir.layer({ root: settings.maildirRoot }),
        UsersFile.layer({
          path: settings.usersFile,
          authCache: { maxEntries: settings.authCacheSize, ttl: Duration.seconds(settings.authCacheTtl) }
        }),
        Limits.layer({
          maxConnections: settings.maxConnections,
          maxConnectionsPerAddress: settings.maxConnectionsPerAddress,
          maxSessionsPerUser: settings.maxSessionsPerUser
        }),
        Throttle.layer({
          initialDelay: Duration.seconds(settings.loginDelay),
          maxDelay: Duration.seconds(settings.loginDelayMax),
          decayAfter: Duration.seconds(settings.loginDelayDecay)
        })
      )),
      Effect.provideService(References.MinimumLogLevel, logLevel[settings.logLevel])
    )
  })).pipe(Command.withDescription("Run the POP3 server (plain + STLS and implicit TLS listeners)"))

const readPassword = (fromStdin: boolean): Effect.Effect<string, CliFailure> =>
  fromStdin
    ? Effect.try({
      try: () => Fs.readFileSync(0, "utf8").replace(/\r?\n$/, ""),
      catch: () => new CliFailure("cannot read the password from standard input", ExitCode.ioErr)
    })
    : Effect.callback<string, CliFailure>((resume) => {
      if (!process.stdin.isTTY) {
        resume(Effect.fail(new CliFailure("no terminal to ask for a password: use --password-stdin", ExitCode.usage)))
        return
      }
      const ask = (prompt: string, then: (s: string) => void) => {
        const rl = Readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true })
        const out = rl as unknown as { _writeToOutput: (s: string) => void }
        process.stderr.write(prompt)
        out._writeToOutput = () => {}
        rl.question("", (answer) => {
          rl.close()
          process.stderr.write("\n")
          then(answer)
        })
      }
      ask("New password: ", (a) =>
        ask("Repeat password: ", (b) =>
          a !== b
            ? resume(Effect.fail(new CliFailure("the passwords differ", ExitCode.usage)))
            : resume(Effect.succeed(a))))
    })

const userFailure = (e: { readonly reason: string; readonly message: string }) =>
  new CliFailure(e.message, e.reason === "NoSuchUser" ? ExitCode.noUser : e.reason === "Io" ? ExitCode.ioErr : ExitCode.dataErr)

const passwordStdin = Flag.Boolean("password-stdin").pipe(
  Flag.withDescription("Read the password from standard input instead of prompting")
)
const userName = Argument.String("name").pipe(Argument.withDescription("The user (and mailbox) name"))

/** The settings `user add` and `user passwd` also read: whether NTLM is on decides whether an NT hash is stored. */
const passwordFlags = {
  ...storageFlags,
  ...Object.fromEntries(Settings.specs.filter((s) => s.flag === "sasl-mechanisms").map((s) => [s.flag, settingFlag(s)]))
} as Record<string, Flag.Flag<Option.Option<string>>>

/** How `user add`/`passwd` store a password: with the NT hash beside it only when NTLM is offered. */
const hashOptions = (settings: Settings.Settings): UsersFile.HashOptions => ({
  ntHash: settings.saslMechanisms.includes("NTLM")
})

const ntHashNote = (settings: Settings.Settings) =>
  settings.saslMechanisms.includes("NTLM")
    ? Console.log(
      `note: NTLM is enabled, so the NT hash was stored too; it is password-equivalent: keep ${settings.usersFile} mode 0600`
    )
    : Effect.void

const userAdd = Command.make("add", { ...passwordFlags, name: userName, passwordStdin }, (a) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(a as never)
    const password = yield* readPassword(a.passwordStdin)
    yield* UsersFile.add(settings.usersFile, a.name, password, hashOptions(settings)).pipe(Effect.mapError(userFailure))
    const store = yield* Mailbox.Mailbox.pipe(Effect.provide(Maildir.layer({ root: settings.maildirRoot })))
    yield* store.create(a.name).pipe(Effect.mapError((e) => new CliFailure(e.message, ExitCode.cantCreate)))
    yield* Console.log(`added ${a.name}`)
    yield* ntHashNote(settings)
  })).pipe(Command.withDescription("Add a user and create its Maildir"))

const userPasswd = Command.make("passwd", { ...passwordFlags, name: userName, passwordStdin }, (a) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(a as never)
    const password = yield* readPassword(a.passwordStdin)
    yield* UsersFile.setPassword(settings.usersFile, a.name, password, hashOptions(settings)).pipe(
      Effect.mapError(userFailure)
    )
    yield* Console.log(`password changed for ${a.name}`)
    yield* ntHashNote(settings)
  })).pipe(Command.withDescription("Set a user's password"))

const userDel = Command.make("del", { ...storageFlags, name: userName }, (a) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(a as never)
    yield* UsersFile.remove(settings.usersFile, a.name).pipe(Effect.mapError(userFailure))
    yield* Console.log(`removed ${a.name} (its Maildir is kept: ${settings.maildirRoot}/${a.name})`)
  })).pipe(Command.withDescription("Remove a user from the users file (the Maildir stays)"))

const userList = Command.make("list", storageFlags, (a) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(a)
    const users = yield* UsersFile.list(settings.usersFile).pipe(Effect.mapError(userFailure))
    for (const u of users) yield* Console.log(`${u.name}\t${u.scheme === "" ? "(disabled)" : `{${u.scheme}}`}`)
  })).pipe(Command.withDescription("List users and their password schemes (never the secrets)"))

const user = Command.make("user").pipe(
  Command.withDescription("Manage the users file"),
  Command.withSubcommands([userAdd, userPasswd, userDel, userList])
)

const deliver = Command.make("deliver", {
  ...storageFlags,
  user: Argument.String("user").pipe(Argument.withDescription("The mailbox to deliver to")),
  file: Argument.String("file").pipe(Argument.withDescription("The message file (default: standard input)"), Argument.optional)
}, (a) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(a as never)
    const bytes = yield* Effect.try({
      try: () => Fs.readFileSync(Option.isSome(a.file) ? a.file.value : 0),
      catch: (e) => new CliFailure(`cannot read the message: ${(e as Error).message}`, ExitCode.ioErr)
    })
    const store = yield* Mailbox.Mailbox.pipe(Effect.provide(Maildir.layer({ root: settings.maildirRoot })))
    const { uid } = yield* store.deliver(a.user, bytes).pipe(
      Effect.mapError((e) =>
        new CliFailure(e.message, e.reason === "NoSuchMailbox" ? ExitCode.noUser : ExitCode.tempFail)
      )
    )
    yield* Console.log(String(uid))
  })).pipe(Command.withDescription("Deliver one message (atomic tmp → new) and print its UID"))

/** The root command. */
export const pop3d = Command.make("pop3d").pipe(
  Command.withDescription("pop3d: a POP3 server with Exchange's POP3 behaviour"),
  Command.withSubcommands([serve, user, deliver])
)
