// The protocol log as an operator reads it: a real `pop3d serve --protocol-log FILE`, sessions that log in with
// USER/PASS, AUTH PLAIN with and without an initial response (and a failed one), an NTLM exchange the client
// cancels, a RETR of a message; then the file is read: every command and first reply line is there with session
// id, timestamp and direction, and no password, base64 blob, server challenge or message body is. Rotation by
// size keeps N old files; SIGHUP reopens the file after it was moved away (logrotate).
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeMessage, Pop3Client, shutdown, startServer, type Server } from "../helpers/server.ts"

const user = "alice"
const password = "Pr0t0col-Secret"
const bodyMarker = "BODY-MARKER-7f3a9c"
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")
/** A standard NTLM NEGOTIATE message. */
const ntlmNegotiate = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="

/** Waits until `file` holds `count` close records (the writer flushes asynchronously). */
const waitForCloses = async (file: string, count: number) => {
  const deadline = Date.now() + 10_000
  for (;;) {
    const text = Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : ""
    if ((text.match(/ \* close reason=/g) ?? []).length >= count) return text
    if (Date.now() > deadline) throw new Error(`protocol log ${file} has not got ${count} sessions:\n${text}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe("protocol log: what it holds", { timeout: 60_000 }, () => {
  let server: Server
  let logFile: string

  beforeAll(async () => {
    const dir = Fs.mkdtempSync(Path.join(Fs.realpathSync("/tmp"), "pop3d-plog-e2e-"))
    logFile = Path.join(dir, "logs", "protocol.log")
    server = await startServer({
      args: ["--plaintext", "allowed", "--protocol-log", logFile, "--sasl-mechanisms", "PLAIN,NTLM"]
    })
    await server.addUser(user, password)
    await server.deliver(user, makeMessage("hello", `line one\n${bodyMarker}\nline three`))
  }, 90_000)

  afterAll(async () => {
    await shutdown(server)
    Fs.rmSync(Path.dirname(Path.dirname(logFile)), { recursive: true, force: true })
  }, 30_000)

  it("every command and first reply line, with secrets redacted", async () => {
    const plainIr = b64(`\0${user}\0${password}`)
    const plainNoIr = b64(`${user}\0${user}\0${password}`)
    const plainWrong = b64(`\0${user}\0wrong-${password}`)

    const a = await Pop3Client.connect(server.port)
    expect(await a.login(user, password)).toMatch(/^\+OK/)
    const retr = await a.multi("RETR 1")
    expect(retr.lines).toContain(bodyMarker)
    expect((await a.multi("TOP 1 5")).lines).toContain(bodyMarker)
    expect(await a.quit()).toMatch(/^\+OK/)

    const b = await Pop3Client.connect(server.tlsPort, { tls: true })
    expect(await b.command(`AUTH PLAIN ${plainIr}`)).toMatch(/^\+OK/)
    expect(await b.quit()).toMatch(/^\+OK/)

    const c = await Pop3Client.connect(server.tlsPort, { tls: true })
    expect(await c.command("AUTH PLAIN")).toBe("+ ")
    expect(await c.command(plainWrong)).toMatch(/^-ERR/)
    expect(await c.command("AUTH PLAIN")).toBe("+ ")
    expect(await c.command(plainNoIr)).toMatch(/^\+OK/)
    expect(await c.quit()).toMatch(/^\+OK/)

    const d = await Pop3Client.connect(server.port)
    const challenge = await d.command(`AUTH NTLM ${ntlmNegotiate}`)
    expect(challenge).toMatch(/^\+ [A-Za-z0-9+/=]{40,}$/)
    expect(await d.command("*")).toMatch(/^-ERR/)
    expect(await d.command("PASS stray-password-line")).toMatch(/^-ERR/)
    expect(await d.quit()).toMatch(/^\+OK/)

    const text = await waitForCloses(logFile, 4)
    const lines = text.split("\n").filter((l) => l !== "")
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ (C:|S:|\*) /)

    // No secret, in clear or encoded, and no message body.
    for (const secret of [password, plainIr, plainNoIr, plainWrong, ntlmNegotiate, challenge.slice(2), bodyMarker, "stray-password-line"]) {
      expect(text, `protocol log contains ${secret}`).not.toContain(secret)
    }
    expect(text).not.toMatch(/line one|line three|Subject: hello/)

    // What is there: one session per connection, each command and the first line of each reply.
    const sessions = new Map<string, Array<string>>()
    for (const l of lines) {
      const [, id, rest] = /^\S+ (\S+) (.*)$/.exec(l)!
      sessions.set(id!, [...(sessions.get(id!) ?? []), rest!])
    }
    expect(sessions.size).toBe(4)
    const [sa, sb, sc, sd] = [...sessions.values()]
    expect(sa).toEqual([
      expect.stringMatching(/^\* connect peer=127\.0\.0\.1:\d+ listener=pop3$/),
      "S: +OK POP3 server ready",
      `C: USER ${user}`,
      "S: +OK Send PASS",
      "C: PASS ***",
      expect.stringMatching(/^S: \+OK Logged in, maildrop has 1 messages/),
      "C: RETR 1",
      expect.stringMatching(/^S: \+OK \d+ octets$/),
      "C: TOP 1 5",
      "S: +OK Top of message follows",
      "C: QUIT",
      "S: +OK Signing off",
      expect.stringMatching(/^\* close reason=quit bytesOut=\d+ ms=\d+$/)
    ])
    expect(sb.slice(1, 5)).toEqual(["S: +OK POP3 server ready", "C: AUTH PLAIN ***", expect.stringMatching(/^S: \+OK Logged in/), "C: QUIT"])
    expect(sb[0]).toMatch(/listener=pop3s$/)
    expect(sc.slice(2, 10)).toEqual([
      "C: AUTH PLAIN",
      "S: + ",
      "C: ***",
      "S: -ERR [AUTH] Authentication failed",
      "C: AUTH PLAIN",
      "S: + ",
      "C: ***",
      expect.stringMatching(/^S: \+OK Logged in/)
    ])
    expect(sd.slice(2, 8)).toEqual([
      "C: AUTH NTLM ***",
      "S: + ***",
      "C: *",
      "S: -ERR Authentication cancelled",
      "C: PASS ***",
      expect.stringMatching(/^S: -ERR/)
    ])
  })

  it("SIGHUP reopens the file, so logrotate can move it away", async () => {
    const moved = `${logFile}.moved`
    Fs.renameSync(logFile, moved)
    server.process.kill("SIGHUP")
    const deadline = Date.now() + 10_000
    while (!/message="reload done"/.test(server.stdout())) {
      if (Date.now() > deadline) throw new Error(`no reload:\n${server.stdout()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const c = await Pop3Client.connect(server.port)
    await c.quit()
    const text = await waitForCloses(logFile, 1)
    expect(text).toMatch(/ C: QUIT\n/)
    const id = text.split(" ")[1]!
    expect(Fs.readFileSync(moved, "utf8")).not.toContain(` ${id} `)
  })
})

describe("protocol log: rotation by size", { timeout: 60_000 }, () => {
  let server: Server
  let logFile: string

  beforeAll(async () => {
    const dir = Fs.mkdtempSync(Path.join(Fs.realpathSync("/tmp"), "pop3d-plog-rot-"))
    logFile = Path.join(dir, "protocol.log")
    server = await startServer({
      args: ["--protocol-log", logFile, "--protocol-log-max-size", "2K", "--protocol-log-keep", "2"]
    })
  }, 90_000)

  afterAll(async () => {
    await shutdown(server)
    Fs.rmSync(Path.dirname(logFile), { recursive: true, force: true })
  }, 30_000)

  it("rotates at protocol-log-max-size and keeps protocol-log-keep old files", async () => {
    const sessions = 30
    for (let i = 0; i < sessions; i++) {
      const c = await Pop3Client.connect(server.port)
      expect((await c.multi("CAPA")).status).toMatch(/^\+OK/)
      await c.quit()
    }
    // Wait until the last session's close record is written. The server may rotate between two looks at a file:
    // one that is gone meanwhile reads as empty, and the loop looks again.
    const readIfThere = (f: string): string => {
      try {
        return Fs.readFileSync(f, "utf8")
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return ""
        throw e
      }
    }
    const deadline = Date.now() + 10_000
    for (;;) {
      const all = [logFile, `${logFile}.1`, `${logFile}.2`].map(readIfThere).join("")
      if (/close reason=quit[^\n]*\n$/.test(readIfThere(logFile)) && all.includes("close")) {
        const files = Fs.readdirSync(Path.dirname(logFile)).sort()
        if (files.length === 3) break
      }
      if (Date.now() > deadline) throw new Error(`no rotation: ${Fs.readdirSync(Path.dirname(logFile)).join(", ")}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    await new Promise((r) => setTimeout(r, 200))
    expect(Fs.readdirSync(Path.dirname(logFile)).sort()).toEqual(["protocol.log", "protocol.log.1", "protocol.log.2"])
    for (const f of ["protocol.log", "protocol.log.1", "protocol.log.2"]) {
      const size = Fs.statSync(Path.join(Path.dirname(logFile), f)).size
      expect(size, f).toBeLessThanOrEqual(2048)
      expect(size, f).toBeGreaterThan(0)
    }
    // Whole lines only: every file starts with a record and ends with a line feed; .1 is older than the current.
    const first = (f: string) => Fs.readFileSync(f, "utf8").split("\n")[0]!.split(" ")[0]!
    for (const f of [logFile, `${logFile}.1`, `${logFile}.2`]) {
      expect(Fs.readFileSync(f, "utf8")).toMatch(/^\d{4}-[^\n]*\n([^\n]+\n)*$/)
    }
    expect(first(`${logFile}.2`) <= first(`${logFile}.1`) && first(`${logFile}.1`) <= first(logFile)).toBe(true)
  })
})
