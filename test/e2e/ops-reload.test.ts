// SIGHUP as an operator uses it: swap the certificate (and key) in place, edit the config file, `kill -HUP`; new
// TLS sessions (implicit TLS and STLS) see the new certificate, sessions already open keep theirs and go on
// working; live settings apply to new connections, a restart-only one is logged as needing a restart; a broken
// certificate or config file is refused with a log line and changes nothing.
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type * as Tls from "node:tls"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as SelfSigned from "../../packages/server/src/SelfSigned.ts"
import { makeMessage, Pop3Client, shutdown, startServer, type Server } from "../helpers/server.ts"

const user = "alice"
const password = "reload pw"
let server: Server
/** The certificate and key in force after the first test. */
let running: { cert: string; key: string }

const fingerprintOf = (pem: string) => new Crypto.X509Certificate(pem).fingerprint256
const peerFingerprint = (c: Pop3Client) =>
  (c as unknown as { socket: Tls.TLSSocket }).socket.getPeerCertificate().fingerprint256

/** Sends SIGHUP and waits for the n-th "reload done" (or "reload failed") line; returns the log since the signal. */
const hup = async (n: number) => {
  const before = server.stdout().length
  server.process.kill("SIGHUP")
  const deadline = Date.now() + 10_000
  for (;;) {
    const done = (server.stdout().match(/message="reload (done|failed, nothing changed)"/g) ?? []).length
    if (done >= n) return server.stdout().slice(before)
    if (Date.now() > deadline) throw new Error(`no reload line:\n${server.stdout().slice(before)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const writePair = (pair: { cert: string; key: string }) => {
  Fs.writeFileSync(Path.join(server.dataDir, "tls", "key.pem"), pair.key)
  Fs.writeFileSync(Path.join(server.dataDir, "tls", "cert.pem"), pair.cert)
}

beforeAll(async () => {
  server = await startServer({ args: ["--plaintext", "allowed"] })
  await server.addUser(user, password)
  await server.deliver(user, makeMessage("one", "first"))
}, 90_000)

afterAll(async () => {
  await shutdown(server)
}, 30_000)

describe("SIGHUP reload", { timeout: 60_000 }, () => {
  it("a new certificate: new implicit-TLS and STLS sessions see it, open ones are untouched and keep working", async () => {
    const oldFingerprint = fingerprintOf(server.certPem)
    const openTls = await Pop3Client.connect(server.tlsPort, { tls: true })
    expect(await openTls.login(user, password)).toMatch(/^\+OK/)
    const openStls = await Pop3Client.connect(server.port)
    expect(await openStls.stls()).toMatch(/^\+OK/)
    expect(peerFingerprint(openTls)).toBe(oldFingerprint)
    expect(peerFingerprint(openStls)).toBe(oldFingerprint)

    const next = SelfSigned.make()
    running = next
    writePair(next)
    const log = await hup(1)
    expect(log).toMatch(new RegExp(`message="TLS certificate reloaded" .*fingerprint=${fingerprintOf(next.cert)}`))
    expect(log).toMatch(/message="reload done" .*tls=reloaded/)

    const newTls = await Pop3Client.connect(server.tlsPort, { tls: true })
    expect(peerFingerprint(newTls)).toBe(fingerprintOf(next.cert))
    expect(await newTls.login(user, password)).toMatch(/^\+OK/)
    await newTls.quit()
    const newStls = await Pop3Client.connect(server.port)
    expect(await newStls.stls()).toMatch(/^\+OK/)
    expect(peerFingerprint(newStls)).toBe(fingerprintOf(next.cert))
    expect(await newStls.login(user, password)).toMatch(/^\+OK/)
    await newStls.quit()

    // The sessions opened before the reload: same TLS session, same certificate, still serving.
    expect(peerFingerprint(openTls)).toBe(oldFingerprint)
    expect(await openTls.command("STAT")).toMatch(/^\+OK 1 /)
    expect((await openTls.multi("RETR 1")).lines).toContain("first")
    expect(await openTls.quit()).toMatch(/^\+OK/)
    expect(await openStls.login(user, password)).toMatch(/^\+OK/)
    expect(await openStls.quit()).toMatch(/^\+OK/)
  })

  it("a key that does not match the certificate is refused: the running certificate stays", async () => {
    const a = SelfSigned.make()
    const b = SelfSigned.make()
    writePair({ cert: a.cert, key: b.key })
    const log = await hup(2)
    expect(log).toMatch(/level=ERROR .*message="TLS certificate not reloaded, keeping the running one"/)
    expect(log).toMatch(/message="reload done" .*tls=kept/)
    const c = await Pop3Client.connect(server.tlsPort, { tls: true })
    expect(peerFingerprint(c)).toBe(fingerprintOf(running.cert))
    await c.quit()
    writePair(running)
  })

  it("live settings apply to new connections; a restart-only setting is logged as such; open sessions keep theirs", async () => {
    const before = await Pop3Client.connect(server.port)
    Fs.writeFileSync(
      Path.join(server.dataDir, "pop3d.conf"),
      "# edited by the test\nmax-command-size = 300\nmaildir-root = /nonexistent/elsewhere\n"
    )
    const log = await hup(3)
    expect(log).toMatch(/level=INFO .*message="setting changed" setting=max-command-size from=512 to=300/)
    expect(log).toMatch(/level=WARN .*message="setting changed, needs restart" setting=maildir-root .*to=\/nonexistent\/elsewhere/)
    expect(log).toMatch(/message="users file reloaded"/)
    expect(log).toMatch(/message="reload done" changed=1 needsRestart=maildir-root tls=unchanged/)

    const long = `NOOP ${"x".repeat(350)}`
    const after = await Pop3Client.connect(server.port)
    expect(await after.command(long)).toMatch(/^-ERR Command line too long: at most 300 octets/)
    // The maildir root is still the running one: logins work.
    expect(await after.login(user, password)).toMatch(/^\+OK Logged in, maildrop has 1 messages/)
    await after.quit()
    // The connection opened before the reload still has 512.
    const old = await before.command(long)
    expect(old).toMatch(/^-ERR/)
    expect(old).not.toMatch(/too long/)
    await before.quit()
  })

  it("an invalid config file: the reload fails, nothing changes, the server goes on", async () => {
    Fs.writeFileSync(Path.join(server.dataDir, "pop3d.conf"), "max-command-size = 30\n")
    const log = await hup(4)
    expect(log).toMatch(/level=ERROR .*message="reload failed, nothing changed" .*max-command-size/)
    const c = await Pop3Client.connect(server.port)
    expect(await c.command(`NOOP ${"x".repeat(350)}`)).toMatch(/at most 300 octets/)
    await c.quit()
    Fs.rmSync(Path.join(server.dataDir, "pop3d.conf"))
    expect(server.process.exitCode).toBe(null)
  })
})
