// The `pop3d` command line as README documents it: user add/passwd/del/list, deliver (stdin and FILE, UIDs,
// sysexits codes), and the embedded default made on first start. Users and messages are checked through a running
// server. PROFILE rows: C0007 (deliver prints increasing UIDs), README "The command line", "Two commands".
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { curl } from "../helpers/clients.ts"
import {
  loginTls,
  makeTempDir,
  Pop3Client,
  removeDir,
  runCli,
  shutdown,
  startServer,
  toWire,
  type Server
} from "../helpers/server.ts"

let server: Server
const dirs: Array<string> = []
const open: Array<Pop3Client> = []

const tempDir = () => {
  const d = makeTempDir()
  dirs.push(d)
  return d
}

const canLogin = async (user: string, password: string): Promise<boolean> => {
  const c = await Pop3Client.connect(server.tlsPort, { tls: true })
  open.push(c)
  await c.command(`USER ${user}`)
  const r = await c.command(`PASS ${password}`)
  await c.quit()
  return r.startsWith("+OK")
}

/** Waits past the server's once-a-second users-file check, so a CLI change is seen by the next login. */
const settle = () => new Promise((r) => setTimeout(r, 1_100))

beforeAll(async () => {
  server = await startServer()
}, 60_000)

afterAll(async () => {
  for (const c of open) c.destroy()
  await shutdown(server)
  for (const d of dirs) removeDir(d)
}, 30_000)

describe("first start (README)", { timeout: 60_000 }, () => {
  it("made a certificate, a users file with demo, and demo's welcome message; demo's password works", async () => {
    expect(server.demoPassword).toBeDefined()
    expect(server.stdout()).toMatch(/created user "demo" with password "[^"]+"/)
    expect(Fs.existsSync(Path.join(server.dataDir, "tls", "cert.pem"))).toBe(true)
    expect(Fs.existsSync(Path.join(server.dataDir, "tls", "key.pem"))).toBe(true)
    expect(Fs.statSync(Path.join(server.dataDir, "tls", "key.pem")).mode & 0o077).toBe(0)
    expect(Fs.statSync(Path.join(server.dataDir, "users")).mode & 0o077).toBe(0)
    await settle() // see the next test for a login in the very first second
    const r = await curl(["--cacert", Path.join(server.dataDir, "tls", "cert.pem"), "--user", `demo:${server.demoPassword}`,
      `pop3s://127.0.0.1:${server.tlsPort}/1`])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.toString("utf8")).toMatch(/^Subject: Welcome to pop3d\r$/m)
  })

  it("demo can log in right after the first start (the users file was made after the directory was loaded)", async () => {
    const s = await startServer()
    try {
      const c = await loginTls(s.tlsPort, "demo", s.demoPassword!).catch((e: Error) => e)
      expect(c instanceof Error ? c.message : "logged in").toBe("logged in")
      if (!(c instanceof Error)) await c.quit()
    } finally {
      await shutdown(s)
    }
  }, 60_000)

  it("the password is printed only on the first start", async () => {
    const s = await startServer({ dataDir: server.dataDir })
    try {
      expect(s.stdout()).not.toMatch(/created user/)
      expect(s.stdout()).not.toContain(server.demoPassword!)
    } finally {
      await shutdown(s)
    }
  }, 60_000)
})

describe("pop3d user", { timeout: 120_000 }, () => {
  it("add (password on stdin, spaces kept), list (schemes, never secrets), passwd, del", async () => {
    const add = await server.cli(["user", "add", "dora", "--password-stdin"], "first secret pw\n")
    expect(add.code, add.stderr).toBe(0)
    expect(Fs.existsSync(Path.join(server.dataDir, "maildir", "dora"))).toBe(true)
    await settle()
    expect(await canLogin("dora", "first secret pw")).toBe(true)

    const list = await server.cli(["user", "list"])
    expect(list.code, list.stderr).toBe(0)
    const names = list.stdout.trim().split("\n").map((l) => l.split(/\s+/)[0])
    expect(names).toEqual(expect.arrayContaining(["demo", "dora"]))
    expect(list.stdout).not.toContain("first secret pw")
    expect(list.stdout).not.toContain(server.demoPassword!)
    // No hash material either: whatever follows the name is a scheme tag, not a secret.
    const users = Fs.readFileSync(Path.join(server.dataDir, "users"), "utf8")
    for (const line of users.split("\n").filter((l) => l.includes(":"))) {
      const secret = line.split(":")[1]!.replace(/^\{[^}]*\}/, "")
      expect(list.stdout).not.toContain(secret)
    }
    expect(users).not.toContain("first secret pw")

    const passwd = await server.cli(["user", "passwd", "dora", "--password-stdin"], "second pw")
    expect(passwd.code, passwd.stderr).toBe(0)
    await settle()
    expect(await canLogin("dora", "second pw")).toBe(true)
    expect(await canLogin("dora", "first secret pw")).toBe(false)

    const del = await server.cli(["user", "del", "dora"])
    expect(del.code, del.stderr).toBe(0)
    await settle()
    expect(await canLogin("dora", "second pw")).toBe(false)
    const after = await server.cli(["user", "list"])
    expect(after.stdout).not.toMatch(/^dora\s/m)
    // The Maildir stays.
    expect(Fs.existsSync(Path.join(server.dataDir, "maildir", "dora"))).toBe(true)
  })

  it("add of an existing user fails; passwd and del of an unknown user fail (67)", async () => {
    expect((await server.cli(["user", "add", "demo", "--password-stdin"], "x")).code).not.toBe(0)
    expect((await server.cli(["user", "passwd", "ghost", "--password-stdin"], "x")).code).toBe(67)
    expect((await server.cli(["user", "del", "ghost"])).code).toBe(67)
  })

  it("invalid names and an empty password are refused", async () => {
    for (const name of ["bad:name", "bad/name", "bad name"]) {
      const r = await server.cli(["user", "add", name, "--password-stdin"], "pw")
      expect(r.code, name).not.toBe(0)
    }
    expect((await server.cli(["user", "add", "emptypw", "--password-stdin"], "")).code).not.toBe(0)
  })

  it("user add works on a fresh --data folder (before the server ever ran there)", async () => {
    const data = Path.join(tempDir(), "data")
    const r = await runCli(["user", "add", "early", "--password-stdin", "--data", data], { input: "early pw" })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const list = await runCli(["user", "list", "--data", data])
    expect(list.stdout).toMatch(/^early\s/m)
    const d = await runCli(["deliver", "early", "--data", data], { input: "Subject: early\n\nx\n" })
    expect(d.code, d.stdout + d.stderr).toBe(0)
  })

  it("concurrent user add commands all take effect (no lost update of the users file)", async () => {
    const names = ["par1", "par2", "par3", "par4"]
    const results = await Promise.all(names.map((n) => server.cli(["user", "add", n, "--password-stdin"], `${n} pw`)))
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    const list = await server.cli(["user", "list"])
    for (const n of names) expect(list.stdout, n).toMatch(new RegExp(`^${n}\\s`, "m"))
  }, 120_000)
})

describe("pop3d deliver", { timeout: 90_000 }, () => {
  beforeAll(async () => {
    await server.addUser("erin", "erin pw")
  }, 90_000)

  it("from stdin and from a FILE; prints increasing UIDs; the messages arrive intact", async () => {
    const a = "Subject: from stdin\n\nstdin body\n"
    const b = "Subject: from file\r\n\r\nfile body\r\n"
    const file = Path.join(tempDir(), "b.eml")
    Fs.writeFileSync(file, b)
    const r1 = await server.cli(["deliver", "erin"], a)
    const r2 = await server.cli(["deliver", "erin", file])
    const r3 = await server.cli(["deliver", "erin"], a)
    for (const r of [r1, r2, r3]) {
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/^\d+\n$/)
    }
    const [u1, u2, u3] = [r1, r2, r3].map((r) => Number(r.stdout.trim()))
    expect(u2!).toBeGreaterThan(u1!)
    expect(u3!).toBeGreaterThan(u2!)
    const c = await loginTls(server.tlsPort, "erin", "erin pw")
    open.push(c)
    expect((await c.multi("UIDL")).lines).toEqual([`1 ${u1}`, `2 ${u2}`, `3 ${u3}`])
    expect((await c.multi("RETR 1")).raw.toString("latin1")).toBe(toWire(a) + ".\r\n")
    expect((await c.multi("RETR 2")).raw.toString("latin1")).toBe(toWire(b) + ".\r\n")
  })

  it("a large message (300 KB) from stdin, as an MTA pipes it", async () => {
    const lines = ["Subject: big via stdin", ""]
    for (let i = 0; i < 4000; i++) lines.push(`${i} ` + "s".repeat(70))
    const big = lines.join("\n") + "\n"
    const r = await server.cli(["deliver", "erin"], big)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^\d+\n$/)
  })

  it("a large message (300 KB) from a FILE", async () => {
    const lines = ["Subject: big via file", ""]
    for (let i = 0; i < 4000; i++) lines.push(`${i} ` + "f".repeat(70))
    const file = Path.join(tempDir(), "big.eml")
    Fs.writeFileSync(file, lines.join("\n") + "\n")
    const r = await server.cli(["deliver", "erin", file])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^\d+\n$/)
  })

  it("exit codes: unknown mailbox name 67 or a bad name, unreadable FILE 74", async () => {
    const bad = await server.cli(["deliver", "../etc"], "Subject: x\n\nx\n")
    expect(bad.code).toBe(67)
    const missing = await server.cli(["deliver", "erin", "/nonexistent/file.eml"])
    expect(missing.code).toBe(74)
  })
})
