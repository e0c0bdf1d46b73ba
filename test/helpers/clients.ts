// Real POP3 clients for the end-to-end tests: the system curl and Python's poplib (test/python/poplib_client.py).
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { root } from "./server.ts"

export interface ProcessResult {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

/** Runs a program with arguments (no shell) and extra environment, collecting output; SIGKILL after `timeoutMs`. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly timeoutMs?: number; readonly input?: string; readonly env?: Record<string, string> } = {}
): Promise<ProcessResult> =>
  new Promise((resolve, reject) => {
    const env = options.env === undefined ? undefined : { ...process.env, ...options.env }
    const child = spawn(command, args, { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] })
    const out: Array<Buffer> = []
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timeoutMs = options.timeoutMs ?? 15_000
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${command} ${args.join(" ")} timed out after ${timeoutMs} ms\n${stderr}`))
    }, timeoutMs)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out), stderr })
    })
    child.stdin.on("error", () => {})
    child.stdin.end(options.input ?? "")
  })

/** The system curl (7.88 on Debian 12). */
export const curlBin = "/usr/bin/curl"

/** Runs curl with `--max-time` so that it can never hang; `-s -S` keep errors but drop progress. */
export const curl = (args: ReadonlyArray<string>, timeoutMs = 15_000): Promise<ProcessResult> =>
  run(curlBin, ["-s", "-S", "--max-time", String(Math.floor(timeoutMs / 1000) - 2), ...args], { timeoutMs })

/** One poplib action: ["stat"], ["list"], ["top", 1, 0], ... (see test/python/poplib_client.py). */
export type PoplibAction = ReadonlyArray<string | number>

export interface PoplibConfig {
  readonly host?: string
  readonly port: number
  readonly mode: "ssl" | "stls" | "plain"
  readonly cafile?: string | null
  readonly user?: string
  readonly password?: string
  readonly auth?: "userpass" | "none"
  readonly actions?: ReadonlyArray<PoplibAction>
  readonly timeout?: number
}

export interface PoplibResult {
  readonly action: PoplibAction
  readonly ok: boolean
  readonly value?: any
  readonly error?: string
}

export interface PoplibOutput {
  readonly welcome?: string
  readonly user?: string
  readonly pass?: string
  readonly stls?: string
  readonly capa_before_stls?: Record<string, Array<string>>
  readonly capa_after_stls?: Record<string, Array<string>>
  readonly tls_version?: string | null
  readonly verified?: boolean
  readonly results?: ReadonlyArray<PoplibResult>
  readonly exception?: string
  readonly message?: string
}

export const poplibScript = Path.join(root, "test", "python", "poplib_client.py")

/** Runs the poplib driver with `python3` (from PATH) and parses its JSON. */
export const poplib = async (config: PoplibConfig, timeoutMs = 20_000): Promise<PoplibOutput> => {
  const r = await run("python3", [poplibScript, JSON.stringify(config)], { timeoutMs })
  const text = r.stdout.toString("utf8").trim()
  try {
    return JSON.parse(text.split("\n").pop() ?? "") as PoplibOutput
  } catch {
    throw new Error(`poplib_client.py printed no JSON (exit ${r.code}):\n${text}\n${r.stderr}`)
  }
}
