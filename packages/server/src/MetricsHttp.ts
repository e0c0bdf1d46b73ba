// The operator's HTTP endpoint (setting metrics-listen): GET /metrics serves every metric in Prometheus's text
// format, GET /healthz answers 200 when the POP3 listeners are up and the store root is readable, 503 with the
// reasons otherwise. A plain node:http server in the current scope; it serves nothing else and reads no request body.
import { Effect, Result, Schema } from "effect"
import type { Scope } from "effect"
import * as FsP from "node:fs/promises"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Metrics from "./Metrics.ts"
import * as Prometheus from "./Prometheus.ts"

/** Where the endpoint listens. */
export interface Endpoint {
  readonly host: string
  readonly port: number
}

/** The endpoint could not be opened (address in use, bad address). */
export class MetricsHttpError extends Schema.TaggedError<MetricsHttpError>()("MetricsHttpError", {
  message: Schema.String
}) {}

/**
 * Parses the metrics-listen setting: `PORT` (loopback, 127.0.0.1), `HOST:PORT` or `[IPV6]:PORT`. The empty
 * string is not an endpoint (the endpoint is off).
 */
export const parseListen = (text: string): Result.Result<Endpoint, string> => {
  const t = text.trim()
  const port = (p: string) => {
    const n = Number(p)
    return /^[0-9]{1,5}$/.test(p) && n >= 1 && n <= 65535 ? n : undefined
  }
  let m: RegExpExecArray | null
  if ((m = /^([0-9]+)$/.exec(t)) !== null) {
    const p = port(m[1]!)
    if (p !== undefined) return Result.succeed({ host: "127.0.0.1", port: p })
  } else if ((m = /^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$/.exec(t)) !== null) {
    const p = port(m[2]!)
    if (p !== undefined) return Result.succeed({ host: m[1]!, port: p })
  } else if ((m = /^([^\s:[\]]+):([0-9]+)$/.exec(t)) !== null) {
    const p = port(m[2]!)
    if (p !== undefined) return Result.succeed({ host: m[1]!, port: p })
  }
  return Result.fail("expected PORT, HOST:PORT or [IPV6]:PORT with a port from 1 to 65535")
}

/** What /healthz checks. */
export interface Health {
  /** The names of listeners that are configured but not serving (empty when all are up). */
  readonly listenersDown: () => ReadonlyArray<string>
  /** Whether any listener is configured at all. */
  readonly anyListener: () => boolean
  /** The store root that must be readable. */
  readonly storeRoot: () => string
}

/** The problems /healthz reports; none means healthy. */
export const problems = (health: Health): Effect.Effect<ReadonlyArray<string>> =>
  Effect.promise(async () => {
    const out: Array<string> = []
    if (!health.anyListener()) out.push("no POP3 listener is configured")
    for (const name of health.listenersDown()) out.push(`listener ${name} is not serving`)
    const root = health.storeRoot()
    try {
      await FsP.access(root, Fs.constants.R_OK | Fs.constants.X_OK)
      await (await FsP.opendir(root)).close()
    } catch (e) {
      out.push(`store root ${root} is not readable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    }
    return out
  })

const respond = (res: Http.ServerResponse, head: boolean, status: number, type: string, body: string) => {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" })
  res.end(head ? undefined : body)
}

/** Opens the endpoint in the current scope (closed with it); returns the address it listens on. */
export const serve = (
  endpoint: Endpoint,
  health: Health
): Effect.Effect<string, MetricsHttpError, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const run = <A>(effect: Effect.Effect<A>) => Effect.runPromiseWith(context)(effect)
    const handle = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
      const head = req.method === "HEAD"
      if (req.method !== "GET" && !head) {
        res.setHeader("allow", "GET, HEAD")
        return respond(res, false, 405, "text/plain; charset=utf-8", "method not allowed\n")
      }
      const path = (req.url ?? "/").split("?")[0]
      if (path === "/metrics") {
        run(Metrics.exposition).then(
          (text) => respond(res, head, 200, Prometheus.contentType, text),
          () => respond(res, head, 500, "text/plain; charset=utf-8", "cannot render metrics\n")
        )
      } else if (path === "/healthz") {
        run(problems(health)).then(
          (found) =>
            found.length === 0
              ? respond(res, head, 200, "text/plain; charset=utf-8", "ok\n")
              : respond(res, head, 503, "text/plain; charset=utf-8", found.join("\n") + "\n"),
          () => respond(res, head, 503, "text/plain; charset=utf-8", "health check failed\n")
        )
      } else {
        respond(res, head, 404, "text/plain; charset=utf-8", "not found: try /metrics or /healthz\n")
      }
    }
    const server = yield* Effect.acquireRelease(
      Effect.callback<Http.Server, MetricsHttpError>((resume) => {
        const s = Http.createServer(handle)
        s.keepAliveTimeout = 5_000
        s.requestTimeout = 10_000
        s.headersTimeout = 10_000
        s.once("error", (e) =>
          resume(Effect.fail(new MetricsHttpError({ message: `cannot listen on ${endpoint.host}:${endpoint.port}: ${e.message}` }))))
        s.listen({ host: endpoint.host, port: endpoint.port }, () => resume(Effect.succeed(s)))
      }),
      (s) =>
        Effect.callback<void>((resume) => {
          s.close(() => resume(Effect.void))
          s.closeAllConnections()
        })
    )
    const address = server.address()
    return typeof address === "object" && address !== null
      ? `${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`
      : String(address)
  })
