// `pop3d deliver` and `pop3d mailbox stats` as an MTA and an operator run them (the real command line, one process
// per call): deliveries up to, at and over the quota with their sysexits status, per-user quota from the users
// file, the one warning per crossing, and the stats output.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const bin = Path.resolve(import.meta.dirname, "..", "src", "bin.ts")
let dir = ""
let data = ""

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const pop3d = (args: ReadonlyArray<string>, input = ""): Promise<Run> =>
  new Promise((resolve, reject) => {
    // V8's compile cache only speeds up start-up (every call loads Effect anew).
    const env: Record<string, string> = { NODE_COMPILE_CACHE: Path.join(Os.tmpdir(), "pop3d-e2e-compile-cache") }
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("POP3D_")) env[k] = v
    const child = spawn(process.execPath, [bin, ...args, "--data", data], { env, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(input)
  })

/** A message of exactly `size` octets. */
const message = (size: number, subject = "m"): string => {
  const head = `Subject: ${subject}\n\n`
  return head + "x".repeat(size - head.length - 1) + "\n"
}

const messageFiles = (user: string) =>
  ["new", "cur"].flatMap((d) => Fs.readdirSync(Path.join(data, "maildir", user, d)).map((n) => Path.join(data, "maildir", user, d, n)))

beforeAll(async () => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pop3d-quota-cli-"))
  data = Path.join(dir, "data")
  Fs.mkdirSync(Path.join(data, "maildir"), { recursive: true })
  for (const user of ["alice", "bob", "carol"]) {
    const r = await pop3d(["user", "add", user, "--password-stdin"], "pw\n")
    expect(r.code, r.stderr).toBe(0)
  }
  // bob has a quota of his own in the users file, as Dovecot writes it.
  const users = Path.join(data, "users")
  Fs.writeFileSync(users, Fs.readFileSync(users, "utf8").replace(/^(bob:[^\n]*)$/m, "$1::::::userdb_quota_rule=*:bytes=300"))
}, 120_000)

afterAll(() => {
  Fs.rmSync(dir, { recursive: true, force: true })
})

describe("pop3d deliver with a quota", { timeout: 120_000 }, () => {
  const quota = ["--quota", "1k", "--quota-warning-percent", "0"]

  it("up to and at the limit: delivered (0); over: refused with EX_CANTCREAT (73) and a clear message", async () => {
    expect((await pop3d(["deliver", "alice", ...quota], message(524))).code).toBe(0)
    const atLimit = await pop3d(["deliver", "alice", ...quota], message(500))
    expect(atLimit.code, atLimit.stderr).toBe(0)
    expect(atLimit.stdout).toBe("2\n")
    const over = await pop3d(["deliver", "alice", ...quota], message(20))
    expect(over.code).toBe(73)
    expect(over.stdout).toBe("")
    expect(over.stderr).toMatch(/^pop3d: mailbox "alice" is over quota: 1024 of 1024 octets .* a message of 20 octets does not fit\n$/)
    expect(messageFiles("alice")).toHaveLength(2)
    expect(Fs.readdirSync(Path.join(data, "maildir", "alice", "tmp")), "nothing left in tmp/").toEqual([])
    expect(Fs.readFileSync(Path.join(data, "maildir", "alice", "maildirsize"), "latin1")).toMatch(/^1024S\n/)
  })

  it("with quota-full-tempfail on: EX_TEMPFAIL (75), so the MTA retries; a message larger than the quota still 73", async () => {
    const full = await pop3d(["deliver", "alice", ...quota, "--quota-full-tempfail", "on"], message(20))
    expect(full.code).toBe(75)
    const huge = await pop3d(["deliver", "alice", ...quota, "--quota-full-tempfail", "on"], message(2000))
    expect(huge.code).toBe(73)
    expect(huge.stderr).toMatch(/larger than the quota/)
  })

  it("a user's quota_rule in the users file overrides the default", async () => {
    expect((await pop3d(["deliver", "bob", "--quota", "1M"], message(400))).code).toBe(73)
    expect((await pop3d(["deliver", "bob", "--quota", "1M"], message(200))).code).toBe(0)
    expect((await pop3d(["deliver", "bob", "--quota", "1M"], message(200))).code).toBe(73)
  })

  it("crossing the warning threshold puts one warning into the mailbox, once per crossing", async () => {
    const flags = ["--quota", "10000", "--quota-warning-percent", "50", "--quota-warning-from", "admin@example.org"]
    for (const size of [2000, 2000]) {
      const r = await pop3d(["deliver", "carol", ...flags], message(size))
      expect(r.code, r.stderr).toBe(0)
    }
    expect(messageFiles("carol")).toHaveLength(2)
    expect((await pop3d(["deliver", "carol", ...flags], message(1500))).code).toBe(0) // 55%: crosses 50%
    expect((await pop3d(["deliver", "carol", ...flags], message(500))).code).toBe(0) // over 60% with the warning: no second one
    const warnings = messageFiles("carol").map((f) => Fs.readFileSync(f, "utf8")).filter((t) => t.startsWith("From: "))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^From: Mail server <admin@example\.org>$/m)
    expect(warnings[0]).toMatch(/^Subject: Your mailbox is 55% full$/m)
    expect(warnings[0]).toMatch(/^Hello carol,$/m)
  })
})

describe("pop3d mailbox stats", { timeout: 120_000 }, () => {
  it("prints messages, octets, quota use and limits, the oldest message and the next UID", async () => {
    const r = await pop3d(["mailbox", "stats", "alice", "--quota", "1k", "--quota-messages", "10"])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split("\n")
    expect(lines).toEqual([
      "mailbox: alice",
      "messages: 2",
      "octets: 1024",
      "rfc822-octets: 1030",
      "quota-storage: 1024 of 1024 octets (100%)",
      "quota-messages: 2 of 10 (20%)",
      expect.stringMatching(/^oldest: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(less than an hour ago\)$/),
      "next-uid: 3"
    ])
    const bob = await pop3d(["mailbox", "stats", "bob"])
    expect(bob.stdout).toMatch(/^quota-storage: 200 of 300 octets \(66%\)$/m)
    expect(bob.stdout).toMatch(/^quota-messages: 1 \(no limit\)$/m)
  })

  it("an unknown mailbox: EX_NOUSER (67)", async () => {
    const r = await pop3d(["mailbox", "stats", "nobody"])
    expect(r.code).toBe(67)
    expect(r.stderr).toMatch(/no mailbox "nobody"/)
  })
})
