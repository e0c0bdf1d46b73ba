// curl (the system /usr/bin/curl) against the real server: LIST, RETR, DELE, AUTH PLAIN with and without an initial
// response, over implicit TLS (pop3s) and over STLS (pop3 + --ssl-reqd). PROFILE: E0001 (both listeners), E0002
// (AUTH PLAIN), C0006/V0007 (LIST, RETR, DELE, QUIT), C0011 (RFC 822 text, dot-stuffing undone by the client),
// V0006 (QUIT removes exactly the marked message).
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { curl } from "../helpers/clients.ts"
import { shutdown, startServer, toWire, type Server } from "../helpers/server.ts"

const user = "carol"
const password = "curl pass"
const messages = [
  "From: a@example.org\nSubject: first\n\nHello from the first message.\n.A line starting with a dot\n..two dots\n",
  "From: b@example.org\r\nSubject: second\r\n\r\nSecond body\r\nno final newline",
  "From: c@example.org\nSubject: third\n\nThird.\n"
]

let server: Server
let uids: Array<number> = []
let caFile: string

const pop3s = (path = "") => `pop3s://127.0.0.1:${server.tlsPort}/${path}`
const pop3 = (path = "") => `pop3://127.0.0.1:${server.port}/${path}`
const auth = () => ["--user", `${user}:${password}`]

/** Parses curl's LIST output ("n size" lines) into a map. */
const parseList = (out: Buffer): Map<number, number> => {
  const m = new Map<number, number>()
  for (const line of out.toString("latin1").split(/\r?\n/)) {
    const r = /^(\d+) (\d+)$/.exec(line)
    if (r) m.set(Number(r[1]), Number(r[2]))
  }
  return m
}

beforeAll(async () => {
  server = await startServer()
  await server.addUser(user, password)
  for (const m of messages) uids.push(await server.deliver(user, m))
  caFile = Path.join(server.dataDir, "tls", "cert.pem")
}, 90_000)

afterAll(() => shutdown(server), 20_000)

describe("curl over pop3s (implicit TLS)", { timeout: 20_000 }, () => {
  it("LIST shows every message with its exact RETR size", async () => {
    const r = await curl(["-k", ...auth(), pop3s()])
    expect(r.code, r.stderr).toBe(0)
    const list = parseList(r.stdout)
    expect([...list.keys()]).toEqual([1, 2, 3])
    messages.forEach((m, i) => expect(list.get(i + 1)).toBe(Buffer.byteLength(toWire(m))))
  })

  it("RETR returns exactly the delivered text (CRLF, dots un-stuffed by curl)", async () => {
    for (let n = 1; n <= messages.length; n++) {
      const r = await curl(["-k", ...auth(), pop3s(String(n))])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout.toString("latin1")).toBe(toWire(messages[n - 1]!))
    }
  })

  it("verifies the self-signed certificate as a CA (SAN 127.0.0.1 and localhost)", async () => {
    const a = await curl(["--cacert", caFile, ...auth(), pop3s("1")])
    expect(a.code, a.stderr).toBe(0)
    expect(a.stdout.toString("latin1")).toBe(toWire(messages[0]!))
    const b = await curl(["--cacert", caFile, ...auth(), `pop3s://localhost:${server.tlsPort}/1`])
    expect(b.code, b.stderr).toBe(0)
  })

  it("AUTH PLAIN without initial response (+ continuation)", async () => {
    const r = await curl(["-k", "-v", "--login-options", "AUTH=PLAIN", ...auth(), pop3s("2")])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/^> AUTH PLAIN\r?$/m)
    expect(r.stderr).toMatch(/^< \+ \r?$/m)
    expect(r.stdout.toString("latin1")).toBe(toWire(messages[1]!))
  })

  it("AUTH PLAIN with --sasl-ir (initial response on the AUTH line)", async () => {
    const r = await curl(["-k", "-v", "--sasl-ir", "--login-options", "AUTH=PLAIN", ...auth(), pop3s("3")])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/^> AUTH PLAIN [A-Za-z0-9+/=]+\r?$/m)
    expect(r.stdout.toString("latin1")).toBe(toWire(messages[2]!))
  })

  it("a wrong password fails the login", async () => {
    const r = await curl(["-k", "--user", `${user}:wrong`, pop3s()])
    expect(r.code).toBe(67) // CURLE_LOGIN_DENIED
  })
})

describe("curl over STLS (pop3 + --ssl-reqd)", { timeout: 20_000 }, () => {
  it("LIST and RETR after STLS, with AUTH PLAIN both ways", async () => {
    const list = await curl(["-k", "--ssl-reqd", "-v", ...auth(), pop3()])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stderr).toMatch(/^> STLS\r?$/m)
    expect([...parseList(list.stdout).keys()]).toEqual([1, 2, 3])
    const plain = await curl(["-k", "--ssl-reqd", "--login-options", "AUTH=PLAIN", ...auth(), pop3("1")])
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout.toString("latin1")).toBe(toWire(messages[0]!))
    const ir = await curl(["-k", "--ssl-reqd", "--sasl-ir", "--login-options", "AUTH=PLAIN", ...auth(), pop3("2")])
    expect(ir.code, ir.stderr).toBe(0)
    expect(ir.stdout.toString("latin1")).toBe(toWire(messages[1]!))
  })

  it("STLS with the certificate verified as CA", async () => {
    const r = await curl(["--cacert", caFile, "--ssl-reqd", ...auth(), pop3("3")])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.toString("latin1")).toBe(toWire(messages[2]!))
  })

  it("without TLS the default policy (tls-only) refuses the login", async () => {
    const r = await curl([...auth(), pop3()])
    expect(r.code).not.toBe(0)
  })
})

describe("curl DELE", { timeout: 30_000 }, () => {
  it("DELE 2 + QUIT removes exactly message 2; a later LIST no longer has it", async () => {
    const before = parseList((await curl(["-k", ...auth(), pop3s()])).stdout)
    expect(before.size).toBe(3)
    const d = await curl(["-k", "-v", "-I", "--request", "DELE", ...auth(), pop3s("2")])
    expect(d.code, d.stderr).toBe(0)
    expect(d.stderr).toMatch(/^> DELE 2\r?$/m)
    expect(d.stderr).toMatch(/^< \+OK/m)
    // curl sends QUIT when it closes the connection at exit (not shown by -v).
    const after = await curl(["-k", ...auth(), pop3s()])
    const list = parseList(after.stdout)
    expect(list.size).toBe(2)
    // The remaining messages are the first and the third, renumbered 1 and 2 in the new session.
    const one = await curl(["-k", ...auth(), pop3s("1")])
    const two = await curl(["-k", ...auth(), pop3s("2")])
    expect(one.stdout.toString("latin1")).toBe(toWire(messages[0]!))
    expect(two.stdout.toString("latin1")).toBe(toWire(messages[2]!))
    // The Maildir holds two files.
    const dir = Path.join(server.dataDir, "maildir", user)
    const files = [...Fs.readdirSync(Path.join(dir, "cur")), ...Fs.readdirSync(Path.join(dir, "new"))]
    expect(files.length).toBe(2)
  })
})
