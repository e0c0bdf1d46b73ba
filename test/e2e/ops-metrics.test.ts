// Metrics and health as an operator sees them: a real `pop3d serve` with --metrics-listen, a scripted set of
// sessions over TCP and TLS (logins by USER/PASS and AUTH PLAIN, good and bad, a throttled login, a refused
// connection, an idle timeout, a dropped connection), then /metrics scraped over HTTP, parsed by a strict
// Prometheus text parser, and every counter compared with its exact expected value. /healthz answers 200 while
// the listeners serve and the store root is readable, 503 when it is not.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Prom from "../helpers/prometheus.ts"
import { freePort, makeMessage, Pop3Client, shutdown, startServer, type Server } from "../helpers/server.ts"

const user = "alice"
const password = "s3cret pass"
let server: Server
let metricsPort: number

const http = async (path: string, method = "GET") => {
  const res = await fetch(`http://127.0.0.1:${metricsPort}${path}`, { method, signal: AbortSignal.timeout(10_000) })
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() }
}

const scrape = async () => {
  const r = await http("/metrics")
  expect(r.status).toBe(200)
  expect(r.type).toBe("text/plain; version=0.0.4; charset=utf-8")
  return Prom.parse(r.body)
}

const plain = (s: string) => Buffer.from(s, "utf8").toString("base64")

/** Waits until the server has counted every connection as ended (sessions end after the client saw QUIT's reply). */
const settled = async (closedExpected: number) => {
  const deadline = Date.now() + 15_000
  for (;;) {
    const m = await scrape()
    const open = Prom.total(m, "pop3d_connections_open")
    const closed = Prom.total(m, "pop3d_connections_closed_total")
    if (open === 0 && closed === closedExpected) return m
    if (Date.now() > deadline) throw new Error(`metrics did not settle: open=${open} closed=${closed}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

beforeAll(async () => {
  metricsPort = await freePort()
  server = await startServer({
    args: [
      "--plaintext", "allowed",
      "--metrics-listen", `127.0.0.1:${metricsPort}`,
      "--unauthenticated-timeout", "2",
      "--max-connections-per-address", "2",
      "--login-delay", "1",
      "--login-delay-max", "1"
    ]
  })
  await server.addUser(user, password)
  await server.deliver(user, makeMessage("one", "first message"))
  await server.deliver(user, makeMessage("two", "second message"))
}, 90_000)

afterAll(async () => {
  await shutdown(server)
}, 30_000)

describe("metrics endpoint", { timeout: 60_000 }, () => {
  it("before any session: every series is there at 0, and the text parses", async () => {
    const m = await scrape()
    expect(Prom.total(m, "pop3d_connections_total")).toBe(0)
    expect(Prom.value(m, "pop3d_logins_total", { mechanism: "GSSAPI", result: "ok" })).toBe(0)
    expect(Prom.value(m, "pop3d_commands_total", { verb: "RETR", result: "err" })).toBe(0)
    expect(m.get("pop3d_session_duration_seconds")?.type).toBe("histogram")
    expect(m.get("pop3d_connections_open")?.type).toBe("gauge")
    for (const f of m.values()) expect(f.help, f.name).toBeTypeOf("string")
  })

  it("after a scripted set of sessions, every counter has its exact value", async () => {
    // A: USER/PASS on the plain port; STAT LIST RETR DELE QUIT.
    const a = await Pop3Client.connect(server.port)
    expect(await a.login(user, password)).toMatch(/^\+OK/)
    expect(await a.command("STAT")).toMatch(/^\+OK 2 /)
    expect((await a.multi("LIST")).lines).toHaveLength(2)
    expect((await a.multi("RETR 1")).status).toMatch(/^\+OK/)
    expect(await a.command("DELE 2")).toMatch(/^\+OK/)
    expect(await a.quit()).toMatch(/^\+OK/)

    // B: AUTH PLAIN with an initial response over implicit TLS; UIDL, a RETR of no message, an unknown verb.
    const b = await Pop3Client.connect(server.tlsPort, { tls: true })
    expect(await b.command(`AUTH PLAIN ${plain(`\0${user}\0${password}`)}`)).toMatch(/^\+OK/)
    expect((await b.multi("UIDL")).lines).toHaveLength(1)
    expect(await b.command("RETR 9")).toMatch(/^-ERR/)
    expect(await b.command("FOO")).toMatch(/^-ERR/)
    expect(await b.quit()).toMatch(/^\+OK/)

    // C: a wrong password, then the right one: the second attempt waits for the failed-login delay (throttled).
    const c = await Pop3Client.connect(server.port)
    expect(await c.login(user, "wrong")).toMatch(/^-ERR \[AUTH\]/)
    const before = Date.now()
    expect(await c.login(user, password)).toMatch(/^\+OK/)
    expect(Date.now() - before).toBeGreaterThanOrEqual(900)
    expect(await c.quit()).toMatch(/^\+OK/)

    // E: AUTH PLAIN without initial response over TLS, wrong password.
    const e = await Pop3Client.connect(server.tlsPort, { tls: true })
    expect(await e.command("AUTH PLAIN")).toBe("+ ")
    expect(await e.command(plain(`\0${user}\0nope`))).toMatch(/^-ERR \[AUTH\]/)
    expect(await e.quit()).toMatch(/^\+OK/)

    // D: a client that hangs up without QUIT.
    const d = await Pop3Client.connect(server.port)
    d.destroy()
    await settled(5) // A B C E D: D's slot is free before G counts connections from this address

    // G: two connections fill max-connections-per-address; the third is refused; then both hang up.
    const g1 = await Pop3Client.connect(server.port)
    const g2 = await Pop3Client.connect(server.port)
    const g3 = await Pop3Client.connect(server.port)
    expect(g3.greeting).toMatch(/^-ERR \[SYS\/TEMP\]/)
    g3.destroy()
    g1.destroy()
    g2.destroy()
    await settled(7)

    // F: an idle connection before login, closed by the 2 s unauthenticated timeout.
    const f = await Pop3Client.connect(server.port)
    expect(await f.readToEnd(10_000)).toMatch(/^-ERR Disconnected for inactivity/)

    const m = await settled(8)
    const v = (name: string, labels: Record<string, string> = {}) => Prom.value(m, name, labels)

    expect(v("pop3d_connections_total", { listener: "pop3" })).toBe(6) // A C D G1 G2 F
    expect(v("pop3d_connections_total", { listener: "pop3s" })).toBe(2) // B E
    expect(v("pop3d_connections_open", { listener: "pop3" })).toBe(0)
    expect(v("pop3d_connections_refused_total", { listener: "pop3", reason: "ConnectionsFromAddress" })).toBe(1)
    expect(Prom.total(m, "pop3d_connections_refused_total")).toBe(1)
    expect(v("pop3d_connections_closed_total", { listener: "pop3", reason: "quit" })).toBe(2)
    expect(v("pop3d_connections_closed_total", { listener: "pop3", reason: "client-closed" })).toBe(3)
    expect(v("pop3d_connections_closed_total", { listener: "pop3", reason: "timeout" })).toBe(1)
    expect(v("pop3d_connections_closed_total", { listener: "pop3s", reason: "quit" })).toBe(2)
    expect(Prom.total(m, "pop3d_connections_closed_total")).toBe(8)

    expect(v("pop3d_logins_total", { mechanism: "USER", result: "ok" })).toBe(2)
    expect(v("pop3d_logins_total", { mechanism: "USER", result: "failed" })).toBe(1)
    expect(v("pop3d_logins_total", { mechanism: "PLAIN", result: "ok" })).toBe(1)
    expect(v("pop3d_logins_total", { mechanism: "PLAIN", result: "failed" })).toBe(1)
    expect(Prom.total(m, "pop3d_logins_total")).toBe(5)
    expect(v("pop3d_throttled_logins_total")).toBe(1)
    expect(v("pop3d_timeouts_total", { state: "authorization" })).toBe(1)
    expect(v("pop3d_timeouts_total", { state: "transaction" })).toBe(0)
    expect(Prom.total(m, "pop3d_store_errors_total")).toBe(0)

    const commands: Record<string, number> = {
      "USER/ok": 3, "PASS/ok": 2, "PASS/err": 1, "STAT/ok": 1, "LIST/ok": 1, "RETR/ok": 1, "RETR/err": 1,
      "DELE/ok": 1, "QUIT/ok": 4, "AUTH/ok": 2, "UIDL/ok": 1, "UNKNOWN/err": 1
    }
    for (const s of m.get("pop3d_commands_total")!.samples) {
      expect(s.value, `${s.labels.verb}/${s.labels.result}`).toBe(commands[`${s.labels.verb}/${s.labels.result}`] ?? 0)
    }
    // Every command was timed once, under its verb.
    for (const verb of ["USER", "PASS", "QUIT", "AUTH", "RETR", "UNKNOWN"]) {
      const count = (commands[`${verb}/ok`] ?? 0) + (commands[`${verb}/err`] ?? 0)
      expect(v("pop3d_command_duration_seconds_count", { verb }), verb).toBe(count)
    }
    expect(v("pop3d_command_duration_seconds_sum", { verb: "PASS" })).toBeGreaterThan(0.9) // the throttled one
    expect(v("pop3d_session_duration_seconds_count", { listener: "pop3" })).toBe(6)
    expect(v("pop3d_session_duration_seconds_count", { listener: "pop3s" })).toBe(2)
    expect(v("pop3d_session_duration_seconds_bucket", { listener: "pop3", le: "0.01" })).toBeLessThanOrEqual(6)

    // Bytes sent: exactly what the session-end log lines report, per listener.
    const sent = { pop3: 0, pop3s: 0 } as Record<string, number>
    for (const line of server.stdout().split("\n")) {
      const end = /message="session end" listener=(\S+) .*bytesOut=(\d+)/.exec(line)
      if (end !== null) sent[end[1]!] = (sent[end[1]!] ?? 0) + Number(end[2])
    }
    expect(sent.pop3).toBeGreaterThan(0)
    expect(v("pop3d_sent_bytes_total", { listener: "pop3" })).toBe(sent.pop3)
    expect(v("pop3d_sent_bytes_total", { listener: "pop3s" })).toBe(sent.pop3s)
  })

  it("/healthz: 200 while serving with a readable store, 503 naming the store when it is gone", async () => {
    const ok = await http("/healthz")
    expect(ok).toMatchObject({ status: 200, body: "ok\n" })
    const root = Path.join(server.dataDir, "maildir")
    Fs.renameSync(root, `${root}.away`)
    try {
      const bad = await http("/healthz")
      expect(bad.status).toBe(503)
      expect(bad.body).toContain(`store root ${root} is not readable`)
    } finally {
      Fs.renameSync(`${root}.away`, root)
    }
    expect((await http("/healthz")).status).toBe(200)
    expect((await http("/healthz", "HEAD")).status).toBe(200)
  })

  it("anything else: 404, and 405 for methods other than GET and HEAD", async () => {
    expect((await http("/")).status).toBe(404)
    expect((await http("/metrics", "POST")).status).toBe(405)
  })
})
