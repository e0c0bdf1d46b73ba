// PIPELINING (RFC 2449): many commands in one write get every answer, in order, each multi-line reply complete
// before the next status line. The replies must be byte-for-byte those of the same commands sent one at a time.
// PROFILE rows: RFC 2449 PIPELINING, corner "under PIPELINING no reply starts before the previous multi-line reply
// has ended", C0011 (large RETR while more commands are queued).
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loginPlain, Pop3Client, shutdown, startServer, type Server } from "../helpers/server.ts"

const user = "piper"
const password = "pipe pass"
let server: Server
const open: Array<Pop3Client> = []

const big = (() => {
  const lines = ["Subject: big", ""]
  for (let i = 0; i < 6000; i++) lines.push((i % 5 === 0 ? "." : "") + `${i} ` + "b".repeat(70))
  return lines.join("\r\n") + "\r\n"
})()

const messages = [
  "Subject: one\n\n.dot first\nsecond\n",
  "Subject: two\r\n\r\nshort\r\n",
  big,
  "Subject: four\n\nno newline at end"
]

/** Commands that answer multi-line on +OK. */
const isMulti = (cmd: string): boolean => {
  const [verb, ...args] = cmd.trim().split(/\s+/)
  const v = verb!.toUpperCase()
  return v === "RETR" || v === "TOP" || v === "CAPA" || ((v === "LIST" || v === "UIDL") && args.length === 0)
}

/** Reads the reply to one command: its status line and, for a multi-line +OK, the body, as raw text. */
const readReply = async (c: Pop3Client, cmd: string): Promise<string> => {
  const status = await c.readLine()
  if (!isMulti(cmd) || !status.startsWith("+OK")) return status + "\r\n"
  const body = await c.readBody()
  return status + "\r\n" + body.raw.toString("latin1")
}

const login = async () => {
  const c = await loginPlain(server.port, user, password)
  open.push(c)
  return c
}

/** 50 commands: a mix of LIST, RETR, UIDL, NOOP, TOP, STAT, CAPA, and a few that fail. */
const commands: Array<string> = (() => {
  const pool = ["LIST", "RETR 1", "UIDL", "NOOP", "TOP 1 0", "STAT", "RETR 3", "LIST 2", "UIDL 4", "TOP 3 5", "RETR 4",
    "CAPA", "RETR 9", "TOP 2 1", "LIST 7", "RETR 2", "XYZZY"]
  const out: Array<string> = []
  for (let i = 0; i < 50; i++) out.push(pool[(i * 7) % pool.length]!)
  return out
})()

beforeAll(async () => {
  server = await startServer({ args: ["--plaintext", "allowed"] })
  await server.addUser(user, password)
  for (const m of messages) await server.deliver(user, m)
}, 120_000)

afterAll(async () => {
  for (const c of open) c.destroy()
  await shutdown(server)
}, 30_000)

describe("PIPELINING", { timeout: 30_000 }, () => {
  it("CAPA announces PIPELINING", async () => {
    const c = await login()
    expect((await c.multi("CAPA")).lines).toContain("PIPELINING")
  })

  it("50 commands in one write: every reply, in order, identical to the replies one at a time", async () => {
    const one = await login()
    const expected: Array<string> = []
    for (const cmd of commands) {
      one.send(cmd)
      expected.push(await readReply(one, cmd))
    }
    const many = await login()
    many.sendRaw(commands.map((c) => c + "\r\n").join(""))
    const got: Array<string> = []
    for (const cmd of commands) got.push(await readReply(many, cmd))
    for (let i = 0; i < commands.length; i++) expect(got[i], `reply ${i + 1} to ${commands[i]}`).toBe(expected[i])
    // Nothing more came.
    expect(await many.command("NOOP")).toBe("+OK")
    expect(many.pending).toBe("")
  })

  it("login and commands pipelined together, ending with QUIT", async () => {
    const c = track(await Pop3Client.connect(server.port))
    const batch = [`USER ${user}`, `PASS ${password}`, "STAT", "RETR 3", "RETR 3", "UIDL", "DELE 2", "LIST", "RSET", "QUIT"]
    c.sendRaw(batch.map((x) => x + "\r\n").join(""))
    expect(await c.readLine()).toMatch(/^\+OK/) // USER
    expect(await c.readLine()).toMatch(/^\+OK/) // PASS
    expect(await c.readLine()).toMatch(/^\+OK 4 \d+$/)
    for (let i = 0; i < 2; i++) {
      const r = await readReply(c, "RETR 3")
      expect(r.startsWith("+OK")).toBe(true)
      expect(r.endsWith("\r\n.\r\n")).toBe(true)
      expect(r.split("\r\n").filter((l) => l.startsWith("..")).length).toBe(1200)
    }
    const uidl = await readReply(c, "UIDL")
    expect(uidl.split("\r\n").filter((l) => /^\d+ \d+$/.test(l)).length).toBe(4)
    expect(await c.readLine()).toMatch(/^\+OK/) // DELE 2
    const list = await readReply(c, "LIST")
    expect(list.split("\r\n").filter((l) => /^\d+ \d+$/.test(l)).map((l) => l.split(" ")[0])).toEqual(["1", "3", "4"])
    expect(await c.readLine()).toMatch(/^\+OK/) // RSET
    expect(await c.readLine()).toMatch(/^\+OK/) // QUIT
    expect(await c.readToEnd(5_000)).toBe("")
  })

  it("many large RETRs queued behind each other while the client reads slowly", async () => {
    const c = await login()
    const n = 8
    c.sendRaw("RETR 3\r\n".repeat(n) + "NOOP\r\n")
    await new Promise((r) => setTimeout(r, 1_000)) // let the server fill the socket buffers
    for (let i = 0; i < n; i++) {
      const r = await readReply(c, "RETR 3")
      expect(r.length, `RETR ${i + 1}`).toBeGreaterThan(big.length)
      expect(r.endsWith("\r\n.\r\n")).toBe(true)
    }
    expect(await c.readLine()).toBe("+OK")
  })

  it("commands split at arbitrary byte boundaries across writes still get every reply in order", async () => {
    const c = await login()
    const text = commands.slice(0, 20).map((x) => x + "\r\n").join("")
    for (let i = 0; i < text.length; i += 7) {
      c.sendRaw(text.slice(i, i + 7))
      if (i % 70 === 0) await new Promise((r) => setTimeout(r, 2))
    }
    for (const cmd of commands.slice(0, 20)) {
      const r = await readReply(c, cmd)
      expect(r).toMatch(/^(\+OK|-ERR)/)
    }
    expect(await c.command("NOOP")).toBe("+OK")
  })
})

function track(c: Pop3Client): Pop3Client {
  open.push(c)
  return c
}
