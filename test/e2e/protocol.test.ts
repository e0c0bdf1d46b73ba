// The wire grammar and the shape of replies, over raw TCP with the line client (server with --plaintext allowed so
// that USER/PASS and AUTH PLAIN work on the plain port). PROFILE rows: V0012 (no APOP timestamp, APOP -ERR), 2.1.1
// (SP/TAB runs, case-insensitive keywords), 2.1.2 + E0006/E0007 (maxCommandSize 512 incl. CRLF, over-long lines
// -ERR and the session goes on), C0001 (status lines ≤ 512 octets), C0002/C0003 (no transaction command before
// login), V0001 (negative responses carry text), V0004/V0005 (nothing after the size on STAT/LIST), V0011 (PASS
// takes the rest of the line), RFC 2449 CAPA, RFC 5034 AUTH: listing, "+ " continuation, "*" cancel, bad base64,
// the larger SASL response bound.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loginPlain, Pop3Client, shutdown, startServer, type Server } from "../helpers/server.ts"

const user = "raw"
const password = "raw pass"
const spacey = "spacey"
const spaceyPassword = "  two leading, inner  spaces and trailing  "

let server: Server
const clients: Array<Pop3Client> = []

const connect = async () => {
  const c = await Pop3Client.connect(server.port)
  clients.push(c)
  return c
}
const login = async () => {
  const c = await loginPlain(server.port, user, password)
  clients.push(c)
  return c
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")

/** Every status line: at most 512 octets with CRLF, and -ERR always followed by a reason (V0001, C0001). */
const wellFormed = (status: string) => {
  expect(Buffer.byteLength(status, "latin1") + 2).toBeLessThanOrEqual(512)
  expect(status).toMatch(/^(\+OK( .*)?|-ERR \S.*)$/)
}

beforeAll(async () => {
  server = await startServer({ args: ["--plaintext", "allowed"] })
  await server.addUser(user, password)
  await server.addUser(spacey, spaceyPassword)
  await server.deliver(user, "Subject: one\n\nfirst\n")
  await server.deliver(user, "Subject: two\n\nsecond message\n")
}, 90_000)

afterAll(async () => {
  for (const c of clients) c.destroy()
  await shutdown(server)
}, 20_000)

describe("greeting and APOP (V0012)", { timeout: 20_000 }, () => {
  it("the greeting is +OK without an APOP timestamp", async () => {
    const c = await connect()
    expect(c.greeting).toMatch(/^\+OK/)
    expect(c.greeting).not.toMatch(/<[^>]*>/)
    wellFormed(c.greeting)
  })

  it("APOP answers -ERR with a reason, before and after login", async () => {
    const c = await connect()
    const r = await c.command(`APOP ${user} c4c9334bac560ecc979e58001b3e22fb`)
    expect(r).toMatch(/^-ERR \S/)
    wellFormed(r)
    expect(await c.command("NOOP")).toMatch(/^\+OK/)
    const d = await login()
    expect(await d.command(`APOP ${user} c4c9334bac560ecc979e58001b3e22fb`)).toMatch(/^-ERR \S/)
  })
})

describe("command grammar (2.1.1, V0011)", { timeout: 20_000 }, () => {
  it("keywords are case-insensitive and arguments are separated by runs of SP and TAB", async () => {
    const c = await connect()
    expect(await c.command(`uSeR \t \t${user}  \t`)).toMatch(/^\+OK/)
    expect(await c.command(`pAsS ${password}`)).toMatch(/^\+OK/)
    expect(await c.command("sTaT")).toMatch(/^\+OK 2 \d+$/)
    expect(await c.command("list\t \t2")).toMatch(/^\+OK 2 \d+$/)
    expect(await c.command("LIST 2 \t ")).toMatch(/^\+OK 2 \d+$/)
    expect(await c.command("uidl  \t1")).toMatch(/^\+OK 1 \d+$/)
    const top = await c.multi("ToP\t1 \t 0")
    expect(top.status).toMatch(/^\+OK/)
    expect(top.lines).toEqual(["Subject: one", ""])
    const retr = await c.multi("rEtR\t\t2")
    expect(retr.lines).toEqual(["Subject: two", "", "second message"])
    expect(await c.command("nOoP")).toBe("+OK")
    expect(await c.command("Quit")).toMatch(/^\+OK/)
  })

  it("PASS takes the whole rest of the line: leading, inner and trailing spaces are part of the password", async () => {
    const c = await connect()
    expect(await c.command(`USER ${spacey}`)).toMatch(/^\+OK/)
    expect(await c.command(`PASS ${spaceyPassword}`)).toMatch(/^\+OK/)
    // The same password with its spaces trimmed or collapsed is a different password.
    const d = await connect()
    expect(await d.command(`USER ${spacey}`)).toMatch(/^\+OK/)
    expect(await d.command(`PASS ${spaceyPassword.trim()}`)).toMatch(/^-ERR/)
    expect(await d.command(`USER ${spacey}`)).toMatch(/^\+OK/)
    expect(await d.command(`PASS ${spaceyPassword.replace(/ +/g, " ")}`)).toMatch(/^-ERR/)
  })

  it("a password with spaces works through AUTH PLAIN too", async () => {
    const c = await connect()
    const r = await c.command(`AUTH PLAIN ${b64(`\0${spacey}\0${spaceyPassword}`)}`)
    expect(r).toMatch(/^\+OK/)
  })

  it("bare LF line ends and a command split over several writes are accepted", async () => {
    const c = await connect()
    c.sendRaw("NOOP\n")
    expect(await c.readLine()).toBe("+OK")
    c.sendRaw("NO")
    await new Promise((r) => setTimeout(r, 100))
    c.sendRaw("OP\r")
    await new Promise((r) => setTimeout(r, 100))
    c.sendRaw("\n")
    expect(await c.readLine()).toBe("+OK")
  })

  it("unknown commands and bad arguments get -ERR with a reason; the session goes on", async () => {
    const c = await login()
    for (const bad of ["XYZZY", "RETR", "RETR 0", "RETR abc", "RETR 1 2", "TOP 1", "TOP 1 -1", "DELE", "LIST x", "STAT 1", "RETR 99", "TOP 99 0", "DELE 99", "UIDL 99", "LIST 99", ""]) {
      const r = await c.command(bad)
      expect(r, bad).toMatch(/^-ERR \S/)
      wellFormed(r)
    }
    expect(await c.command("NOOP")).toBe("+OK")
  })

  it("an unknown 500-octet keyword gets a status line of at most 512 octets (C0001)", async () => {
    const c = await connect()
    const r = await c.command("X".repeat(500))
    wellFormed(r)
    expect(r).toMatch(/^-ERR/)
  })
})

describe("command length (2.1.2, E0006, E0007)", { timeout: 20_000 }, () => {
  it("a line of exactly 512 octets (CRLF included) is accepted; 513 gets -ERR and the session goes on", async () => {
    const c = await connect()
    const exact = "USER " + "u".repeat(512 - 2 - 5)
    expect(Buffer.byteLength(exact + "\r\n")).toBe(512)
    expect(await c.command(exact)).toMatch(/^\+OK/)
    const over = "USER " + "u".repeat(513 - 2 - 5)
    const r = await c.command(over)
    expect(r).toMatch(/^-ERR \S/)
    wellFormed(r)
    expect(await c.command("NOOP")).toBe("+OK")
    // Nothing was lost: a login right after works.
    expect(await c.command(`USER ${user}`)).toMatch(/^\+OK/)
    expect(await c.command(`PASS ${password}`)).toMatch(/^\+OK/)
  })

  it("a 512-octet line is accepted after login too (LIST with a zero-padded number)", async () => {
    const c = await login()
    // Leading zeros are allowed: the number is still 1 (9 significant digits at most).
    const exact = "LIST " + "0".repeat(512 - 2 - 5 - 1) + "1"
    expect(Buffer.byteLength(exact + "\r\n")).toBe(512)
    expect(await c.command(exact)).toMatch(/^\+OK 1 \d+$/)
    expect(await c.command(exact.replace("LIST ", "LIST 0"))).toMatch(/^-ERR \S/)
    expect(await c.command("STAT")).toMatch(/^\+OK 2 \d+$/)
  })

  it("an over-long line of 100 KB gets exactly one -ERR, then the session goes on", async () => {
    const c = await connect()
    c.sendRaw("NOOP " + "y".repeat(100 * 1024) + "\r\nNOOP\r\n")
    const r = await c.readLine()
    expect(r).toMatch(/^-ERR \S/)
    wellFormed(r)
    expect(await c.readLine()).toBe("+OK")
    expect(await c.command("CAPA")).toMatch(/^\+OK/)
  })

  it("an over-long line sent in many small writes is also one -ERR", async () => {
    const c = await connect()
    for (let i = 0; i < 20; i++) {
      c.sendRaw("z".repeat(1000))
      await new Promise((r) => setTimeout(r, 5))
    }
    c.sendRaw("\r\nNOOP\r\n")
    expect(await c.readLine()).toMatch(/^-ERR \S/)
    expect(await c.readLine()).toBe("+OK")
  })
})

describe("AUTHORIZATION state (C0002, C0003)", { timeout: 20_000 }, () => {
  it("transaction commands before login get -ERR with a reason", async () => {
    const c = await connect()
    for (const cmd of ["STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "UIDL", "UIDL 1", "TOP 1 0", "RSET"]) {
      const r = await c.command(cmd)
      expect(r, cmd).toMatch(/^-ERR \S/)
      wellFormed(r)
    }
    // After USER but before PASS it is still AUTHORIZATION.
    expect(await c.command(`USER ${user}`)).toMatch(/^\+OK/)
    expect(await c.command("STAT")).toMatch(/^-ERR \S/)
    expect(await c.command("RETR 1")).toMatch(/^-ERR \S/)
  })

  it("PASS without USER gets -ERR", async () => {
    const c = await connect()
    expect(await c.command(`PASS ${password}`)).toMatch(/^-ERR \S/)
  })

  it("USER and PASS after login get -ERR", async () => {
    const c = await login()
    expect(await c.command(`USER ${user}`)).toMatch(/^-ERR \S/)
    expect(await c.command(`PASS ${password}`)).toMatch(/^-ERR \S/)
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`)).toMatch(/^-ERR \S/)
  })

  it("QUIT in AUTHORIZATION says +OK and closes", async () => {
    const c = await connect()
    expect(await c.command("QUIT")).toMatch(/^\+OK/)
    expect(await c.readToEnd(5_000)).toBe("")
    expect(c.closed).toBe(true)
  })
})

describe("STAT and LIST lines (V0004, V0005)", { timeout: 20_000 }, () => {
  it("nothing follows the size on STAT, LIST n and LIST lines", async () => {
    const c = await login()
    expect(await c.command("STAT")).toMatch(/^\+OK \d+ \d+$/)
    expect(await c.command("LIST 1")).toMatch(/^\+OK \d+ \d+$/)
    expect(await c.command("LIST 2")).toMatch(/^\+OK \d+ \d+$/)
    const list = await c.multi("LIST")
    expect(list.status).toMatch(/^\+OK/)
    expect(list.lines.length).toBe(2)
    for (const l of list.lines) expect(l).toMatch(/^\d+ \d+$/)
    const uidl = await c.multi("UIDL")
    for (const l of uidl.lines) expect(l).toMatch(/^\d+ \d+$/)
  })
})

describe("CAPA (RFC 2449, E0002)", { timeout: 20_000 }, () => {
  it("lists TOP, USER, UIDL, SASL PLAIN, RESP-CODES, AUTH-RESP-CODE, PIPELINING, STLS and IMPLEMENTATION", async () => {
    const c = await connect()
    const capa = await c.multi("CAPA")
    expect(capa.status).toMatch(/^\+OK/)
    const keys = capa.lines.map((l) => l.split(" ")[0])
    for (const k of ["TOP", "USER", "UIDL", "SASL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS", "IMPLEMENTATION"]) {
      expect(keys, k).toContain(k)
    }
    expect(capa.lines.find((l) => l.startsWith("SASL "))!.split(" ")).toContain("PLAIN")
  })

  it("CAPA after login still answers (without STLS)", async () => {
    const c = await login()
    const capa = await c.multi("CAPA")
    expect(capa.status).toMatch(/^\+OK/)
    expect(capa.lines).toContain("TOP")
    expect(capa.lines).not.toContain("STLS")
  })
})

describe("AUTH (RFC 5034, E0002)", { timeout: 20_000 }, () => {
  it('"AUTH" and "AUTH " (trailing space, as Outlook sends it) list the mechanisms as a multi-line +OK', async () => {
    const c = await connect()
    const a = await c.multi("AUTH")
    expect(a.status).toMatch(/^\+OK/)
    expect(a.lines).toContain("PLAIN")
    const b = await c.multi("AUTH ")
    expect(b.status).toMatch(/^\+OK/)
    expect(b.lines).toEqual(a.lines)
    expect(await c.command("NOOP")).toBe("+OK")
  })

  it('AUTH PLAIN without an initial response gets exactly "+ " and then takes the client line', async () => {
    const c = await connect()
    c.send("AUTH PLAIN")
    const cont = await c.readUntil(Buffer.from("\r\n"))
    expect(cont.toString("latin1")).toBe("+ \r\n")
    expect(await c.command(b64(`\0${user}\0${password}`))).toMatch(/^\+OK/)
    expect(await c.command("STAT")).toMatch(/^\+OK 2 \d+$/)
  })

  it("AUTH plain (lower case mechanism) with an initial response logs in; an authzid equal to the user is accepted", async () => {
    const c = await connect()
    expect(await c.command(`AUTH plain ${b64(`${user}\0${user}\0${password}`)}`)).toMatch(/^\+OK/)
  })

  it('"*" cancels the exchange with -ERR; the session goes on', async () => {
    const c = await connect()
    expect(await c.command("AUTH PLAIN")).toBe("+ ")
    const r = await c.command("*")
    expect(r).toMatch(/^-ERR \S/)
    expect(await c.command("NOOP")).toBe("+OK")
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`)).toMatch(/^\+OK/)
  })

  it("malformed base64 gets -ERR, as continuation and as initial response", async () => {
    const c = await connect()
    expect(await c.command("AUTH PLAIN")).toBe("+ ")
    expect(await c.command("!!not base64!!")).toMatch(/^-ERR \S/)
    expect(await c.command("NOOP")).toBe("+OK")
    expect(await c.command("AUTH PLAIN a===")).toMatch(/^-ERR \S/)
    expect(await c.command("NOOP")).toBe("+OK")
  })

  it("wrong credentials through AUTH PLAIN get -ERR [AUTH]", async () => {
    const c = await connect()
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0wrong`)}`)).toMatch(/^-ERR \[AUTH\] \S/)
  })

  it("an unknown mechanism gets -ERR", async () => {
    const c = await connect()
    expect(await c.command("AUTH X-UNKNOWN")).toMatch(/^-ERR \S/)
    expect(await c.command("NOOP")).toBe("+OK")
  })

  it("a SASL response longer than a command line (2 KB) is read as a response, not refused as too long", async () => {
    const c = await connect()
    expect(await c.command("AUTH PLAIN")).toBe("+ ")
    const big = b64(`\0${user}\0${"p".repeat(1500)}`)
    expect(big.length).toBeGreaterThan(1024)
    const r = await c.command(big)
    expect(r).toMatch(/^-ERR \[AUTH\]/) // a wrong password, not a length error
    // The command limit applies again afterwards.
    expect(await c.command("USER " + "u".repeat(600))).toMatch(/^-ERR \S/)
    expect(await c.command("NOOP")).toBe("+OK")
  })

  it("a SASL response over the SASL bound (64 KiB) gets -ERR and the session goes on", async () => {
    const c = await connect()
    expect(await c.command("AUTH PLAIN")).toBe("+ ")
    c.sendRaw("A".repeat(70 * 1024) + "\r\nNOOP\r\n")
    expect(await c.readLine()).toMatch(/^-ERR \S/)
    expect(await c.readLine()).toBe("+OK")
    expect(await c.command(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`)).toMatch(/^\+OK/)
  })
})
