// Message content on the wire and message sizes, over raw TCP. Two servers share one Maildir: one with
// --exact-rfc822-size on (the default), one with off. PROFILE rows: 2.1.4/2.1.5 (LIST size = RETR octets when on,
// storage size when off; STAT their sum), C0011 (CRLF line ends whatever the store holds, dot-stuffing), corner
// "every multi-line reply ends with exactly CRLF.CRLF, also for a message without a final newline or with bare
// CR/LF", corner "TOP n 0 / TOP n k", "every line starting with . is stuffed, in RETR and TOP alike".
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loginPlain, Pop3Client, shutdown, startServer, toWire, type Server } from "../helpers/server.ts"

const user = "sizes"
const password = "sizes-pass"

const big = (() => {
  const lines: Array<string> = ["Subject: big", ""]
  for (let i = 0; i < 4000; i++) lines.push((i % 7 === 0 ? "." : "") + `line ${i} ` + "x".repeat(60))
  return lines.join("\n") + "\n"
})()

/** The messages, delivered in this order (message n = messages[n-1]). */
const messages: ReadonlyArray<{ readonly name: string; readonly text: string }> = [
  { name: "bare LF with dots", text: "Subject: lf\nX-Two: 2\n\n.leading dot\n..two dots\n.\nend\n" },
  { name: "no final newline", text: "Subject: nofinal\n\nfirst\nlast line" },
  { name: "CRLF with a lone dot line", text: "Subject: crlf\r\n\r\nbody\r\n.\r\n.x\r\n" },
  { name: "bare CR line ends", text: "Subject: cr\r\rone\r.two\r" },
  { name: "mixed line ends", text: "Subject: mixed\r\nX-A: a\n\rbody1\r\n.body2\nbody3\r" },
  { name: "large, many dotted lines", text: big },
  { name: "headers only, no body", text: "Subject: headers only\nX-B: b\n" },
  { name: "body ends with a dot line and no newline", text: "Subject: dot-end\n\ntext\n." }
]

/** What RETR must send after the status line: CRLF line ends, dots stuffed, then .CRLF. */
const expectedRaw = (text: string): string => {
  const wire = toWire(text)
  const lines = wire === "" ? [] : wire.slice(0, -2).split("\r\n")
  return lines.map((l) => (l.startsWith(".") ? "." + l : l) + "\r\n").join("") + ".\r\n"
}

/** What TOP n k must send: the header block, the blank line, k body lines (stuffed), then .CRLF. */
const expectedTop = (text: string, k: number): string => {
  const wire = toWire(text)
  const lines = wire.slice(0, -2).split("\r\n")
  const blank = lines.indexOf("")
  const kept = blank === -1 ? lines : lines.slice(0, blank + 1 + k)
  return kept.map((l) => (l.startsWith(".") ? "." + l : l) + "\r\n").join("") + ".\r\n"
}

let exact: Server
let storage: Server
const open: Array<Pop3Client> = []

beforeAll(async () => {
  exact = await startServer({ args: ["--plaintext", "allowed"] })
  await exact.addUser(user, password)
  for (const m of messages) await exact.deliver(user, m.text)
  storage = await startServer({ dataDir: exact.dataDir, args: ["--plaintext", "allowed", "--exact-rfc822-size", "off"] })
}, 120_000)

afterAll(async () => {
  for (const c of open) c.destroy()
  await shutdown(storage)
  await shutdown(exact)
}, 30_000)

const session = async (server: Server) => {
  const c = await loginPlain(server.port, user, password)
  open.push(c)
  return c
}

describe("RETR on the wire (C0011)", { timeout: 30_000 }, () => {
  it.each(messages.map((m, i) => [m.name, i + 1] as const))("%s: CRLF, dot-stuffed, ends with exactly CRLF.CRLF", async (_name, n) => {
    const c = await session(exact)
    const r = await c.multi(`RETR ${n}`)
    expect(r.status).toMatch(/^\+OK/)
    expect(r.raw.toString("latin1")).toBe(expectedRaw(messages[n - 1]!.text))
    // No bare CR or bare LF anywhere in what was sent.
    expect(r.raw.toString("latin1").replace(/\r\n/g, "")).not.toMatch(/[\r\n]/)
    expect(await c.command("NOOP")).toBe("+OK")
  })
})

describe("sizes (2.1.4, 2.1.5)", { timeout: 30_000 }, () => {
  it("exact-rfc822-size on: LIST n equals the octets RETR sends (CRLF, before stuffing, without .CRLF); STAT is the sum", async () => {
    const c = await session(exact)
    const list = await c.multi("LIST")
    let sum = 0
    for (let n = 1; n <= messages.length; n++) {
      const wire = Buffer.byteLength(toWire(messages[n - 1]!.text))
      expect(list.lines[n - 1], messages[n - 1]!.name).toBe(`${n} ${wire}`)
      expect(await c.command(`LIST ${n}`)).toBe(`+OK ${n} ${wire}`)
      // Measure what RETR actually sent, un-stuffed.
      const r = await c.multi(`RETR ${n}`)
      const unstuffed = r.lines.map((l) => (l.startsWith(".") ? l.slice(1) : l) + "\r\n").join("")
      expect(Buffer.byteLength(unstuffed, "latin1"), messages[n - 1]!.name).toBe(wire)
      sum += wire
    }
    expect(await c.command("STAT")).toBe(`+OK ${messages.length} ${sum}`)
  })

  it("exact-rfc822-size off: LIST n is the storage size (the octets as delivered); STAT is the sum", async () => {
    const c = await session(storage)
    const list = await c.multi("LIST")
    let sum = 0
    for (let n = 1; n <= messages.length; n++) {
      const stored = Buffer.byteLength(messages[n - 1]!.text)
      expect(list.lines[n - 1], messages[n - 1]!.name).toBe(`${n} ${stored}`)
      expect(await c.command(`LIST ${n}`)).toBe(`+OK ${n} ${stored}`)
      sum += stored
    }
    expect(await c.command("STAT")).toBe(`+OK ${messages.length} ${sum}`)
    // The bare-LF message really differs between the two settings.
    expect(Buffer.byteLength(messages[0]!.text)).not.toBe(Buffer.byteLength(toWire(messages[0]!.text)))
  })

  it("exact-rfc822-size off still sends the same wire text", async () => {
    const c = await session(storage)
    for (const n of [1, 2, 4]) {
      const r = await c.multi(`RETR ${n}`)
      expect(r.raw.toString("latin1")).toBe(expectedRaw(messages[n - 1]!.text))
    }
  })
})

describe("TOP (C0006, V0007)", { timeout: 30_000 }, () => {
  it("TOP n 0 sends the header block and the blank line, nothing more", async () => {
    const c = await session(exact)
    for (const n of [1, 2, 3, 4, 6]) {
      const r = await c.multi(`TOP ${n} 0`)
      expect(r.status).toMatch(/^\+OK/)
      expect(r.raw.toString("latin1"), messages[n - 1]!.name).toBe(expectedTop(messages[n - 1]!.text, 0))
    }
  })

  it("TOP n k adds exactly k body lines, dot-stuffed like RETR", async () => {
    const c = await session(exact)
    const cases: ReadonlyArray<readonly [number, number]> = [[1, 1], [1, 2], [1, 3], [2, 1], [3, 2], [4, 2], [6, 100]]
    for (const [n, k] of cases) {
      const r = await c.multi(`TOP ${n} ${k}`)
      expect(r.raw.toString("latin1"), `TOP ${n} ${k}`).toBe(expectedTop(messages[n - 1]!.text, k))
    }
  })

  it("TOP n k with k beyond the body sends the whole message, ending with exactly CRLF.CRLF", async () => {
    const c = await session(exact)
    for (const n of [1, 2, 3, 8]) {
      const r = await c.multi(`TOP ${n} 999`)
      expect(r.raw.toString("latin1"), messages[n - 1]!.name).toBe(expectedRaw(messages[n - 1]!.text))
    }
  })

  it("TOP on a message without a body sends its headers", async () => {
    const c = await session(exact)
    const r = await c.multi("TOP 7 0")
    expect(r.raw.toString("latin1")).toBe(expectedRaw(messages[6]!.text))
  })
})
