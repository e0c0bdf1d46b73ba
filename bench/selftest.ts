// Checks that the load generator's verification catches broken servers, so that a broken server cannot look fast:
// a small mock POP3 server serves the generated data correctly once, then with one fault at a time, and every
// faulty run must count verification failures while the correct one counts none. The light C client of the RETR
// cross-check (bench/light/retr.c, where `cc` can build it) is shown the same servers: it checks sizes, not content,
// so it must catch every fault that changes a size (the others, listed in `lightBlind`, it cannot see).
//   node bench/selftest.ts
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { defaultParams, generate, retrName, userName } from "./generate.ts"
import * as Light from "./lib/light.ts"
import type { Result } from "./load.ts"
import { loadManifest, run } from "./load.ts"

type Fault = "none" | "no-dot-stuffing" | "storage-sizes" | "truncated-message" | "corrupt-byte" | "wrong-stat" | "unstable-uidl" | "bare-lf"

/** Faults the light client cannot see: it checks no content, and runs neither STAT nor UIDL. */
const lightBlind: ReadonlySet<Fault> = new Set(["corrupt-byte", "wrong-stat", "unstable-uidl"])

/** A minimal POP3 server over a Maildir tree; `fault` breaks one thing on purpose. */
const mock = (root: string, fault: Fault): Promise<Net.Server> => {
  const logins = new Map<string, number>()
  const server = Net.createServer((sock) => {
    let session = 0
    let user = ""
    let messages: Array<Buffer> = []
    let buf = ""
    sock.write("+OK mock ready\r\n")
    sock.on("data", (d) => {
      buf += d.toString("latin1")
      for (let i = buf.indexOf("\r\n"); i !== -1; i = buf.indexOf("\r\n")) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const [cmd, arg] = [line.split(" ")[0]!.toUpperCase(), line.split(" ")[1]]
        const wire = (b: Buffer) => Buffer.from(b.toString("latin1").replace(/\n/g, fault === "bare-lf" ? "\n" : "\r\n"), "latin1")
        if (cmd === "USER") {
          user = arg ?? ""
          sock.write("+OK\r\n")
        } else if (cmd === "PASS") {
          session = logins.get(user) ?? 0
          logins.set(user, session + 1)
          const home = Path.join(root, user)
          const files = ["cur", "new"].flatMap((d) => Fs.readdirSync(Path.join(home, d)).map((f) => Path.join(home, d, f))).sort()
          messages = files.map((f) => Fs.readFileSync(f))
          sock.write("+OK logged in\r\n")
        } else if (cmd === "STAT") {
          const total = messages.reduce((a, m) => a + wire(m).length, 0)
          sock.write(`+OK ${messages.length} ${fault === "wrong-stat" ? total + 1 : total}\r\n`)
        } else if (cmd === "LIST") {
          const lines = messages.map((m, k) => `${k + 1} ${fault === "storage-sizes" ? m.length : wire(m).length}\r\n`)
          sock.write(`+OK\r\n${lines.join("")}.\r\n`)
        } else if (cmd === "UIDL") {
          const lines = messages.map((_, k) => `${k + 1} u${k + 1}${fault === "unstable-uidl" && session % 2 === 1 ? "x" : ""}\r\n`)
          sock.write(`+OK\r\n${lines.join("")}.\r\n`)
        } else if (cmd === "RETR") {
          const m = messages[Number(arg) - 1]
          if (m === undefined) {
            sock.write("-ERR no such message\r\n")
            continue
          }
          let text = wire(m).toString("latin1")
          if (fault === "truncated-message") text = text.slice(0, text.lastIndexOf("\r\n", text.length - 3) + 2)
          if (fault === "corrupt-byte") text = text.slice(0, 200) + (text[200] === "x" ? "y" : "x") + text.slice(201)
          const stuffed = fault === "no-dot-stuffing" ? text : text.replace(/(^|\r?\n)\./g, "$1..")
          sock.write(Buffer.from(`+OK ${text.length} octets\r\n${stuffed}.\r\n`, "latin1"))
        } else if (cmd === "QUIT") {
          sock.end("+OK bye\r\n")
        } else sock.write("-ERR unknown\r\n")
      }
    })
    sock.on("error", () => {})
  })
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)))
}

const main = async () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pop3d-bench-selftest-"))
  try {
    const manifest = generate(dir, { ...defaultParams, users: 4, retrUsers: 1, retrMessages: 40, big: 0 })
    loadManifest(Path.join(dir, "manifest.json"))
    const light = Light.build(dir)
    if ("error" in light) console.log(`the light client is not checked: it could not be built (${light.error})`)
    const users = Array.from({ length: 4 }, (_, i) => userName(i))
    const faults: ReadonlyArray<Fault> = ["none", "no-dot-stuffing", "storage-sizes", "truncated-message", "corrupt-byte", "wrong-stat", "unstable-uidl", "bare-lf"]
    let bad = 0
    let id = 1
    for (const fault of faults) {
      const server = await mock(Path.join(dir, "maildir"), fault)
      const target = { host: "127.0.0.1", port: (server.address() as Net.AddressInfo).port, tls: false }
      const results: Array<Result> = [
        await run(id++, { kind: "sessions", target, concurrency: 2, warmupMs: 0, durationMs: 300, maxSessions: 20, users, timeoutMs: 5000 }),
        await run(id++, { kind: "retr", target, users: [retrName(0)], durationMs: 300, maxPasses: 1, timeoutMs: 5000 })
      ]
      let lightText = ""
      if (!("error" in light)) {
        const [pass, session] = [
          await Light.run(light.binary, target.port, 300, "pass", Light.credentials(manifest, [retrName(0)])),
          await Light.run(light.binary, target.port, 300, "session", Light.credentials(manifest, [retrName(0)]))
        ]
        const caught = pass.failures > 0 && session.failures > 0
        const lightOk = fault === "none" ? pass.failures + session.failures === 0 && pass.messages > 0 && session.messages > 0
          : lightBlind.has(fault) || caught
        if (!lightOk) bad++
        const samples = [pass.sample, session.sample].filter((x) => x !== "").join("; ")
        lightText = `; light client: ${lightOk ? "ok" : "FAIL"}, ${pass.failures + session.failures} failures${samples === "" ? "" : ` (${samples})`}${lightBlind.has(fault) ? " (cannot see this fault)" : ""}`
      }
      server.close()
      const failures = results.reduce((a, r) => a + r.failures.count, 0)
      const kinds = [...new Set(results.flatMap((r) => Object.keys(r.failures.byKind)))].join(", ")
      const ok = fault === "none" ? failures === 0 : failures > 0
      if (!ok) bad++
      console.log(`${ok ? "ok  " : "FAIL"} ${fault.padEnd(18)} ${failures} verification failures${kinds === "" ? "" : ` (${kinds})`}${lightText}`)
      if (!ok) for (const r of results) for (const s of r.failures.samples) console.log(`     ${s}`)
    }
    console.log(bad === 0 ? "selftest: the verifier catches every fault" : `selftest: ${bad} fault(s) went unnoticed`)
    process.exitCode = bad === 0 ? 0 : 1
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

await main()
