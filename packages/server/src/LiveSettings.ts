// The settings in force right now, as a SubscriptionRef: what a new connection reads when it starts (timeouts,
// limits, plaintext policy, mechanisms, the STLS certificate), and the list of parts that must be told when a
// reload changes them (users file, throttle, protocol log). It never reads files or signals itself: Reload does.
import { Context, Effect, SubscriptionRef } from "effect"
import type { Scope } from "effect"
import type { Sasl } from "@pop3d/auth"
import type { TlsMaterial } from "./Connection.ts"
import type { Settings } from "./Settings.ts"

/** Everything a reload can change while the server runs. */
export interface Current {
  readonly settings: Settings
  readonly mechanisms: ReadonlyArray<Sasl.SaslMechanism>
  /** The certificate and key for new TLS sessions (undefined: no certificate, TLS off). */
  readonly tls: TlsMaterial | undefined
}

/** Brings one part of the server in line with new settings; logs its own failures and keeps what it had. */
export type Applier = (next: Current, previous: Current) => Effect.Effect<void>

/** The live settings service. */
export interface Shape {
  /** The settings in force; readers that need a consistent view at one moment read it once. */
  readonly ref: SubscriptionRef.SubscriptionRef<Current>
  /** The settings in force, read synchronously (per connection, per STLS upgrade). */
  readonly now: () => Current
  /** Registers an applier for the lifetime of the current scope; appliers run in registration order. */
  readonly onReload: (apply: Applier) => Effect.Effect<void, never, Scope.Scope>
  /** Runs every applier with `next`, then puts `next` in force. */
  readonly apply: (next: Current) => Effect.Effect<void>
  /** Replaces what is in force without running the appliers (start-up: the certificate made by first start). */
  readonly set: (next: Current) => Effect.Effect<void>
}

/** The live settings service tag. */
export class LiveSettings extends Context.Service<LiveSettings, Shape>()("@pop3d/server/LiveSettings") {}

/** Makes the live settings, starting from `initial`. */
export const make = (initial: Current): Effect.Effect<Shape> =>
  Effect.gen(function*() {
    const ref = yield* SubscriptionRef.make(initial)
    const appliers: Array<Applier> = []
    return {
      ref,
      now: () => SubscriptionRef.getUnsafe(ref),
      onReload: (apply) =>
        Effect.acquireRelease(
          Effect.sync(() => void appliers.push(apply)),
          () => Effect.sync(() => void appliers.splice(appliers.indexOf(apply), 1))
        ),
      apply: (next) =>
        Effect.gen(function*() {
          const previous = SubscriptionRef.getUnsafe(ref)
          for (const apply of [...appliers]) yield* apply(next, previous)
          yield* SubscriptionRef.set(ref, next)
        }),
      set: (next) => SubscriptionRef.set(ref, next)
    } satisfies Shape
  })
