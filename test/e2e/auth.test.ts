// Authentication and the plaintext policy, over raw TCP and TLS. Three servers: the default policy (tls-only),
// --plaintext never and --plaintext allowed. PROFILE rows: V0008/V0009 (USER +OK for anyone; wrong user and wrong
// password fail identically at PASS), C0005 (too many failures: final -ERR and close), V0010 (plaintext policy:
// USER and AUTH PLAIN -ERR with a reason where not permitted; CAPA's USER and SASL follow it), RFC 2595 STLS
// (CAPA before/after, STLS after login -ERR, plaintext pipelined behind STLS dropped), E0001 (both listeners),
// V0001 ([AUTH] code on failed logins).
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pop3Client, shutdown, startServer, type Server } from "../helpers/server.ts"

const user = "authy"
const password = "correct horse"

let tlsOnly: Server
let never: Server
let allowed: Server
const open: Array<Pop3Client> = []

const track = (c: Pop3Client) => {
  open.push(c)
  return c
}
const plain = async (s: Server) => track(await Pop3Client.connect(s.port))
const tls = async (s: Server) => track(await Pop3Client.connect(s.tlsPort, { tls: true, ca: s.certPem }))
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")

const capaKeys = async (c: Pop3Client) => {
  const r = await c.multi("CAPA")
  expect(r.status).toMatch(/^\+OK/)
  return r.lines
}

beforeAll(async () => {
  ;[tlsOnly, never, allowed] = await Promise.all([
    startServer(),
    startServer({ args: ["--plaintext", "never"] }),
    startServer({ args: ["--plaintext", "allowed"] })
  ])
  for (const s of [tlsOnly, never, allowed]) await s.addUser(user, password)
}, 120_000)

afterAll(async () => {
  for (const c of open) c.destroy()
  await Promise.all([shutdown(tlsOnly), shutdown(never), shutdown(allowed)])
}, 30_000)

describe("USER/PASS outcomes (V0008, V0009, V0001)", { timeout: 20_000 }, () => {
  it("USER answers +OK for an unknown user too", async () => {
    const c = await tls(tlsOnly)
    expect(await c.command("USER nobody-here")).toMatch(/^\+OK/)
    expect(await c.command(`USER ${user}`)).toMatch(/^\+OK/)
  })

  it("a wrong password and an unknown user fail with the identical -ERR line", async () => {
    const a = await tls(tlsOnly)
    await a.command(`USER ${user}`)
    const wrongPassword = await a.command("PASS not the password")
    const b = await tls(tlsOnly)
    await b.command("USER nobody-here")
    const unknownUser = await b.command("PASS not the password")
    expect(wrongPassword).toMatch(/^-ERR \[AUTH\] \S/)
    expect(unknownUser).toBe(wrongPassword)
    // The same through AUTH PLAIN.
    const c = await tls(tlsOnly)
    const d = await tls(tlsOnly)
    const p1 = await c.command(`AUTH PLAIN ${b64(`\0${user}\0nope`)}`)
    const p2 = await d.command(`AUTH PLAIN ${b64(`\0nobody-here\0nope`)}`)
    expect(p1).toMatch(/^-ERR \[AUTH\]/)
    expect(p2).toBe(p1)
  })

  it("a wrong password and an unknown user take about the same time", async () => {
    const time = async (name: string) => {
      const c = await tls(tlsOnly)
      await c.command(`USER ${name}`)
      const t0 = performance.now()
      await c.command("PASS timing-probe")
      const ms = performance.now() - t0
      c.destroy()
      return ms
    }
    const known: Array<number> = []
    const unknown: Array<number> = []
    for (let i = 0; i < 3; i++) {
      known.push(await time(user))
      unknown.push(await time(`ghost${i}`))
    }
    const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[1]!
    // An unknown user must not be answered much faster than a known one (a full hash is spent either way).
    // Loose bound: real-time measurements on a loaded CI machine are noisy.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.3)
  })

  it("a correct login says +OK and logs in", async () => {
    const c = await tls(tlsOnly)
    expect(await c.login(user, password)).toMatch(/^\+OK/)
    expect(await c.command("STAT")).toMatch(/^\+OK \d+ \d+$/)
  })
})

describe("too many failures (C0005)", { timeout: 20_000 }, () => {
  it("after 3 failed PASS the server sends a final -ERR and closes", async () => {
    const c = await tls(tlsOnly)
    for (let i = 1; i <= 2; i++) {
      await c.command(`USER ${user}`)
      expect(await c.command(`PASS wrong${i}`)).toMatch(/^-ERR \S/)
      expect(await c.command("NOOP")).toBe("+OK")
    }
    await c.command(`USER ${user}`)
    const last = await c.command("PASS wrong3")
    expect(last).toMatch(/^-ERR \S/)
    expect(await c.readToEnd(5_000)).toBe("")
    expect(c.closed).toBe(true)
  })

  it("failed AUTH PLAIN attempts count too, mixed with PASS", async () => {
    const c = await tls(tlsOnly)
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0bad1`)}`)).toMatch(/^-ERR/)
    await c.command(`USER ${user}`)
    expect(await c.command("PASS bad2")).toMatch(/^-ERR/)
    expect(await c.command("AUTH PLAIN")).toBe("+ ")
    expect(await c.command(b64(`\0${user}\0bad3`))).toMatch(/^-ERR \S/)
    expect(await c.readToEnd(5_000)).toBe("")
    expect(c.closed).toBe(true)
  })

  it("the right password after two failures still logs in", async () => {
    const c = await tls(tlsOnly)
    for (let i = 1; i <= 2; i++) {
      await c.command(`USER ${user}`)
      expect(await c.command(`PASS wrong${i}`)).toMatch(/^-ERR/)
    }
    expect(await c.login(user, password)).toMatch(/^\+OK/)
  })
})

describe("plaintext policy tls-only, the default (V0010)", { timeout: 20_000 }, () => {
  it("on the plain port: USER -ERR with a reason, PASS -ERR, AUTH PLAIN -ERR (with and without initial response)", async () => {
    const c = await plain(tlsOnly)
    const u = await c.command(`USER ${user}`)
    expect(u).toMatch(/^-ERR \S/)
    expect(u).toMatch(/TLS|STLS|encrypt/i)
    expect(await c.command(`PASS ${password}`)).toMatch(/^-ERR \S/)
    expect(await c.command("AUTH PLAIN")).toMatch(/^-ERR \S/)
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`)).toMatch(/^-ERR \S/)
    expect(await c.command("STAT")).toMatch(/^-ERR/)
  })

  it("CAPA on the plain port has STLS and no USER, and no SASL PLAIN", async () => {
    const c = await plain(tlsOnly)
    const lines = await capaKeys(c)
    expect(lines).toContain("STLS")
    expect(lines).not.toContain("USER")
    expect(lines.filter((l) => l.startsWith("SASL") && l.split(" ").includes("PLAIN"))).toEqual([])
    const auth = await c.multi("AUTH")
    expect(auth.status).toMatch(/^\+OK/)
    expect(auth.lines).not.toContain("PLAIN")
  })

  it("after STLS: CAPA has USER and SASL PLAIN and no STLS; USER/PASS logs in", async () => {
    const c = await plain(tlsOnly)
    expect(await c.stls(tlsOnly.certPem)).toMatch(/^\+OK/)
    expect(c.encrypted).toBe(true)
    const lines = await capaKeys(c)
    expect(lines).toContain("USER")
    expect(lines).not.toContain("STLS")
    expect(lines.find((l) => l.startsWith("SASL "))?.split(" ")).toContain("PLAIN")
    expect(await c.login(user, password)).toMatch(/^\+OK/)
    expect(await c.command("STLS")).toMatch(/^-ERR \S/)
  })

  it("after STLS, AUTH PLAIN logs in", async () => {
    const c = await plain(tlsOnly)
    await c.stls(tlsOnly.certPem)
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`)).toMatch(/^\+OK/)
  })

  it("on the implicit-TLS port: CAPA has USER and no STLS; STLS -ERR; STLS after login -ERR", async () => {
    const c = await tls(tlsOnly)
    const lines = await capaKeys(c)
    expect(lines).toContain("USER")
    expect(lines).not.toContain("STLS")
    expect(await c.command("STLS")).toMatch(/^-ERR \S/)
    expect(await c.login(user, password)).toMatch(/^\+OK/)
    expect(await c.command("STLS")).toMatch(/^-ERR \S/)
    expect(await c.command("NOOP")).toBe("+OK")
  })

  it("a second STLS after the upgrade gets -ERR", async () => {
    const c = await plain(tlsOnly)
    await c.stls(tlsOnly.certPem)
    expect(await c.command("STLS")).toMatch(/^-ERR \S/)
    expect(await c.command("NOOP")).toBe("+OK")
  })

  it("STLS pipelining injection: a USER sent in clear behind STLS is dropped", async () => {
    const c = await plain(tlsOnly)
    c.sendRaw("STLS\r\nUSER injected\r\n")
    expect(await c.readLine()).toMatch(/^\+OK/)
    // Nothing else may come in clear after the +OK (no answer to the injected USER).
    await new Promise((r) => setTimeout(r, 200))
    expect(c.pending).toBe("")
    await c.upgrade(tlsOnly.certPem)
    const r = await c.command("PASS x")
    expect(r).toMatch(/^-ERR \S/)
    expect(r).toMatch(/USER/)
    // The session works normally afterwards.
    expect(await c.login(user, password)).toMatch(/^\+OK/)
  })

  it("STLS pipelining injection with AUTH: a PLAIN exchange started in clear is dropped", async () => {
    const c = await plain(allowed)
    c.sendRaw(`STLS\r\nAUTH PLAIN\r\n${b64(`\0${user}\0${password}`)}\r\n`)
    expect(await c.readLine()).toMatch(/^\+OK/)
    await c.upgrade(allowed.certPem)
    expect(await c.command("STAT")).toMatch(/^-ERR \S/)
  })
})

describe("plaintext policy never (V0010)", { timeout: 20_000 }, () => {
  it("USER and AUTH PLAIN get -ERR with a reason, also over implicit TLS", async () => {
    const c = await tls(never)
    const u = await c.command(`USER ${user}`)
    expect(u).toMatch(/^-ERR \S/)
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`)).toMatch(/^-ERR \S/)
    const lines = await capaKeys(c)
    expect(lines).not.toContain("USER")
    expect(lines.filter((l) => l.startsWith("SASL") && l.split(" ").includes("PLAIN"))).toEqual([])
  })

  it("and after STLS on the plain port", async () => {
    const c = await plain(never)
    expect(await c.stls(never.certPem)).toMatch(/^\+OK/)
    expect(await c.command(`USER ${user}`)).toMatch(/^-ERR \S/)
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`)).toMatch(/^-ERR \S/)
  })
})

describe("plaintext policy allowed (V0010)", { timeout: 20_000 }, () => {
  it("USER/PASS works on the plain port; CAPA has USER and STLS", async () => {
    const c = await plain(allowed)
    const lines = await capaKeys(c)
    expect(lines).toContain("USER")
    expect(lines).toContain("STLS")
    expect(await c.login(user, password)).toMatch(/^\+OK/)
    expect(await c.command("STAT")).toMatch(/^\+OK \d+ \d+$/)
  })

  it("AUTH PLAIN works on the plain port", async () => {
    const c = await plain(allowed)
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`)).toMatch(/^\+OK/)
  })
})

describe("the users file changes while the server runs", { timeout: 90_000 }, () => {
  it("a user added with the CLI can log in at once, also from several connections at the same moment", async () => {
    await allowed.addUser("newcomer", "fresh pw")
    await new Promise((res) => setTimeout(res, 1_100)) // the users file is checked at most once a second
    const replies = await Promise.all([0, 1, 2, 3].map(async () => {
      const c = await plain(allowed)
      return c.login("newcomer", "fresh pw")
    }))
    expect(replies.map((r) => r.slice(0, 3))).toEqual(["+OK", "+OK", "+OK", "+OK"])
  })

  it("a password changed with the CLI takes effect; the old one stops working", async () => {
    await allowed.addUser("changer", "old pw")
    const a = await plain(allowed)
    expect(await a.login("changer", "old pw")).toMatch(/^\+OK/)
    const r = await allowed.cli(["user", "passwd", "changer", "--password-stdin"], "new pw")
    expect(r.code, r.stderr).toBe(0)
    await new Promise((res) => setTimeout(res, 1_100)) // the users file is checked at most once a second
    const b = await plain(allowed)
    expect(await b.login("changer", "old pw")).toMatch(/^-ERR/)
    const c = await plain(allowed)
    expect(await c.login("changer", "new pw")).toMatch(/^\+OK/)
  })
})
