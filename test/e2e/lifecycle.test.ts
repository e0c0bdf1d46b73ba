// Inactivity timers in real time (short settings) and shutdown by SIGTERM. PROFILE rows: V0002 (two inactivity
// timers, any command resets them), V0003 (on expiry a response saying the connection is being closed, then close;
// no UPDATE), V0006 (a connection that ends by timeout or shutdown removes nothing), corners "the inactivity timer
// restarts after every command, also while a long RETR is being written, and after every SASL continuation line",
// V0001 ([SYS/TEMP] on shutdown), README "Stop it with SIGTERM: ... exits 0".
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loginPlain, Pop3Client, shutdown, startServer, type Server } from "../helpers/server.ts"

const user = "timer"
const password = "timer pass"
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let timed: Server
const open: Array<Pop3Client> = []
const track = (c: Pop3Client) => {
  open.push(c)
  return c
}

/** About 12 MB: well over what loopback socket buffers absorb (about 4 MB here), so the server's write of it
 * lasts as long as the client takes to read it. */
const largeLines = 150_000
const largeMessage = (() => {
  const lines = ["Subject: large", ""]
  for (let i = 0; i < largeLines; i++) lines.push(`${i} ` + "l".repeat(70))
  return lines.join("\n") + "\n"
})()

const stat = async (s: Server): Promise<string> => {
  const c = track(await loginPlain(s.port, user, password))
  const r = await c.command("STAT")
  await c.quit()
  return r
}

beforeAll(async () => {
  timed = await startServer({
    args: ["--plaintext", "allowed", "--unauthenticated-timeout", "2", "--authenticated-timeout", "4"]
  })
  await timed.addUser(user, password)
  await timed.deliver(user, "Subject: keep me\n\nbody\n")
  await timed.deliver(user, largeMessage)
}, 120_000)

afterAll(async () => {
  for (const c of open) c.destroy()
  await shutdown(timed)
}, 30_000)

describe("inactivity timers (V0002, V0003)", { timeout: 25_000 }, () => {
  it("unauthenticated: after ~2 s of silence a -ERR line saying so, then EOF", async () => {
    const c = track(await Pop3Client.connect(timed.port))
    const t0 = Date.now()
    const line = await c.readLine(12_000)
    const elapsed = Date.now() - t0
    expect(line).toMatch(/^-ERR \S/)
    expect(line).toMatch(/clos|inactiv|timeout|idle/i)
    expect(elapsed).toBeGreaterThanOrEqual(1_500)
    expect(elapsed).toBeLessThan(8_000)
    expect(await c.readToEnd(5_000)).toBe("")
    expect(c.closed).toBe(true)
  })

  it("any command resets the timer: NOOP every 0.8 s keeps an unauthenticated session open for 5 s", async () => {
    const c = track(await Pop3Client.connect(timed.port))
    const t0 = Date.now()
    while (Date.now() - t0 < 5_000) {
      await sleep(800)
      expect(await c.command("NOOP")).toBe("+OK")
    }
    expect(await c.command("CAPA")).toMatch(/^\+OK/)
  })

  it("a pending SASL continuation is covered by the unauthenticated timer", async () => {
    const c = track(await Pop3Client.connect(timed.port))
    expect(await c.command("AUTH PLAIN")).toBe("+ ")
    const line = await c.readLine(12_000)
    expect(line).toMatch(/^-ERR \S/)
    expect(await c.readToEnd(5_000)).toBe("")
  })

  it("after login the authenticated timer applies; on expiry -ERR + close and a DELE'd message is NOT removed", async () => {
    const before = await stat(timed)
    const c = track(await loginPlain(timed.port, user, password))
    await sleep(3_000) // longer than the unauthenticated timeout (2 s), shorter than the authenticated one (4 s)
    expect(await c.command("NOOP")).toBe("+OK")
    expect(await c.command("DELE 1")).toMatch(/^\+OK/)
    const t0 = Date.now()
    const line = await c.readLine(15_000)
    const elapsed = Date.now() - t0
    expect(line).toMatch(/^-ERR \S/)
    expect(elapsed).toBeGreaterThanOrEqual(3_000)
    expect(elapsed).toBeLessThan(10_000)
    expect(await c.readToEnd(5_000)).toBe("")
    expect(await stat(timed)).toBe(before)
  })

  it("a long RETR read slowly (6 s in all, longer than the 4 s timeout) completes, and the session stays usable", async () => {
    const c = track(await loginPlain(timed.port, user, password))
    c.send("RETR 2")
    const t0 = Date.now()
    const reading = c.readMulti(30_000)
    // Read in short bursts about once a second: the server's write is blocked most of the time, but it always
    // makes progress within the timeout.
    while (Date.now() - t0 < 6_000) {
      c.pauseReading()
      await sleep(1_000)
      c.resumeReading()
      await sleep(10)
    }
    c.resumeReading()
    const r = await reading
    expect(Date.now() - t0).toBeGreaterThan(4_000)
    expect(r.status).toMatch(/^\+OK/)
    expect(r.lines.length).toBe(largeLines + 2)
    expect(await c.command("NOOP")).toBe("+OK")
  })

  it("a client that stops reading a long RETR for longer than the timeout is disconnected; its DELE is not applied", async () => {
    const before = await stat(timed)
    const c = track(await loginPlain(timed.port, user, password))
    expect(await c.command("DELE 1")).toMatch(/^\+OK/)
    c.send("RETR 2")
    c.pauseReading()
    await sleep(7_000)
    c.resumeReading()
    await expect(c.readMulti(10_000)).rejects.toThrow(/closed/)
    expect(await stat(timed)).toBe(before)
  })
})

describe("SIGTERM (V0003, V0006)", { timeout: 60_000 }, () => {
  let s: Server
  let uid = 0
  beforeAll(async () => {
    s = await startServer({ args: ["--plaintext", "allowed"] })
    await s.addUser(user, password)
    uid = await s.deliver(user, "Subject: survive\n\nshutdown\n")
  }, 120_000)
  afterAll(() => shutdown(s), 30_000)

  it("every client gets -ERR [SYS/TEMP] then EOF; exit code 0 within 5 s", async () => {
    const loggedIn = track(await loginPlain(s.port, user, password))
    expect(await loggedIn.command("DELE 1")).toMatch(/^\+OK/)
    const waiting = track(await Pop3Client.connect(s.port))
    const overTls = track(await Pop3Client.connect(s.tlsPort, { tls: true, ca: s.certPem }))
    const t0 = Date.now()
    s.process.kill("SIGTERM")
    for (const c of [loggedIn, waiting, overTls]) {
      const line = await c.readLine(8_000)
      expect(line).toMatch(/^-ERR \[SYS\/TEMP\] \S/)
      expect(await c.readToEnd(5_000)).toBe("")
    }
    const exit = await Promise.race([s.exited, sleep(10_000).then(() => undefined)])
    expect(exit, "pop3d still running 10 s after SIGTERM").toBeDefined()
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(exit!.code).toBe(0)
  })

  it("the message DELE'd before SIGTERM is still there after a restart", async () => {
    await s.exited
    const again = await startServer({ dataDir: s.dataDir, args: ["--plaintext", "allowed"] })
    try {
      const c = track(await loginPlain(again.port, user, password))
      expect(await c.command("UIDL 1")).toBe(`+OK 1 ${uid}`)
      await c.quit()
    } finally {
      await shutdown(again)
    }
  }, 90_000)

  it("SIGTERM with no client: exit code 0 and the listeners close", async () => {
    const s = await startServer()
    try {
      const exit = await s.stop("SIGTERM", 10_000)
      expect(exit.code).toBe(0)
      await expect(Pop3Client.connect(s.port, { timeoutMs: 3_000 })).rejects.toThrow()
    } finally {
      await shutdown(s)
    }
  })

  it("SIGINT (Ctrl-C) also shuts down cleanly with exit code 0", async () => {
    const s = await startServer()
    try {
      const c = track(await Pop3Client.connect(s.port))
      const exit = s.stop("SIGINT", 10_000)
      expect(await c.readLine(8_000)).toMatch(/^-ERR \S/)
      expect((await exit).code).toBe(0)
    } finally {
      await shutdown(s)
    }
  })
})
