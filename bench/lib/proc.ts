// /proc readers: CPU time and memory of one process (pop3d) or of a whole process tree (Dovecot's master and
// everything it forked). Linux only; every function tolerates processes that vanish while being read.
import * as Fs from "node:fs"
import { execFileSync } from "node:child_process"

/** Clock ticks per second for utime/stime in /proc/<pid>/stat (USER_HZ, 100 on Linux x86). */
export const clockTicks: number = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

export interface Stat {
  readonly pid: number
  readonly comm: string
  readonly state: string
  readonly ppid: number
  /** user + system CPU of the process itself, in ticks */
  readonly selfTicks: number
  /** user + system CPU of its waited-for (reaped) children, in ticks */
  readonly childTicks: number
  readonly startTime: number
}

/** Parses /proc/<pid>/stat; undefined if the process is gone. */
export const readStat = (pid: number): Stat | undefined => {
  let text: string
  try {
    text = Fs.readFileSync(`/proc/${pid}/stat`, "latin1")
  } catch {
    return undefined
  }
  const close = text.lastIndexOf(")")
  const comm = text.slice(text.indexOf("(") + 1, close)
  const f = text.slice(close + 2).split(" ")
  // f[0] is field 3 (state); utime is field 14 → f[11]
  return {
    pid,
    comm,
    state: f[0]!,
    ppid: Number(f[1]),
    selfTicks: Number(f[11]) + Number(f[12]),
    childTicks: Number(f[13]) + Number(f[14]),
    startTime: Number(f[19])
  }
}

const allPids = (): Array<number> => {
  const out: Array<number> = []
  for (const name of Fs.readdirSync("/proc")) {
    const c = name.charCodeAt(0)
    if (c >= 48 && c <= 57) out.push(Number(name))
  }
  return out
}

/** The live process tree rooted at `root` (root first), found by scanning every /proc/<pid>/stat for its ppid. */
export const processTree = (root: number): Array<Stat> => {
  const stats = new Map<number, Stat>()
  for (const pid of allPids()) {
    const s = readStat(pid)
    if (s !== undefined) stats.set(pid, s)
  }
  const rootStat = stats.get(root)
  if (rootStat === undefined) return []
  const children = new Map<number, Array<Stat>>()
  for (const s of stats.values()) {
    const list = children.get(s.ppid)
    if (list === undefined) children.set(s.ppid, [s])
    else list.push(s)
  }
  const out: Array<Stat> = []
  const queue = [rootStat]
  while (queue.length > 0) {
    const s = queue.shift()!
    out.push(s)
    for (const c of children.get(s.pid) ?? []) queue.push(c)
  }
  return out
}

/**
 * CPU seconds used so far by a process tree: for every live process its own time plus the time of the children it
 * has reaped. Dovecot's master reaps its short-lived login and pop3 processes, so their CPU lands in the master's
 * cutime/cstime and is counted even though they are gone; a process that is alive (or a zombie) is counted by
 * its own stat. The difference of two readings is the tree's CPU in between.
 */
export const treeCpuSeconds = (root: number): { seconds: number; processes: number } => {
  const tree = processTree(root)
  let ticks = 0
  for (const s of tree) ticks += s.selfTicks + s.childTicks
  return { seconds: ticks / clockTicks, processes: tree.length }
}

/** CPU seconds of one process (all its threads) plus its reaped children. */
export const processCpuSeconds = (pid: number): number => {
  const s = readStat(pid)
  return s === undefined ? Number.NaN : (s.selfTicks + s.childTicks) / clockTicks
}

const kbField = (text: string, field: string): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)
  return m === null ? 0 : Number(m[1])
}

/** Resident set size of one process in KiB (VmRSS). */
export const rssKiB = (pid: number): number => {
  try {
    return kbField(Fs.readFileSync(`/proc/${pid}/status`, "latin1"), "VmRSS")
  } catch {
    return Number.NaN
  }
}

/** Rss and Pss of one process in KiB from /proc/<pid>/smaps_rollup. */
export const smapsRollup = (pid: number): { rss: number; pss: number } | undefined => {
  try {
    const text = Fs.readFileSync(`/proc/${pid}/smaps_rollup`, "latin1")
    return { rss: kbField(text, "Rss"), pss: kbField(text, "Pss") }
  } catch {
    return undefined
  }
}

/** PSS (and RSS, which double-counts shared pages) summed over a process tree, in KiB. */
export const treeMemory = (root: number): { pssKiB: number; rssKiB: number; processes: number; byComm: Record<string, { n: number; pssKiB: number }> } => {
  let pss = 0
  let rss = 0
  const byComm: Record<string, { n: number; pssKiB: number }> = {}
  const tree = processTree(root)
  for (const s of tree) {
    const m = smapsRollup(s.pid)
    if (m === undefined) continue
    pss += m.pss
    rss += m.rss
    const c = (byComm[s.comm] ??= { n: 0, pssKiB: 0 })
    c.n++
    c.pssKiB += m.pss
  }
  return { pssKiB: pss, rssKiB: rss, processes: tree.length, byComm }
}

/** Every process whose command name is exactly `comm`, as pid → ppid. */
export const pidsByComm = (comm: string): Array<Stat> => {
  const out: Array<Stat> = []
  for (const pid of allPids()) {
    const s = readStat(pid)
    if (s !== undefined && s.comm === comm) out.push(s)
  }
  return out
}

/**
 * Busy and steal time of one CPU (or of all, when `cpu` is undefined) from /proc/stat, in seconds. Busy is
 * everything but idle and iowait; together with the servers' own CPU it shows how much other load shared the core.
 */
export const cpuTimes = (cpu: number | undefined): { busy: number; steal: number; total: number } => {
  const label = cpu === undefined ? "cpu" : `cpu${cpu}`
  const line = Fs.readFileSync("/proc/stat", "latin1").split("\n").find((l) => l.startsWith(`${label} `))
  if (line === undefined) return { busy: Number.NaN, steal: Number.NaN, total: Number.NaN }
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = f[3]! + f[4]!
  return { busy: (total - idle - f[7]!) / clockTicks, steal: f[7]! / clockTicks, total: total / clockTicks }
}
