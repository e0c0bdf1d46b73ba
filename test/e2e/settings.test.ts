// Settings as `pop3d serve` reads them: flags, environment variables and a config file (flags > environment >
// config file > defaults), validation at start-up, and the effect of a few on the wire. PROFILE rows: 2.1.2
// (maxCommandSize range 40..1024 refused outside with a clear error; below 255 starts with a warning; the limit
// applies CRLF included), E0001 (both ports are settings; either listener can be turned off), ARCHITECTURE
// "invalid settings stop start-up with a message that names the setting".
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  freePort,
  makeTempDir,
  Pop3Client,
  removeDir,
  runCli,
  shutdown,
  startServer,
  type Server
} from "../helpers/server.ts"

const servers: Array<Server> = []
const dirs: Array<string> = []
const open: Array<Pop3Client> = []

const tempDir = () => {
  const d = makeTempDir()
  dirs.push(d)
  return d
}
const start = async (...args: Parameters<typeof startServer>) => {
  const s = await startServer(...args)
  servers.push(s)
  return s
}
const connect = async (port: number, tls = false) => {
  const c = await Pop3Client.connect(port, tls ? { tls: true } : {})
  open.push(c)
  return c
}

/** Checks that lines of exactly `max` octets (CRLF included) pass and `max + 1` get -ERR, before login. */
const checkLimit = async (c: Pop3Client, max: number) => {
  const exact = "USER " + "m".repeat(max - 2 - 5)
  expect(Buffer.byteLength(exact + "\r\n")).toBe(max)
  expect(await c.command(exact), `a ${max}-octet line`).toMatch(/^\+OK/)
  expect(await c.command(exact + "m"), `a ${max + 1}-octet line`).toMatch(/^-ERR \S/)
  expect(await c.command("NOOP")).toBe("+OK")
}

afterAll(async () => {
  for (const c of open) c.destroy()
  await Promise.all(servers.map(shutdown))
  for (const d of dirs) removeDir(d)
}, 30_000)

describe("invalid settings stop start-up with a message naming the setting", { timeout: 90_000 }, () => {
  const cases: ReadonlyArray<{ name: string; args: Array<string>; env?: Record<string, string>; names: RegExp }> = [
    { name: "--max-command-size 30", args: ["--max-command-size", "30"], names: /max-command-size/ },
    { name: "--max-command-size 2000", args: ["--max-command-size", "2000"], names: /max-command-size/ },
    { name: "--max-command-size abc", args: ["--max-command-size", "abc"], names: /max-command-size/ },
    { name: "--plaintext sometimes", args: ["--plaintext", "sometimes"], names: /plaintext/ },
    { name: "--exact-rfc822-size maybe", args: ["--exact-rfc822-size", "maybe"], names: /exact-rfc822-size/ },
    { name: "--port 70000", args: ["--port", "70000"], names: /port/ },
    { name: "--unauthenticated-timeout 0", args: ["--unauthenticated-timeout", "0"], names: /unauthenticated-timeout/ },
    { name: "--max-auth-failures 0", args: ["--max-auth-failures", "0"], names: /max-auth-failures/ },
    { name: "POP3D_MAX_COMMAND_SIZE=30", args: [], env: { POP3D_MAX_COMMAND_SIZE: "30" }, names: /POP3D_MAX_COMMAND_SIZE/ }
  ]

  it.each(cases)("$name", async ({ args, env, names }) => {
    const dir = tempDir()
    const [p, q] = [await freePort(), await freePort()]
    const r = await runCli(["serve", "--data", Path.join(dir, "data"), "--port", String(p), "--tls-port", String(q), ...args], {
      timeoutMs: 60_000,
      ...(env === undefined ? {} : { env })
    })
    expect(r.code).not.toBe(0)
    expect(r.code).not.toBeNull()
    expect(r.stdout + r.stderr).toMatch(names)
    expect(r.stdout + r.stderr).not.toMatch(/message=listening/)
  })

  it("a config file with an invalid value names the key and the file", async () => {
    const dir = tempDir()
    const conf = Path.join(dir, "bad.conf")
    Fs.writeFileSync(conf, "# settings\nmax-command-size = 5000\n")
    const r = await runCli(["serve", "--data", Path.join(dir, "data"), "--config", conf], { timeoutMs: 60_000 })
    expect(r.code).not.toBe(0)
    expect(r.stdout + r.stderr).toMatch(/max-command-size/)
    expect(r.stdout + r.stderr).toContain("bad.conf")
  })

  it("a config file with an unknown key is refused, naming it", async () => {
    const dir = tempDir()
    const conf = Path.join(dir, "unknown.conf")
    Fs.writeFileSync(conf, "no-such-setting = 1\n")
    const r = await runCli(["serve", "--data", Path.join(dir, "data"), "--config", conf], { timeoutMs: 60_000 })
    expect(r.code).not.toBe(0)
    expect(r.stdout + r.stderr).toMatch(/no-such-setting/)
  })

  it("a missing config file named with --config is refused", async () => {
    const dir = tempDir()
    const r = await runCli(["serve", "--data", Path.join(dir, "data"), "--config", Path.join(dir, "missing.conf")], {
      timeoutMs: 60_000
    })
    expect(r.code).not.toBe(0)
    expect(r.stdout + r.stderr).toMatch(/missing\.conf/)
  })
})

describe("max-command-size (2.1.2)", { timeout: 60_000 }, () => {
  let small: Server
  beforeAll(async () => {
    small = await start({ args: ["--plaintext", "allowed", "--max-command-size", "100"] })
  }, 60_000)

  it("100 starts, but warns at start-up that RFC 2449 wants 255", async () => {
    const out = small.stdout() + small.stderr()
    expect(out).toMatch(/max-command-size/)
    expect(out).toMatch(/255/)
  })

  it("a 100-octet line is accepted, 101 gets -ERR, the session goes on", async () => {
    await checkLimit(await connect(small.port), 100)
  })

  it("the limits 40 and 1024 themselves are accepted", async () => {
    const [lo, hi] = await Promise.all([
      start({ args: ["--max-command-size", "40"] }),
      start({ args: ["--max-command-size", "1024"] })
    ])
    await checkLimit(await connect(lo.tlsPort, true), 40)
    await checkLimit(await connect(hi.tlsPort, true), 1024)
  }, 90_000)
})

describe("where settings come from", { timeout: 90_000 }, () => {
  it("a config file (--config) is honoured, and flags override it", async () => {
    const dir = tempDir()
    const port = await freePort()
    const conf = Path.join(dir, "pop3d.conf")
    Fs.writeFileSync(conf, [
      "# pop3d settings",
      `port = ${port}`,
      "tls-port = 0   # implicit TLS off",
      "plaintext = never",
      "max-command-size = 300",
      ""
    ].join("\n"))
    const s = await start({
      dataDir: Path.join(dir, "data"),
      portsVia: "none",
      port,
      noTls: true,
      args: ["--config", conf, "--plaintext", "allowed"]
    })
    expect(s.stdout()).toMatch(new RegExp(`message=listening listener=pop3 address=127\\.0\\.0\\.1:${port}`))
    expect(s.stdout()).not.toMatch(/listener=pop3s/)
    const c = await connect(port)
    await checkLimit(c, 300) // from the file; checkLimit uses USER, so --plaintext allowed beat "never"
  })

  it("<data>/pop3d.conf is read without --config", async () => {
    const dir = tempDir()
    const data = Path.join(dir, "data")
    Fs.mkdirSync(data, { recursive: true })
    Fs.writeFileSync(Path.join(data, "pop3d.conf"), "max-command-size = 200\nplaintext = allowed\n")
    const s = await start({ dataDir: data })
    await checkLimit(await connect(s.port), 200)
  })

  it("environment variables are honoured (POP3D_PORT), beat the config file, and flags beat them", async () => {
    const dir = tempDir()
    const [port, other] = [await freePort(), await freePort()]
    const conf = Path.join(dir, "env.conf")
    Fs.writeFileSync(conf, `port = ${other}\nmax-command-size = 400\n`)
    const s = await start({
      dataDir: Path.join(dir, "data"),
      portsVia: "none",
      port,
      noTls: true,
      env: {
        POP3D_PORT: String(port),
        POP3D_TLS_PORT: "0",
        POP3D_PLAINTEXT: "allowed",
        POP3D_MAX_COMMAND_SIZE: "300",
        POP3D_CONFIG: conf
      },
      args: ["--max-command-size", "250"]
    })
    expect(s.stdout()).toMatch(new RegExp(`listener=pop3 address=127\\.0\\.0\\.1:${port}`))
    await expect(Pop3Client.connect(other, { timeoutMs: 2_000 })).rejects.toThrow()
    await checkLimit(await connect(port), 250)
  })

  it("--port 0 turns the plain listener off; only implicit TLS listens", async () => {
    const s = await start({ noPlain: true })
    expect(s.stdout()).toMatch(/listener=pop3s/)
    expect(s.stdout()).not.toMatch(/listener=pop3 /)
    const c = await connect(s.tlsPort, true)
    expect(c.greeting).toMatch(/^\+OK/)
  })
})
