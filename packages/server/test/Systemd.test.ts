// The systemd unit in contrib/systemd: the directives the README promises (unprivileged user, low ports by
// capability only, hardened, reload by SIGHUP), and `systemd-analyze verify` when the machine has it.
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const root = Path.resolve(import.meta.dirname, "..", "..", "..")
const unitPath = Path.join(root, "contrib", "systemd", "pop3d.service")
const unit = Fs.readFileSync(unitPath, "utf8")

/** The values of `key=` in the unit, in order (comments skipped). */
const values = (key: string) =>
  unit.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1))

describe("contrib/systemd/pop3d.service", () => {
  it("runs pop3d unprivileged with only CAP_NET_BIND_SERVICE, hardened, reloading with SIGHUP", () => {
    assert.deepStrictEqual(values("User"), ["pop3d"])
    assert.deepStrictEqual(values("AmbientCapabilities"), ["CAP_NET_BIND_SERVICE"])
    assert.deepStrictEqual(values("CapabilityBoundingSet"), ["CAP_NET_BIND_SERVICE"])
    assert.deepStrictEqual(values("NoNewPrivileges"), ["yes"])
    assert.deepStrictEqual(values("ProtectSystem"), ["strict"])
    assert.deepStrictEqual(values("PrivateTmp"), ["yes"])
    assert.deepStrictEqual(values("ExecReload"), ["/bin/kill -HUP $MAINPID"])
    assert.include(values("ReadWritePaths")[0], "/var/lib/pop3d")
    assert.match(values("ExecStart")[0]!, /bin\.ts serve --config \/etc\/pop3d\/pop3d\.conf --data \/var\/lib\/pop3d$/)
    assert.deepStrictEqual(values("MemoryDenyWriteExecute"), []) // V8's JIT needs W+X pages
  })

  it("the example config file parses as pop3d settings", async () => {
    const { parseConfigFile } = await import("../src/Settings.ts")
    const conf = Path.join(root, "contrib", "systemd", "pop3d.conf")
    const parsed = parseConfigFile(Fs.readFileSync(conf, "utf8"), conf)
    assert.strictEqual(parsed._tag, "Success")
  })

  it("passes systemd-analyze verify (when systemd-analyze exists)", () => {
    let analyze: string | undefined
    try {
      analyze = execFileSync("sh", ["-c", "command -v systemd-analyze"], { encoding: "utf8" }).trim()
    } catch {
      return
    }
    if (analyze === "") return
    // Point ExecStart at this checkout so verify finds the executable.
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pop3d-unit-"))
    const copy = Path.join(dir, "pop3d.service")
    Fs.writeFileSync(copy, unit.replaceAll("/opt/pop3d/", `${root}/`).replace(/^WorkingDirectory=.*$/m, `WorkingDirectory=${root}`))
    try {
      execFileSync(analyze, ["verify", copy], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
