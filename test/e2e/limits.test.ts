// Connection limits and login throttling on the wire (Exchange's MaxConnectionFromSingleIP and
// MaxConnectionsPerUser; Dovecot-style failed-login delay). PROFILE rows: V0001 (RFC 2449/3206 codes [SYS/TEMP],
// [IN-USE] where they apply), C0005 (the server may close after a negative response), V0009 (a wrong user and a
// wrong password cost the same, also in delay).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { Pop3Client, shutdown, startServer, type Server } from "../helpers/server.ts"

const user = "limited"
const password = "limit pw"
let server: Server
const open: Array<Pop3Client> = []

const connect = async (opts: { greeting?: boolean } = {}) => {
  const c = await Pop3Client.connect(server.tlsPort, { tls: true, ...opts })
  open.push(c)
  return c
}

/** Drops every connection a test opened (whatever happened), then lets the server release their slots. */
const dropAll = async () => {
  for (const c of open.splice(0)) c.destroy()
  await new Promise((r) => setTimeout(r, 500))
}

beforeAll(async () => {
  server = await startServer({
    keepLimits: true,
    args: [
      "--max-connections-per-address", "4",
      "--max-sessions-per-user", "2",
      "--login-delay", "1",
      "--login-delay-max", "2",
      "--login-delay-decay", "60"
    ]
  })
  await server.addUser(user, password)
  await server.addUser("other", password)
}, 90_000)

afterAll(async () => {
  for (const c of open) c.destroy()
  await shutdown(server)
}, 30_000)

describe("connection and session limits", { timeout: 30_000 }, () => {
  afterEach(dropAll, 10_000)

  it("one connection over max-connections-per-address gets -ERR [SYS/TEMP] and is closed; a freed slot is reusable", async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => connect()))
    for (const c of held) expect(c.greeting).toMatch(/^\+OK/)
    const fifth = await connect({ greeting: false })
    const line = await fifth.readLine(10_000)
    expect(line).toMatch(/^-ERR \[SYS\/TEMP\] \S/)
    expect(await fifth.readToEnd(5_000)).toBe("")
    await held[0]!.quit()
    await new Promise((r) => setTimeout(r, 300))
    const again = await connect()
    expect(again.greeting).toMatch(/^\+OK/)
    for (const c of [...held, again]) await c.quit()
  })

  it("one login over max-sessions-per-user gets -ERR [IN-USE]; other users are not affected", async () => {
    const a = await connect()
    const b = await connect()
    expect(await a.login(user, password)).toMatch(/^\+OK/)
    expect(await b.login(user, password)).toMatch(/^\+OK/)
    const c = await connect()
    const r = await c.login(user, password)
    expect(r).toMatch(/^-ERR \[IN-USE\] \S/)
    const d = await connect()
    expect(await d.login("other", password)).toMatch(/^\+OK/)
    await d.quit()
    await a.quit()
    await new Promise((res) => setTimeout(res, 300))
    if (!c.closed) {
      expect(await c.login(user, password)).toMatch(/^\+OK/)
      await c.quit()
    }
    await b.quit()
  })
})

describe("failed-login delay", { timeout: 30_000 }, () => {
  afterEach(dropAll, 10_000)

  it("after a failed login the next attempt from the same address is answered only after the delay", async () => {
    const c = await connect()
    await c.command("USER nobody-at-all")
    const t0 = performance.now()
    expect(await c.command("PASS wrong")).toMatch(/^-ERR \[AUTH\]/)
    const first = performance.now() - t0
    await c.command("USER nobody-at-all")
    const t1 = performance.now()
    expect(await c.command("PASS wrong again")).toMatch(/^-ERR/)
    const second = performance.now() - t1
    expect(second).toBeGreaterThan(800)
    expect(second).toBeGreaterThan(first)
    await c.quit()
  })

  it("the delay is the same for an unknown user and a wrong password (V0009)", async () => {
    // Both attempts come after earlier failures from this address, so both wait the (capped) delay.
    const time = async (name: string) => {
      const c = await connect()
      await c.command(`USER ${name}`)
      const t = performance.now()
      const r = await c.command("PASS still wrong")
      const ms = performance.now() - t
      await c.quit()
      return { r, ms }
    }
    const unknown = await time("ghost-user")
    const known = await time(user)
    expect(unknown.r).toBe(known.r)
    expect(unknown.ms).toBeGreaterThan(800)
    expect(known.ms).toBeGreaterThan(800)
  })
})
