/**
 * Test helpers for the store suites: temporary Maildir roots that clean up
 * after themselves, and small byte utilities. Test code only.
 */
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, Layer, Stream } from "effect"
import { Mailbox, Maildir } from "../src/index.ts"

/** A fresh temporary directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "pop3d-mailbox-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

/** A Maildir store over a fresh temporary root (one per build). */
export const maildirTemp: Layer.Layer<Mailbox.Mailbox> = Layer.unwrap(
  Effect.map(tempDir, (root) => Maildir.layer({ root }))
)

/** UTF-8 bytes of a string. */
export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

/** A string from UTF-8 bytes. */
export const text = (data: Uint8Array): string => new TextDecoder().decode(data)

/** Reads a whole message of a snapshot into one array. */
export const readAll = (view: Mailbox.MailboxView, index: number) => Stream.mkUint8Array(view.read(index))

/** The size a message has on the wire, computed the slow and obvious way. */
export const referenceWireSize = (data: Uint8Array): number => {
  if (data.length === 0) return 0
  const normalised = Buffer.from(data).toString("latin1").replace(/\r\n|\r|\n/g, "\r\n")
  return normalised.length + (normalised.endsWith("\r\n") ? 0 : 2)
}
