// A strict parser of Prometheus's text exposition format (0.0.4), for tests: it throws on anything the format does
// not allow (bad names, escapes, values, a TYPE after samples, a family split in two, duplicate series, histograms
// whose buckets are not cumulative or lack +Inf, _sum or _count) and returns the families with their samples.

/** One sample line. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** One metric family: its TYPE, HELP and samples in order. */
export interface Family {
  readonly name: string
  type: string
  help: string | undefined
  readonly samples: Array<Sample>
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const floatText = /^(?:[+-]?Inf|NaN|[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)$/
const types = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

const fail = (line: number, why: string, text: string): never => {
  throw new Error(`prometheus text line ${line}: ${why}: ${JSON.stringify(text)}`)
}

/** Parses a float as the format writes it. */
export const parseFloatStrict = (text: string): number => {
  if (!floatText.test(text)) throw new Error(`not a Prometheus float: ${JSON.stringify(text)}`)
  if (/^[+]?Inf$/.test(text)) return Infinity
  if (text === "-Inf") return -Infinity
  if (text === "NaN") return NaN
  return Number(text)
}

const unescapeHelp = (text: string, line: number): string =>
  text.replace(/\\(.?)/g, (_m, c: string) => (c === "\\" ? "\\" : c === "n" ? "\n" : fail(line, "bad escape in HELP", text)))

/** The family a sample name belongs to, given the families declared so far. */
const familyOf = (name: string, families: ReadonlyMap<string, Family>): string => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length)
      const f = families.get(base)
      if (f !== undefined && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket"))) return base
    }
  }
  return name
}

/** Parses `text`; throws with the line number on the first violation. */
export const parse = (text: string): Map<string, Family> => {
  if (text.includes("\r")) throw new Error("prometheus text contains CR")
  if (text !== "" && !text.endsWith("\n")) throw new Error("prometheus text does not end with a line feed")
  const families = new Map<string, Family>()
  const seenSeries = new Set<string>()
  const finished = new Set<string>()
  let current: string | undefined
  const lines = text === "" ? [] : text.slice(0, -1).split("\n")
  const enter = (name: string, n: number, raw: string) => {
    if (current !== name) {
      if (finished.has(name)) fail(n, `family ${name} appears in two places`, raw)
      if (current !== undefined) finished.add(current)
      current = name
    }
  }
  lines.forEach((raw, i) => {
    const n = i + 1
    if (raw.trim() === "") return
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) ([^ ]+)(?: (.*))?$/.exec(raw)
      if (m === null) return // another comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string | undefined]
      if (!metricName.test(name)) fail(n, "bad metric name", raw)
      enter(name, n, raw)
      let f = families.get(name)
      if (f === undefined) {
        f = { name, type: "untyped", help: undefined, samples: [] }
        families.set(name, f)
      }
      if (kind === "TYPE") {
        if ((f as Family & { typed?: boolean }).typed) fail(n, "second TYPE line", raw)
        if (f.samples.length > 0) fail(n, "TYPE after samples", raw)
        if (rest === undefined || !types.has(rest)) fail(n, "unknown type", raw)
        f.type = rest!
        ;(f as Family & { typed?: boolean }).typed = true
      } else {
        if (f.help !== undefined) fail(n, "second HELP line", raw)
        f.help = unescapeHelp(rest ?? "", n)
      }
      return
    }
    // name [{labels}] value [timestamp]
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw)
    if (nameMatch === null) return fail(n, "bad sample line", raw)
    const name = nameMatch[0]
    let pos = name.length
    const labels: Record<string, string> = {}
    if (raw[pos] === "{") {
      pos++
      while (raw[pos] !== "}") {
        const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(raw.slice(pos))
        if (ln === null) fail(n, "bad label name", raw)
        const lname = ln![0]
        if (!labelName.test(lname) || lname.startsWith("__")) fail(n, "reserved label name", raw)
        if (lname in labels) fail(n, `duplicate label ${lname}`, raw)
        pos += lname.length
        if (raw.slice(pos, pos + 2) !== "=\"") fail(n, "expected =\"", raw)
        pos += 2
        let value = ""
        for (;;) {
          const c = raw[pos]
          if (c === undefined) fail(n, "unterminated label value", raw)
          if (c === "\"") break
          if (c === "\\") {
            const e = raw[pos + 1]
            if (e === "\\") value += "\\"
            else if (e === "\"") value += "\""
            else if (e === "n") value += "\n"
            else fail(n, "bad escape in label value", raw)
            pos += 2
          } else {
            value += c
            pos++
          }
        }
        pos++
        labels[lname] = value
        if (raw[pos] === ",") pos++
        else if (raw[pos] !== "}") fail(n, "expected , or }", raw)
      }
      pos++
    }
    const rest = raw.slice(pos)
    const vm = /^ ([^ ]+)(?: (-?[0-9]+))?$/.exec(rest)
    if (vm === null) return fail(n, "bad value part", raw)
    let value: number
    try {
      value = parseFloatStrict(vm[1]!)
    } catch (e) {
      return fail(n, (e as Error).message, raw)
    }
    const familyName = familyOf(name, families)
    enter(familyName, n, raw)
    let f = families.get(familyName)
    if (f === undefined) {
      f = { name: familyName, type: "untyped", help: undefined, samples: [] }
      families.set(familyName, f)
    }
    const key = `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(",")}}`
    if (seenSeries.has(key)) fail(n, "duplicate series", raw)
    seenSeries.add(key)
    if (f.type === "counter" && !(value >= 0)) fail(n, "counter value must be a non-negative number", raw)
    if (f.type === "histogram" && name.endsWith("_bucket") && labels.le === undefined) fail(n, "bucket without le", raw)
    f.samples.push({ name, labels, value })
  })
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f)
  return families
}

const seriesKey = (labels: Readonly<Record<string, string>>, without: string) =>
  Object.keys(labels).filter((k) => k !== without).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(",")

const checkHistogram = (f: Family) => {
  const series = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>()
  const of = (key: string) => {
    let s = series.get(key)
    if (s === undefined) series.set(key, (s = { buckets: [] }))
    return s
  }
  for (const s of f.samples) {
    if (s.name === `${f.name}_bucket`) of(seriesKey(s.labels, "le")).buckets.push([parseFloatStrict(s.labels.le!), s.value])
    else if (s.name === `${f.name}_sum`) of(seriesKey(s.labels, "")).sum = s.value
    else if (s.name === `${f.name}_count`) of(seriesKey(s.labels, "")).count = s.value
    else throw new Error(`histogram ${f.name} has a sample ${s.name}`)
  }
  for (const [key, s] of series) {
    const where = `histogram ${f.name}{${key}}`
    if (s.buckets.length === 0) throw new Error(`${where} has no buckets`)
    for (let i = 1; i < s.buckets.length; i++) {
      if (!(s.buckets[i]![0] > s.buckets[i - 1]![0])) throw new Error(`${where}: le not increasing`)
      if (s.buckets[i]![1] < s.buckets[i - 1]![1]) throw new Error(`${where}: buckets not cumulative`)
    }
    const last = s.buckets[s.buckets.length - 1]!
    if (last[0] !== Infinity) throw new Error(`${where}: no le="+Inf" bucket`)
    if (s.count === undefined || s.sum === undefined) throw new Error(`${where}: missing _sum or _count`)
    if (last[1] !== s.count) throw new Error(`${where}: +Inf bucket ${last[1]} != _count ${s.count}`)
  }
}

/** The value of one sample: family sample `name` whose labels include `labels`; throws unless exactly one matches. */
export const value = (
  families: ReadonlyMap<string, Family>,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number => {
  const matches: Array<Sample> = []
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) matches.push(s)
    }
  }
  if (matches.length !== 1) throw new Error(`${matches.length} samples match ${name}${JSON.stringify(labels)}`)
  return matches[0]!.value
}

/** The sum of every sample `name` whose labels include `labels`. */
export const total = (
  families: ReadonlyMap<string, Family>,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number => {
  let sum = 0
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value
    }
  }
  return sum
}
