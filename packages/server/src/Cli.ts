// The `pop3d` command line: serve, user add|passwd|del|list, deliver, mailbox stats. It reads the settings once through
// Settings.load and composes the store and directory Layers; it holds no protocol logic of its own.
import { Clock, Console, Effect, Layer, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Fs from "node:fs"
import * as Readline from "node:readline"
import { HashThreads, UsersFile } from "@pop3d/auth"
import { Mailbox, Maildir } from "@pop3d/mailbox"
import * as DataDir from "./DataDir.ts"
import * as LiveSettings from "./LiveSettings.ts"
import * as MailboxStats from "./MailboxStats.ts"
import * as Mechanisms from "./Mechanisms.ts"
import * as Metrics from "./Metrics.ts"
import * as Operations from "./Operations.ts"
import * as QuotaPolicy from "./QuotaPolicy.ts"
import * as Reload from "./Reload.ts"
import * as Retention from "./Retention.ts"
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

/** The quota settings, which `deliver` and `mailbox stats` also take as flags. */
const quotaFlags = Object.fromEntries(
  Settings.specs.filter((s) => s.flag.startsWith("quota")).map((s) => [s.flag, settingFlag(s)])
) as Record<string, Flag.Flag<Option.Option<string>>>

const loadSettings = (flags: Record<string, Option.Option<string>>) =>
  Settings.load({
    flags: Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, Option.getOrUndefined(v)])),
    env: process.env,
    isRoot: process.getuid?.() === 0
  }).pipe(Effect.mapError((e) => new CliFailure(e.message, ExitCode.config)))

const serve = Command.make("serve", serveFlags, (flags) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(flags)
    if (settings.logLevel !== "error") for (const w of Settings.warnings(settings)) yield* Effect.logWarning(w)
    // The embedded default (certificate, first user) is made before the directory and store start serving.
    const prepared = yield* DataDir.prepare(settings).pipe(Effect.provide(Maildir.layer({ root: settings.maildirRoot })))
    const mechanisms = yield* Mechanisms.fromSettings(settings)
    const live = yield* LiveSettings.make({ settings, mechanisms, tls: undefined })
    const quotaTemplate = yield* QuotaPolicy.readTemplate(settings).pipe(
      Effect.mapError((e) => new CliFailure(e.message, ExitCode.config))
    )
    const program = Effect.gen(function*() {
      const ops = yield* Operations.start(live, loadSettings(flags))
      // Before the first login, so that the threads are part of the server's memory at rest, not of its sessions'.
      HashThreads.start()
      const listeners = yield* Server.listen(settings, mechanisms)
      for (const l of listeners) yield* Effect.logInfo("listening").pipe(Effect.annotateLogs({ listener: l.name, address: l.address }))
      for (const line of DataDir.banner(settings, prepared)) yield* Console.log(line)
      if (listeners.length === 0) yield* Effect.logWarning("no listener is on: both ports are 0")
      yield* Retention.start(settings)
      return yield* Operations.serveAll(ops, listeners)
    })
    return yield* program.pipe(
      Effect.scoped,
      Effect.provide(Layer.mergeAll(
        // The store's quota policy reads each user's own limits from the directory.
        Metrics.instrumentStore(QuotaPolicy.maildirLayer(settings, quotaTemplate)).pipe(
          // Directory (users file), limits, throttle, metrics and protocol log, following the live settings (SIGHUP).
          Layer.provideMerge(Operations.layer(live))
        )
      )),
      Reload.withLiveLogLevel(live)
    )
  })).pipe(Command.withDescription("Run the POP3 server (plain + STLS and implicit TLS listeners)"))

/** All of standard input, read as a stream (a non-blocking pipe makes a synchronous read fail with EAGAIN). */
const readStdin = (): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    process.stdin.on("data", (c: Buffer) => chunks.push(c))
    process.stdin.on("end", () => resolve(Buffer.concat(chunks)))
    process.stdin.on("error", reject)
  })

const readPassword = (fromStdin: boolean): Effect.Effect<string, CliFailure> =>
  fromStdin
    ? Effect.tryPromise({
      try: () => readStdin().then((b) => b.toString("utf8").replace(/\r?\n$/, "")),
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
    yield* Effect.sync(() => Fs.mkdirSync(settings.maildirRoot, { recursive: true, mode: 0o700 }))
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

/** Why a delivery failed, as sysexits: over quota is 73 (bounce) or, with quota-full-tempfail, 75 (retry). */
const deliverFailure = (settings: Settings.Settings) => (e: Mailbox.MailboxError) =>
  new CliFailure(
    e.message,
    e.reason === "NoSuchMailbox"
      ? ExitCode.noUser
      : e.reason === "OverQuota"
      ? (settings.quotaFullTempfail && e.tooLarge !== true ? ExitCode.tempFail : ExitCode.cantCreate)
      : ExitCode.tempFail
  )

const deliver = Command.make("deliver", {
  ...storageFlags,
  ...quotaFlags,
  user: Argument.String("user").pipe(Argument.withDescription("The mailbox to deliver to")),
  file: Argument.String("file").pipe(Argument.withDescription("The message file (default: standard input)"), Argument.optional)
}, (a) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(a as never)
    const bytes = yield* Effect.tryPromise({
      try: () => (Option.isSome(a.file) ? Fs.promises.readFile(a.file.value) : readStdin()),
      catch: (e) => new CliFailure(`cannot read the message: ${(e as Error).message}`, ExitCode.ioErr)
    })
    const quota = yield* QuotaPolicy.fromUsersFile(settings).pipe(
      Effect.mapError((e) => new CliFailure(e.message, ExitCode.config))
    )
    const store = yield* Mailbox.Mailbox.pipe(Effect.provide(Maildir.layer({ root: settings.maildirRoot, quota })))
    const { uid } = yield* store.deliver(a.user, bytes).pipe(Effect.mapError(deliverFailure(settings)))
    yield* Console.log(String(uid))
  })).pipe(Command.withDescription("Deliver one message (atomic tmp → new) and print its UID"))

const mailboxStats = Command.make("stats", { ...storageFlags, ...quotaFlags, name: userName }, (a) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(a as never)
    const quota = QuotaPolicy.make(settings, "", QuotaPolicy.ownFromUsersFile(settings))
    const store = yield* Mailbox.Mailbox.pipe(Effect.provide(Maildir.layer({ root: settings.maildirRoot, quota })))
    const stats = yield* store.stats(a.name).pipe(
      Effect.mapError((e) => new CliFailure(e.message, e.reason === "NoSuchMailbox" ? ExitCode.noUser : ExitCode.tempFail))
    )
    for (const line of MailboxStats.lines(a.name, stats, yield* Clock.currentTimeMillis)) yield* Console.log(line)
  })).pipe(Command.withDescription("Show a mailbox: messages, octets, quota use and limits, oldest message, next UID"))

const mailboxCommand = Command.make("mailbox").pipe(
  Command.withDescription("Look at mailboxes"),
  Command.withSubcommands([mailboxStats])
)

/** The root command. */
export const pop3d = Command.make("pop3d").pipe(
  Command.withDescription("pop3d: a POP3 server with Exchange's POP3 behaviour"),
  Command.withSubcommands([serve, user, deliver, mailboxCommand])
)
