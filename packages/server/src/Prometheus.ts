// Renders Effect `Metric` snapshots in Prometheus's text exposition format (version 0.0.4): one `# HELP` and one
// `# TYPE` line per family, then its samples, label values and help texts escaped as the format says, histograms as
// cumulative `_bucket{le=…}` samples ending with `le="+Inf"`, then `_sum` and `_count`. Pure: snapshots in, text out;
// it never reads the registry, a clock or a socket itself.
import type { Metric } from "effect"

/** The Content-Type of the text this module renders. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** A metric or label name made valid: characters outside `[a-zA-Z0-9_:]` (labels: no `:`) become `_`. */
export const sanitizeName = (name: string, label = false): string => {
  const cleaned = name.replace(label ? /[^a-zA-Z0-9_]/g : /[^a-zA-Z0-9_:]/g, "_")
  return cleaned === "" || /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned
}

/** A label value escaped for the text format: backslash, double quote and line feed. */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

/** A HELP text escaped for the text format: backslash and line feed. */
export const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** A sample value as the format writes it (Go float syntax: `+Inf`, `-Inf`, `NaN`). */
export const formatValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Infinity) return "+Inf"
  if (value === -Infinity) return "-Inf"
  return String(value)
}

const labelText = (labels: ReadonlyArray<readonly [string, string]>): string =>
  labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`

const labelsOf = (attributes: Metric.Metric.AttributeSet | undefined): Array<readonly [string, string]> =>
  Object.entries(attributes ?? {})
    .map(([k, v]) => [sanitizeName(k, true), String(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))

const typeOf = (type: Metric.Metric.Type): string => {
  switch (type) {
    case "Counter":
    case "Frequency":
      return "counter"
    case "Gauge":
      return "gauge"
    case "Histogram":
      return "histogram"
    case "Summary":
      return "summary"
  }
}

/** The sample lines of one series (one snapshot). */
const samples = (name: string, snapshot: Metric.Metric.Snapshot): Array<string> => {
  const labels = labelsOf(snapshot.attributes)
  const out: Array<string> = []
  switch (snapshot.type) {
    case "Counter":
      out.push(`${name}${labelText(labels)} ${formatValue(snapshot.state.count)}`)
      break
    case "Gauge":
      out.push(`${name}${labelText(labels)} ${formatValue(snapshot.state.value)}`)
      break
    case "Frequency":
      for (const [key, count] of [...snapshot.state.occurrences].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        out.push(`${name}${labelText([...labels.filter(([k]) => k !== "key"), ["key", key]])} ${formatValue(count)}`)
      }
      break
    case "Histogram": {
      const state = snapshot.state
      let sawInf = false
      for (const [le, count] of state.buckets) {
        if (le === Infinity) sawInf = true
        out.push(`${name}_bucket${labelText([...labels, ["le", formatValue(le)]])} ${formatValue(count)}`)
      }
      if (!sawInf) out.push(`${name}_bucket${labelText([...labels, ["le", "+Inf"]])} ${formatValue(state.count)}`)
      out.push(`${name}_sum${labelText(labels)} ${formatValue(state.sum)}`)
      out.push(`${name}_count${labelText(labels)} ${formatValue(state.count)}`)
      break
    }
    case "Summary": {
      const state = snapshot.state
      for (const [q, v] of state.quantiles) {
        out.push(`${name}${labelText([...labels, ["quantile", formatValue(q)]])} ${formatValue(v ?? NaN)}`)
      }
      out.push(`${name}_sum${labelText(labels)} ${formatValue(state.sum)}`)
      out.push(`${name}_count${labelText(labels)} ${formatValue(state.count)}`)
      break
    }
  }
  return out
}

/**
 * The exposition text of every snapshot: families sorted by name, series within a family sorted by their labels.
 * Series of one name with different types keep the first type seen (the rest are left out, as Prometheus would
 * reject a family of mixed types).
 */
export const render = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>): string => {
  const families = new Map<string, { type: Metric.Metric.Type; help: string | undefined; series: Array<Metric.Metric.Snapshot> }>()
  for (const s of snapshots) {
    const name = sanitizeName(s.id)
    const family = families.get(name)
    if (family === undefined) families.set(name, { type: s.type, help: s.description, series: [s] })
    else if (family.type === s.type) {
      family.series.push(s)
      if (family.help === undefined) family.help = s.description
    }
  }
  const lines: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name)!
    if (family.help !== undefined) lines.push(`# HELP ${name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${name} ${typeOf(family.type)}`)
    const rendered = family.series.map((s) => ({ key: labelText(labelsOf(s.attributes)), lines: samples(name, s) }))
    rendered.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    for (const r of rendered) lines.push(...r.lines)
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n"
}
