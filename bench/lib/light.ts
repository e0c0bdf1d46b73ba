// The light C RETR client (bench/light/retr.c): built with `cc` into a folder, and run against a POP3 port. Used by
// run.ts for the RETR cross-check (workload 2b) and by selftest.ts, which shows that its checks catch broken servers.
import * as Child from "node:child_process"
import * as Path from "node:path"
import * as Url from "node:url"
import type { Manifest } from "../generate.ts"

const source = Path.join(Path.dirname(Path.dirname(Url.fileURLToPath(import.meta.url))), "light", "retr.c")

/** What one run of the client prints. */
export interface LightResult {
  readonly octets: number
  readonly messages: number
  readonly seconds: number
  readonly clientCpuSeconds: number
  readonly failures: number
  readonly sample: string
}

/** Passes with a login each (as the verifying RETR), or one login per client that then cycles on its session. */
export type LightMode = "pass" | "session"

/** Builds the client into `dir`: its path, or why it could not be built (no `cc`, or it failed). */
export const build = (dir: string): { readonly binary: string } | { readonly error: string } => {
  const binary = Path.join(dir, "light-retr")
  const built = Child.spawnSync("cc", ["-O2", "-pthread", "-o", binary, source], { encoding: "utf8" })
  if (built.status === 0) return { binary }
  return { error: built.error?.message || built.stderr?.trim().split("\n")[0] || `cc exited ${built.status}` }
}

/** The client's arguments for `users`: user:password:count:octets, so that it checks LIST against the manifest. */
export const credentials = (manifest: Manifest, users: ReadonlyArray<string>): Array<string> =>
  users.map((u) => {
    const m = manifest.users[u]!
    return `${u}:${m.password}:${m.count}:${m.octets}`
  })

/**
 * Runs the client (through `wrap`, e.g. taskset and nice) for `ms` against `port`; fails when it does not finish or
 * prints no result. Asynchronous, so that a server in this process (selftest's mock) goes on serving. Bounded: its
 * own time limit, then a kill `ms + 60 s` later.
 */
export const run = (
  binary: string,
  port: number,
  ms: number,
  mode: LightMode,
  args: ReadonlyArray<string>,
  wrap: (cmd: string, args: ReadonlyArray<string>) => [string, Array<string>] = (cmd, a) => [cmd, [...a]]
): Promise<LightResult> => {
  const [cmd, argv] = wrap(binary, [String(port), String(ms / 1000), "1000000", mode, ...args])
  return new Promise((resolve, reject) => {
    Child.execFile(cmd, argv, { encoding: "utf8", timeout: ms + 60_000 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`light client: ${error.message}: ${stderr.trim()}`))
      try {
        resolve(JSON.parse(stdout) as LightResult)
      } catch {
        reject(new Error(`light client printed no result: ${stdout.slice(0, 200)}`))
      }
    })
  })
}
