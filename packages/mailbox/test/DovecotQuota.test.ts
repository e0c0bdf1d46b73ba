// Another Maildir tool agrees with pop3d about usage: Dovecot's Maildir++ quota reads the `maildirsize` pop3d
// keeps, its recalculation gives the same totals, and pop3d goes on from the file Dovecot rewrote. Runs only where
// Dovecot is installed and the test runs as root (Dovecot's auth service refuses uid 0 for mail, so the Maildir is
// given to `nobody`); skipped elsewhere.
import { assert, describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import { Maildir, Quota } from "../src/index.ts"
import { bytes } from "./helpers.ts"

const available = process.getuid?.() === 0 &&
  spawnSync("doveadm", ["help"], { stdio: "ignore" }).error === undefined &&
  spawnSync("dovecot", ["--version"], { stdio: "ignore" }).status === 0

const sumOf = (text: string) => {
  const [header, ...lines] = text.trimEnd().split("\n")
  let storage = 0
  let messages = 0
  for (const line of lines) {
    const [a, b] = line.trim().split(/\s+/).map(Number)
    storage += a!
    messages += b!
  }
  return { header, storage, messages }
}

describe.skipIf(!available)("Dovecot's Maildir++ quota and pop3d agree", () => {
  it.live("doveadm reads pop3d's maildirsize; its recalculation matches; pop3d continues on Dovecot's file", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pop3d-dovecot-"))
      Fs.chmodSync(dir, 0o755)
      const root = Path.join(dir, "mail")
      Fs.mkdirSync(root)
      const conf = Path.join(dir, "dovecot.conf")
      Fs.writeFileSync(conf, [
        "protocols =",
        `mail_location = maildir:${root}/%u`,
        `base_dir = ${dir}/run`,
        `state_dir = ${dir}/state`,
        "log_path = /dev/stderr",
        "mail_plugins = quota",
        `userdb {\n  driver = static\n  args = uid=65534 gid=65534 home=${root}/%u\n}`,
        "passdb {\n  driver = static\n  args = nopassword=y\n}",
        "plugin {\n  quota = maildir:User quota\n}",
        "ssl = no",
        ""
      ].join("\n"))
      const file = Path.join(root, "alice", "maildirsize")
      const store = yield* Maildir.make({ root, quota: Quota.fixed({ storage: 100_000, messages: 100 }) })
      for (const n of [1, 2, 3]) yield* store.deliver("alice", bytes(`Subject: ${n}\n\n${"x".repeat(1000 * n)}\n`))
      yield* (yield* store.open("alice")).commitUpdate([0])
      const ours = sumOf(Fs.readFileSync(file, "latin1"))
      spawnSync("chown", ["-R", "65534:65534", Path.join(root, "alice")])

      const master = spawn("dovecot", ["-F", "-c", conf], { stdio: "ignore" })
      try {
        for (let i = 0; i < 100 && !Fs.existsSync(Path.join(dir, "run", "auth-userdb")); i++) {
          yield* Effect.sleep("100 millis")
        }
        const doveadm = (...args: Array<string>) => {
          const r = spawnSync("doveadm", ["-c", conf, ...args], { encoding: "utf8", timeout: 20_000 })
          assert.strictEqual(r.status, 0, r.stderr)
          return r.stdout
        }
        // Dovecot shows the usage pop3d recorded: messages exactly, storage in KiB.
        const got = doveadm("-f", "tab", "quota", "get", "-u", "alice")
        const row = (type: string) => got.split("\n").find((l) => l.split("\t")[1] === type)!.split("\t")
        assert.strictEqual(Number(row("MESSAGE")[2]), ours.messages)
        assert.strictEqual(Number(row("MESSAGE")[3]), 100)
        assert.strictEqual(Number(row("STORAGE")[2]), Math.ceil(ours.storage / 1024))
        // Dovecot's own recount gives the same totals.
        doveadm("quota", "recalc", "-u", "alice")
        const theirs = sumOf(Fs.readFileSync(file, "latin1"))
        assert.deepStrictEqual([theirs.storage, theirs.messages], [ours.storage, ours.messages])
        assert.strictEqual(theirs.header, "100000S,100C")
      } finally {
        master.kill("SIGTERM")
      }
      // pop3d carries on from the file Dovecot wrote.
      yield* store.deliver("alice", bytes("Subject: 4\n\nfour\n"))
      const after = sumOf(Fs.readFileSync(file, "latin1"))
      assert.deepStrictEqual([after.storage, after.messages], [ours.storage + 17, ours.messages + 1])
      Fs.rmSync(dir, { recursive: true, force: true })
    }), 60_000)
})
