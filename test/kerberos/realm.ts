// The throwaway Kerberos realm of test/kerberos/realm.sh, from a test: which tools are missing, start it in a fresh
// folder on a free port, get tickets, stop the KDC by its PID. Nothing here touches /etc/krb5.conf or the
// environment of the test process: every Kerberos variable goes to the child processes that need it.
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

/** The realm script. */
export const script = Path.join(import.meta.dirname, "realm.sh")

/** The realm's name. */
export const realmName = "EXAMPLE.TEST"

/** Debian's python3, which sees python3-gssapi (a pyenv python3 on PATH does not). */
export const python = "/usr/bin/python3"

/** The Debian packages the realm needs. */
export const packages = ["krb5-kdc", "krb5-admin-server", "krb5-user"] as const

const searchPath = [...(process.env.PATH ?? "").split(Path.delimiter), "/usr/sbin", "/sbin"]

/** The realm tools that are not installed (empty when the realm can be made). */
export const missingTools = (): ReadonlyArray<string> =>
  ["kdb5_util", "kadmin.local", "krb5kdc", "kinit", "kdestroy"].filter((tool) =>
    !searchPath.some((dir) => dir !== "" && Fs.existsSync(Path.join(dir, tool)))
  )

/** Why Kerberos tests are skipped here, or undefined when they can run. */
export const skipReason = (): string | undefined => {
  const missing = missingTools()
  return missing.length === 0
    ? undefined
    : `Kerberos packages absent (${missing.join(", ")} not found): apt-get install ${packages.join(" ")}`
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

/** A running realm. */
export interface Realm {
  readonly dir: string
  readonly kdcPort: number
  readonly kdcPid: number
  /** The keytab with pop/localhost (and imap/localhost) for the server. */
  readonly popKeytab: string
  /** The environment a Kerberos client or server needs (KRB5_CONFIG, KRB5RCACHEDIR), without a ticket cache. */
  readonly env: Readonly<Record<string, string>>
  /** Gets a ticket for `user` (from its keytab) in its own cache; returns the environment that selects the cache. */
  kinit(user: string): Record<string, string>
  /** An environment whose ticket cache is empty. */
  noTickets(): Record<string, string>
  /** Stops the KDC by PID and removes the folder. */
  stop(): void
}

/** Creates and starts the realm (about half a second). */
export const start = async (): Promise<Realm> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pop3d-krb5-"))
  const kdcPort = await freePort()
  const made = spawnSync("bash", [script, dir, String(kdcPort)], { encoding: "utf8", timeout: 60_000 })
  if (made.status !== 0) {
    throw new Error(`${script} failed (${made.status ?? made.signal}):\n${made.stdout}${made.stderr}`)
  }
  const kdcPid = Number(Fs.readFileSync(Path.join(dir, "kdc.pid"), "utf8").trim())
  const env = {
    PATH: searchPath.join(Path.delimiter),
    KRB5_CONFIG: Path.join(dir, "krb5.conf"),
    KRB5RCACHEDIR: dir
  }
  const withCache = (name: string) => ({ ...env, KRB5CCNAME: `FILE:${Path.join(dir, `ccache-${name}`)}` })
  return {
    dir,
    kdcPort,
    kdcPid,
    popKeytab: Path.join(dir, "pop.keytab"),
    env,
    kinit: (user) => {
      const ccEnv = withCache(user)
      const r = spawnSync("kinit", ["-k", "-t", Path.join(dir, `${user}.keytab`), `${user}@${realmName}`], {
        encoding: "utf8",
        env: { ...process.env, ...ccEnv },
        timeout: 20_000
      })
      if (r.status !== 0) throw new Error(`kinit ${user} failed (${r.status ?? r.signal}): ${r.stdout}${r.stderr}`)
      return ccEnv
    },
    noTickets: () => withCache("none"),
    stop: () => {
      try {
        process.kill(kdcPid, "SIGTERM")
      } catch {
        // already gone
      }
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
