import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import * as Metrics from "../src/Metrics.ts"
import * as Prometheus from "../src/Prometheus.ts"
import * as Parser from "../../../test/helpers/prometheus.ts"

/** Runs `f` against a registry of its own, so tests do not see each other's series. */
const isolated = <A>(f: Effect.Effect<A>) => Effect.provideService(f, Metric.MetricRegistry, new Map())

describe("Prometheus text exposition", () => {
  it.effect("renders counters, gauges and histograms exactly, labels escaped, +Inf bucket added", () =>
    isolated(Effect.gen(function*() {
      const c = Metric.counter("demo_requests_total", { description: "Requests\\served\nso far", incremental: true })
      yield* Metric.update(Metric.withAttributes(c, { path: "/a\"b\\c\nd", method: "GET" }), 2)
      yield* Metric.update(Metric.withAttributes(c, { path: "/", method: "GET" }), 1)
      yield* Metric.update(Metric.gauge("demo_open", { description: "Open now" }), 3)
      const h = Metric.histogram("demo_seconds", { description: "Latency", boundaries: [0.1, 1], attributes: { verb: "RETR" } })
      for (const v of [0.05, 0.1, 0.5, 7]) yield* Metric.update(h, v)
      const text = Prometheus.render(yield* Metric.snapshot)
      assert.strictEqual(
        text,
        [
          "# HELP demo_open Open now",
          "# TYPE demo_open gauge",
          "demo_open 3",
          "# HELP demo_requests_total Requests\\\\served\\nso far",
          "# TYPE demo_requests_total counter",
          "demo_requests_total{method=\"GET\",path=\"/\"} 1",
          "demo_requests_total{method=\"GET\",path=\"/a\\\"b\\\\c\\nd\"} 2",
          "# HELP demo_seconds Latency",
          "# TYPE demo_seconds histogram",
          "demo_seconds_bucket{verb=\"RETR\",le=\"0.1\"} 2",
          "demo_seconds_bucket{verb=\"RETR\",le=\"1\"} 3",
          "demo_seconds_bucket{verb=\"RETR\",le=\"+Inf\"} 4",
          "demo_seconds_sum{verb=\"RETR\"} 7.65",
          "demo_seconds_count{verb=\"RETR\"} 4",
          ""
        ].join("\n")
      )
      const parsed = Parser.parse(text)
      assert.strictEqual(Parser.value(parsed, "demo_requests_total", { path: "/a\"b\\c\nd" }), 2)
      assert.strictEqual(parsed.get("demo_requests_total")!.help, "Requests\\served\nso far")
      assert.strictEqual(Parser.value(parsed, "demo_seconds_bucket", { le: "+Inf" }), 4)
    })))

  it.effect("a histogram whose boundaries end in Infinity gets exactly one +Inf bucket", () =>
    isolated(Effect.gen(function*() {
      const h = Metric.histogram("x_seconds", { boundaries: Metric.linearBoundaries({ start: 1, width: 1, count: 3 }) })
      yield* Metric.update(h, 10)
      const text = Prometheus.render(yield* Metric.snapshot)
      assert.strictEqual(text.split("\n").filter((l) => l.includes("le=\"+Inf\"")).length, 1)
      Parser.parse(text)
    })))

  it("formats values as Go floats and sanitises names", () => {
    assert.deepStrictEqual([Infinity, -Infinity, NaN, 1.5, 10n, 1e-7].map(Prometheus.formatValue), [
      "+Inf",
      "-Inf",
      "NaN",
      "1.5",
      "10",
      "1e-7"
    ])
    assert.strictEqual(Prometheus.sanitizeName("a.b-c"), "a_b_c")
    assert.strictEqual(Prometheus.sanitizeName("9x"), "_9x")
    assert.strictEqual(Prometheus.sanitizeName("a:b", true), "a_b")
  })

  it.effect("pop3d's whole metric set renders as valid text, every series at 0 after register", () =>
    isolated(Effect.gen(function*() {
      yield* Metrics.register
      const parsed = Parser.parse(yield* Metrics.exposition)
      assert.strictEqual(parsed.get("pop3d_logins_total")!.type, "counter")
      assert.strictEqual(parsed.get("pop3d_command_duration_seconds")!.type, "histogram")
      assert.strictEqual(Parser.value(parsed, "pop3d_logins_total", { mechanism: "NTLM", result: "failed" }), 0)
      assert.strictEqual(Parser.value(parsed, "pop3d_connections_open", { listener: "pop3s" }), 0)
      assert.strictEqual(Parser.total(parsed, "pop3d_commands_total"), 0)
    })))

  it("the strict parser rejects what the format does not allow", () => {
    const bad = [
      "x 1", // no final line feed
      "x{a=\"1\"} 1\nx{a=\"1\"} 2\n", // duplicate series
      "x{a=\"\\t\"} 1\n", // bad escape
      "x 1\n# TYPE x counter\n", // TYPE after samples
      "# TYPE x counter\nx -1\n", // negative counter
      "x one\n", // not a float
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n", // no +Inf
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", // not cumulative
      "a 1\nb 1\na{x=\"1\"} 1\n" // family split
    ]
    for (const text of bad) assert.throws(() => Parser.parse(text), undefined, undefined, JSON.stringify(text))
    Parser.parse("# some comment\n\nx{a=\"1\",} 1 1700000000000\n")
  })
})
