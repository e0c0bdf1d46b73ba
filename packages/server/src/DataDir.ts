// The embedded default: on first start, makes the data folder with a self-signed certificate, a users file with
// one user (whose password is printed once) and that user's Maildir with a welcome message. It never overwrites
// anything that exists and never prints a password it did not just make.
import { Effect } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { UsersFile } from "@pop3d/auth"
import { Mailbox } from "@pop3d/mailbox"
import * as SelfSigned from "./SelfSigned.ts"
import type { Settings } from "./Settings.ts"

/** The user made on first start. */
export const firstUser = "demo"

const welcome = (user: string) =>
  [
    "From: pop3d <postmaster@localhost>",
    `To: ${user}@localhost`,
    "Subject: Welcome to pop3d",
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${Crypto.randomUUID()}@localhost>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "This message was delivered by pop3d on its first start.",
    "Deliver more with:  pop3d deliver demo < message.eml",
    ".A line starting with a dot is dot-stuffed on the wire.",
    ""
  ].join("\n")

/** What `prepare` did, for the start-up banner. */
export interface Prepared {
  readonly createdCertificate: boolean
  readonly createdUser: { readonly name: string; readonly password: string } | undefined
}

/** Makes whatever of the embedded default is missing (folders, certificate, first user) and reports it. */
export const prepare = (settings: Settings) =>
  Effect.gen(function*() {
    yield* Effect.sync(() => {
      Fs.mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 })
      Fs.mkdirSync(settings.maildirRoot, { recursive: true, mode: 0o700 })
    })
    let createdCertificate = false
    if (settings.tlsCertIsDefault && !Fs.existsSync(settings.tlsCert) && !Fs.existsSync(settings.tlsKey)) {
      yield* Effect.sync(() => {
        const pair = SelfSigned.make()
        Fs.mkdirSync(Path.dirname(settings.tlsCert), { recursive: true, mode: 0o700 })
        Fs.writeFileSync(settings.tlsKey, pair.key, { mode: 0o600, flag: "wx" })
        Fs.writeFileSync(settings.tlsCert, pair.cert, { mode: 0o644, flag: "wx" })
      })
      createdCertificate = true
    }
    let createdUser: Prepared["createdUser"] = undefined
    const defaultUsersFile = settings.usersFile === Path.join(settings.dataDir, "users")
    if (defaultUsersFile && !Fs.existsSync(settings.usersFile)) {
      const password = Crypto.randomBytes(12).toString("base64url")
      yield* UsersFile.add(settings.usersFile, firstUser, password, { ntHash: settings.saslMechanisms.includes("NTLM") })
      const store = yield* Mailbox.Mailbox
      yield* store.deliver(firstUser, Buffer.from(welcome(firstUser), "utf8"))
      createdUser = { name: firstUser, password }
    }
    return { createdCertificate, createdUser } satisfies Prepared
  })

/** The lines printed once after first start: the password and a curl command to try it. */
export const banner = (settings: Settings, prepared: Prepared): ReadonlyArray<string> => {
  const u = prepared.createdUser
  if (u === undefined) return []
  const host = settings.listen.includes(":") ? `[${settings.listen}]` : settings.listen
  const lines = [
    `pop3d: first start: created user "${u.name}" with password "${u.password}" (shown only this once)`,
    `pop3d: users file ${settings.usersFile}, Maildirs under ${settings.maildirRoot}`
  ]
  if (settings.tlsPort > 0) {
    lines.push(`pop3d: try it:  curl -k --user '${u.name}:${u.password}' pop3s://${host}:${settings.tlsPort}/1`)
  } else if (settings.port > 0) {
    lines.push(
      `pop3d: try it:  curl -k --ssl-reqd --user '${u.name}:${u.password}' pop3://${host}:${settings.port}/1`
    )
  }
  return lines
}
