import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ProtocolLog from "../src/ProtocolLog.ts"

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "pop3d-plog-"))

describe("ProtocolLog redaction", () => {
  it("keeps commands, hides PASS, APOP digests, AUTH initial responses and SASL lines", () => {
    const c = ProtocolLog.clientText
    assert.strictEqual(c("USER alice", false), "USER alice")
    assert.strictEqual(c("PASS s3cret pass", false), "PASS ***")
    assert.strictEqual(c("pass  leading space", false), "pass ***")
    assert.strictEqual(c("PASS", false), "PASS ***")
    assert.strictEqual(c("PASSWORD x", false), "PASSWORD x") // not the PASS command
    assert.strictEqual(c("AUTH PLAIN AGFsaWNlAHMzY3JldA==", false), "AUTH PLAIN ***")
    assert.strictEqual(c("auth plain\tAGFsaWNl", false), "auth plain ***")
    assert.strictEqual(c("AUTH PLAIN", false), "AUTH PLAIN")
    assert.strictEqual(c("AUTH", false), "AUTH")
    assert.strictEqual(c("APOP alice c4c9334bac560ecc979e58001b3e22fb", false), "APOP alice ***")
    assert.strictEqual(c("AGFsaWNlAHMzY3JldA==", true), "***")
    assert.strictEqual(c("TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==", true), "***")
    assert.strictEqual(c(" * ", true), "*")
    assert.strictEqual(c("NOOP\u0000\u001b[31m", false), "NOOP\\x00\\x1b[31m")
  })

  it("keeps the first line of a reply only, and hides SASL challenges", () => {
    const s = ProtocolLog.serverText
    assert.strictEqual(s("+OK 120 octets\r\n"), "+OK 120 octets")
    assert.strictEqual(s("+OK Capability list follows\r\nTOP\r\nUSER\r\n.\r\n"), "+OK Capability list follows")
    assert.strictEqual(s("+ TlRMTVNTUAACAAAADAAMADgAAAA=\r\n"), "+ ***")
    assert.strictEqual(s("+ \r\n"), "+ ")
    assert.strictEqual(s("-ERR [AUTH] Authentication failed\r\n"), "-ERR [AUTH] Authentication failed")
  })

  it("formats one line per event", () => {
    assert.strictEqual(
      ProtocolLog.format("abc-1", "C:", "USER alice", new Date("2025-01-02T03:04:05.006Z")),
      "2025-01-02T03:04:05.006Z abc-1 C: USER alice"
    )
  })
})

describe("ProtocolLog file", () => {
  it.effect("appends lines and rotates by size, keeping N old files, none over the limit", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const path = Path.join(dir, "sub", "protocol.log")
      const log = yield* ProtocolLog.make({ path, maxSize: 1000, keep: 2 })
      const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, "0")} ${"x".repeat(40)}`)
      for (const l of lines) assert.isTrue(log.write(l))
      yield* log.flush
      const files = Fs.readdirSync(Path.dirname(path)).sort()
      assert.deepStrictEqual(files, ["protocol.log", "protocol.log.1", "protocol.log.2"])
      for (const f of files) assert.isAtMost(Fs.statSync(Path.join(Path.dirname(path), f)).size, 1000)
      // The newest lines are in the file, the ones before in .1, then .2; older ones were removed.
      const read = (f: string) => Fs.readFileSync(Path.join(Path.dirname(path), f), "utf8").split("\n").filter((l) => l !== "")
      const kept = [...read("protocol.log.2"), ...read("protocol.log.1"), ...read("protocol.log")]
      assert.deepStrictEqual(kept, lines.slice(lines.length - kept.length))
      assert.strictEqual(read("protocol.log").at(-1), lines.at(-1))
      assert.strictEqual(log.dropped(), 0)
      Fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.scoped))

  it.effect("keep 0 removes the old file at rotation; reconfigure switches files; off writes nothing", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const a = Path.join(dir, "a.log")
      const b = Path.join(dir, "b.log")
      const log = yield* ProtocolLog.make({ path: a, maxSize: 100, keep: 0 })
      for (let i = 0; i < 10; i++) log.write(`${i} ${"y".repeat(30)}`)
      yield* log.flush
      assert.deepStrictEqual(Fs.readdirSync(dir), ["a.log"])
      assert.isAtMost(Fs.statSync(a).size, 100)
      yield* log.reconfigure({ path: b, maxSize: 1000, keep: 1 })
      log.write("to b")
      yield* log.flush
      assert.strictEqual(Fs.readFileSync(b, "utf8"), "to b\n")
      yield* log.reconfigure({ path: "", maxSize: 1000, keep: 1 })
      assert.isFalse(log.enabled())
      assert.isFalse(log.write("nowhere"))
      yield* log.flush
      assert.strictEqual(Fs.readFileSync(b, "utf8"), "to b\n")
      Fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.scoped))

  it.effect("never blocks: past the buffer's capacity lines are dropped and counted", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const path = Path.join(dir, "p.log")
      let counted = 0
      const log = yield* ProtocolLog.make({ path, maxSize: 1 << 30, keep: 1 }, (n) => (counted += n))
      // No yield in between: the writer fiber cannot run, so everything past the capacity is dropped.
      let accepted = 0
      for (let i = 0; i < ProtocolLog.capacity + 50; i++) if (log.write(`l${i}`)) accepted++
      assert.strictEqual(accepted, ProtocolLog.capacity)
      assert.strictEqual(log.dropped(), 50)
      assert.strictEqual(counted, 50)
      yield* log.flush
      assert.strictEqual(Fs.readFileSync(path, "utf8").split("\n").length - 1, ProtocolLog.capacity)
      Fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.scoped))

  it.effect("an unwritable path drops the lines with a counter, and the log goes on once it can write", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      Fs.writeFileSync(Path.join(dir, "file"), "")
      const log = yield* ProtocolLog.make({ path: Path.join(dir, "file", "p.log"), maxSize: 1000, keep: 1 })
      log.write("lost")
      yield* log.flush
      assert.strictEqual(log.dropped(), 1)
      yield* log.reconfigure({ path: Path.join(dir, "ok.log"), maxSize: 1000, keep: 1 })
      log.write("kept")
      yield* log.flush
      assert.strictEqual(Fs.readFileSync(Path.join(dir, "ok.log"), "utf8"), "kept\n")
      Fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.scoped))
})
