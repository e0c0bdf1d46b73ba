/**
 * Test helpers for @pop3d/auth: a temporary directory per test, a logger that
 * captures messages, and a scrypt that counts its calls.
 */
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { Effect, Layer, Logger } from "effect"
import type { Scope } from "effect"
import * as PasswordScheme from "../src/PasswordScheme.ts"

/** Cheap scrypt cost for tests that do not measure time. */
export const fastParams: PasswordScheme.ScryptParams = { ln: 10, r: 8, p: 1 }

/** A fresh temporary directory, removed when the test's scope closes. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(NodePath.join(Os.tmpdir(), "pop3d-auth-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

/** A logger layer that appends each message (joined to one string) to `into`. */
export const captureLogs = (into: Array<string>): Layer.Layer<never> =>
  Logger.layer([
    Logger.make((options) => {
      const parts = Array.isArray(options.message) ? options.message : [options.message]
      into.push(parts.map(String).join(" "))
    })
  ])

/** Node's scrypt wrapped to count calls. */
export const countingScrypt = () => {
  const counter = { calls: 0 }
  const scrypt: PasswordScheme.ScryptFn = (password, salt, keyLength, params) =>
    Effect.suspend(() => {
      counter.calls++
      return PasswordScheme.nodeScrypt(password, salt, keyLength, params)
    })
  return { counter, scrypt }
}
