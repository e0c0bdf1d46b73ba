// What `pop3d serve` runs besides POP3, for the operator: the services that follow the live settings, the
// observers (metrics, protocol log), the /metrics + /healthz endpoint, and SIGHUP reloads. Cli composes the server
// from these three calls (`layer`, `start`, `serveAll`); nothing here speaks POP3.
import { Effect, Layer, Result } from "effect"
import type { Scope } from "effect"
import * as Fs from "node:fs"
import * as LiveServices from "./LiveServices.ts"
import { LiveSettings, type Shape as Live } from "./LiveSettings.ts"
import * as Metrics from "./Metrics.ts"
import * as MetricsHttp from "./MetricsHttp.ts"
import * as Observer from "./Observer.ts"
import * as ProtocolLog from "./ProtocolLog.ts"
import * as Reload from "./Reload.ts"
import * as Server from "./Server.ts"
import type { Settings } from "./Settings.ts"

const protocolLogOptions = (s: Settings): ProtocolLog.Options => ({
  path: s.protocolLog,
  maxSize: s.protocolLogMaxSize,
  keep: s.protocolLogKeep
})

/** The protocol log, reopened at every reload (new path or size, or a file moved away by logrotate). */
const protocolLog: Layer.Layer<ProtocolLog.ProtocolLog, never, LiveSettings> = Layer.effect(ProtocolLog.ProtocolLog)(
  Effect.gen(function*() {
    const live = yield* LiveSettings
    const context = yield* Effect.context<never>()
    const dropped = Metrics.metrics.protocolLogDropped.get()
    const options = protocolLogOptions(live.now().settings)
    const log = yield* ProtocolLog.make(options, (n) => Metrics.add(dropped, n, context))
    if (options.path !== "") yield* Effect.logInfo("protocol log on").pipe(Effect.annotateLogs({ path: options.path }))
    yield* live.onReload((next) => log.reconfigure(protocolLogOptions(next.settings)))
    return log
  })
)

/** The directory, limits, throttle and observers `serve` runs with, all following `live`; and `live` itself. */
export const layer = (live: Live) =>
  Layer.mergeAll(
    LiveServices.directory,
    LiveServices.limits,
    LiveServices.throttle,
    Observer.layer.pipe(Layer.provide(protocolLog))
  ).pipe(Layer.provideMerge(Layer.succeed(LiveSettings)(live)))

/** What `start` set up, for `serveAll`. */
export interface Handle {
  listeners: ReadonlyArray<Server.Listener>
  readonly serving: Set<string>
}

/**
 * After the data folder is ready, before the listeners open: the certificate goes into the live settings, every
 * metric series is registered, the HTTP endpoint opens (when metrics-listen is set) and SIGHUP starts reloading.
 */
export const start = (
  live: Live,
  load: Reload.Options["load"]
): Effect.Effect<Handle, MetricsHttp.MetricsHttpError, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = live.now().settings
    const handle: Handle = { listeners: [], serving: new Set() }
    if (Fs.existsSync(settings.tlsCert) && Fs.existsSync(settings.tlsKey)) {
      yield* live.set({ ...live.now(), tls: Server.readTls(settings) })
    }
    yield* Metrics.register
    if (settings.metricsListen !== "") {
      const endpoint = MetricsHttp.parseListen(settings.metricsListen)
      if (Result.isFailure(endpoint)) {
        return yield* new MetricsHttp.MetricsHttpError({ message: `metrics-listen: ${endpoint.failure}` })
      }
      const address = yield* MetricsHttp.serve(endpoint.success, {
        listenersDown: () => handle.listeners.filter((l) => !handle.serving.has(l.name)).map((l) => l.name),
        anyListener: () => handle.listeners.length > 0,
        storeRoot: () => live.now().settings.maildirRoot
      })
      yield* Effect.logInfo("metrics endpoint listening").pipe(Effect.annotateLogs({ address, paths: "/metrics /healthz" }))
    }
    yield* Reload.onSighup({
      load,
      live,
      tlsListeners: () =>
        handle.listeners.flatMap((l) =>
          l.setSecureContext === undefined ? [] : [{ name: l.name, setSecureContext: l.setSecureContext }]
        )
    })
    return handle
  })

/** Serves every listener until interrupted (Server.serveAll), each counted as serving for /healthz meanwhile. */
export const serveAll = (handle: Handle, listeners: ReadonlyArray<Server.Listener>) => {
  handle.listeners = listeners
  return Server.serveAll(listeners.map((l) => ({
    ...l,
    serve: Effect.sync(() => void handle.serving.add(l.name)).pipe(
      Effect.andThen(l.serve),
      Effect.ensuring(Effect.sync(() => void handle.serving.delete(l.name)))
    )
  })))
}
