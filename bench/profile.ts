// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by where the code lives.
//   node bench/profile.ts FILE.cpuprofile [--top 25] [--window FROM_US TO_US]
import * as Fs from "node:fs"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
  readonly startTime: number
  readonly endTime: number
}

export interface ProfileSummary {
  readonly totalMs: number
  readonly idleMs: number
  readonly functions: ReadonlyArray<{ readonly name: string; readonly where: string; readonly selfMs: number; readonly share: number }>
  readonly areas: ReadonlyArray<{ readonly area: string; readonly selfMs: number; readonly share: number }>
}

/** Which part of the stack a script URL belongs to. */
export const areaOf = (url: string, name: string): string => {
  if (url === "") {
    if (name === "(garbage collector)") return "GC"
    if (name === "(idle)") return "idle"
    if (name === "(program)") return "V8/native (program)"
    return "native"
  }
  if (url.startsWith("node:")) return "Node core (node:*)"
  const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m !== null) return `npm ${m[1]}`
  const p = /packages\/([^/]+)\/src\/([^/]+)/.exec(url)
  if (p !== null) return `pop3d ${p[1]}`
  return "other"
}

/** A time window in the profile's clock: CLOCK_MONOTONIC µs, the clock of `process.hrtime` on Linux. */
export interface Window {
  readonly fromUs: number
  readonly toUs: number
}

export const summarise = (file: string, top = 25, window?: Window): ProfileSummary => {
  const profile = JSON.parse(Fs.readFileSync(file, "utf8")) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  let t = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0
    t += delta
    if (window !== undefined && (t < window.fromUs || t > window.toUs)) continue
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + delta)
  }
  const fn = new Map<string, { name: string; where: string; us: number }>()
  const areas = new Map<string, number>()
  let total = 0
  let idle = 0
  for (const [id, us] of self) {
    const n = byId.get(id)!
    const cf = n.callFrame
    const name = cf.functionName === "" ? "(anonymous)" : cf.functionName
    if (name === "(idle)") {
      idle += us
      continue
    }
    total += us
    const short = cf.url.replace(/^file:\/\//, "").replace(/.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, "").replace(/.*\/packages\//, "packages/")
    const where = cf.url === "" ? "" : `${short}:${cf.lineNumber + 1}`
    const key = `${name}@${where}`
    const e = fn.get(key) ?? { name, where, us: 0 }
    e.us += us
    fn.set(key, e)
    const area = areaOf(cf.url, name)
    areas.set(area, (areas.get(area) ?? 0) + us)
  }
  const functions = [...fn.values()].sort((a, b) => b.us - a.us).slice(0, top).map((e) => ({
    name: e.name,
    where: e.where,
    selfMs: e.us / 1000,
    share: e.us / total
  }))
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    functions,
    areas: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfMs: us / 1000, share: us / total }))
  }
}

export const format = (s: ProfileSummary): string => {
  const lines = [`busy ${s.totalMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms`, "", "self time by area:"]
  for (const a of s.areas) lines.push(`  ${(a.share * 100).toFixed(1).padStart(5)} %  ${a.selfMs.toFixed(0).padStart(7)} ms  ${a.area}`)
  lines.push("", "top functions by self time:")
  for (const f of s.functions) lines.push(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`)
  return lines.join("\n")
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2]
  if (file === undefined) {
    console.error("usage: node bench/profile.ts FILE.cpuprofile [--top N]")
    process.exit(64)
  }
  const i = process.argv.indexOf("--top")
  const w = process.argv.indexOf("--window")
  const window = w === -1 ? undefined : { fromUs: Number(process.argv[w + 1]), toUs: Number(process.argv[w + 2]) }
  console.log(format(summarise(file, i === -1 ? 25 : Number(process.argv[i + 1]), window)))
}
