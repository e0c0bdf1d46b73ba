// The protocol log (Exchange's ProtocolLogEnabled): every command and the first line of every reply, one line per
// event with the session id, a timestamp and the direction, written to a file rotated by size. What it must never
// contain: a password (PASS, APOP), a SASL payload (AUTH's initial response, the client's continuation lines, the
// server's challenges) or a message body (only first lines of replies are written). Writing never blocks a
// connection: lines go into a bounded queue that one fiber appends to the file; when it is full, lines are dropped
// and counted.
import { Context, Effect, Layer, Queue, Semaphore } from "effect"
import type { Scope } from "effect"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"

/** Where and how much to write; `path` "" turns the log off. */
export interface Options {
  readonly path: string
  /** Octets after which the file is rotated. */
  readonly maxSize: number
  /** Rotated files kept: `path.1` (newest) … `path.keep`; 0 keeps none. */
  readonly keep: number
}

/** Lines buffered before new ones are dropped. */
export const capacity = 10_000

/** What a redacted part is replaced with. */
export const redacted = "***"

/** The protocol log service. */
export interface Shape {
  /** Whether a file is configured (callers skip formatting when not). */
  readonly enabled: () => boolean
  /** Queues one line (no newline); never blocks. Returns false when the line was dropped. */
  readonly write: (line: string) => boolean
  /** Switches to new options: the current file is closed and the (new) path reopened at the next write. */
  readonly reconfigure: (options: Options) => Effect.Effect<void>
  /** Writes everything queued so far. */
  readonly flush: Effect.Effect<void>
  /** Lines dropped so far. */
  readonly dropped: () => number
}

/** The protocol log service tag. */
export class ProtocolLog extends Context.Service<ProtocolLog, Shape>()("@pop3d/server/ProtocolLog") {}

// ---------------------------------------------------------------------------------------------------------------
// What a line says

/** Control characters (and anything outside latin1's printable range) as `\xNN`, so a line stays one line. */
const printable = (text: string): string =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

/** Longest text kept of one line (a SASL response may be 64 KiB; it is redacted anyway). */
const maxText = 600

const clip = (text: string) => (text.length > maxText ? `${text.slice(0, maxText)}…` : text)

/**
 * A client line as the log shows it. `inSasl`: the line is a SASL response (only a bare `*`, the cancel, is
 * shown). PASS keeps only its keyword, AUTH its mechanism, APOP its user name.
 */
export const clientText = (line: string, inSasl: boolean): string => {
  if (inSasl) return line.trim() === "*" ? "*" : redacted
  const pass = /^([ \t]*PASS)(?:[ \t]|$)/i.exec(line)
  if (pass !== null) return `${pass[1]!.trim()} ${redacted}`
  const auth = /^([ \t]*AUTH[ \t]+[^ \t]+)[ \t]+[^ \t]/i.exec(line)
  if (auth !== null) return printable(clip(`${auth[1]!.trim()} ${redacted}`))
  const apop = /^([ \t]*APOP[ \t]+[^ \t]+)[ \t]+[^ \t]/i.exec(line)
  if (apop !== null) return printable(clip(`${apop[1]!.trim()} ${redacted}`))
  return printable(clip(line))
}

/** The first line of a reply as the log shows it; a SASL challenge's payload is redacted. */
export const serverText = (reply: string): string => {
  const end = reply.indexOf("\r\n")
  const first = end === -1 ? reply : reply.slice(0, end)
  if (first.startsWith("+ ") && first.length > 2) return `+ ${redacted}`
  return printable(clip(first))
}

/** One log line: timestamp, session id, direction (`C:` client, `S:` server, `*` event) and text. */
export const format = (session: string, direction: "C:" | "S:" | "*", text: string, date = new Date()): string =>
  `${date.toISOString()} ${session} ${direction} ${text}`

// ---------------------------------------------------------------------------------------------------------------
// The file

interface OpenFile {
  readonly handle: FsP.FileHandle
  size: number
}

const rotate = async (options: Options): Promise<void> => {
  const { keep, path } = options
  if (keep <= 0) {
    await FsP.rm(path, { force: true })
    return
  }
  await FsP.rm(`${path}.${keep}`, { force: true })
  for (let i = keep - 1; i >= 1; i--) {
    await FsP.rename(`${path}.${i}`, `${path}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e
    })
  }
  await FsP.rename(path, `${path}.1`).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e
  })
}

const open = async (path: string): Promise<OpenFile> => {
  await FsP.mkdir(Path.dirname(path), { recursive: true })
  const handle = await FsP.open(path, Fs.constants.O_WRONLY | Fs.constants.O_APPEND | Fs.constants.O_CREAT, 0o600)
  const { size } = await handle.stat()
  return { handle, size }
}

/** The log service: a bounded queue and one writer fiber in the current scope; the rest is flushed at close. */
export const make = (initial: Options, onDrop?: (lines: number) => void): Effect.Effect<Shape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.dropping<string>(capacity)
    const lock = yield* Semaphore.make(1)
    let options = initial
    let file: OpenFile | undefined
    let dropped = 0
    let failing = false

    const drop = (n: number) => {
      dropped += n
      onDrop?.(n)
    }

    const close = async () => {
      const f = file
      file = undefined
      if (f !== undefined) await f.handle.close().catch(() => {})
    }

    // Appends the lines, rotating before a line that would take the file past maxSize (a file holds at least one
    // line). Runs under the lock, uninterruptibly, so writes never interleave.
    const append = (lines: ReadonlyArray<string>) =>
      Effect.tryPromise({
        try: async () => {
          if (options.path === "") return
          if (file === undefined) file = await open(options.path)
          let chunk: Array<string> = []
          let chunkBytes = 0
          const writeChunk = async () => {
            if (chunk.length === 0) return
            const data = chunk.join("")
            chunk = []
            chunkBytes = 0
            await file!.handle.write(data, null, "utf8")
            file!.size += Buffer.byteLength(data, "utf8")
          }
          for (const line of lines) {
            if (line === "") continue
            const text = line + "\n"
            const bytes = Buffer.byteLength(text, "utf8")
            if (file.size + chunkBytes > 0 && file.size + chunkBytes + bytes > options.maxSize) {
              await writeChunk()
              if (file.size > 0) {
                await close()
                await rotate(options)
                file = await open(options.path)
              }
            }
            chunk.push(text)
            chunkBytes += bytes
          }
          await writeChunk()
        },
        catch: (e) => e as Error
      }).pipe(
        Effect.andThen(Effect.sync(() => {
          failing = false
        })),
        Effect.catch((e: Error) =>
          Effect.suspend(() => {
            drop(lines.length)
            const first = !failing
            failing = true
            return Effect.promise(close).pipe(
              Effect.andThen(
                first
                  ? Effect.logWarning("protocol log: cannot write, dropping lines until it works again").pipe(Effect.annotateLogs({
                    path: options.path,
                    error: e.message
                  }))
                  : Effect.void
              )
            )
          })
        ),
        lock.withPermits(1),
        Effect.uninterruptible
      )

    const flush: Effect.Effect<void> = Effect.flatMap(
      Queue.clear(queue),
      (lines) => (lines.length === 0 ? Effect.void : append(lines))
    )

    yield* Effect.addFinalizer(() => flush.pipe(Effect.andThen(Effect.promise(close))))
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.takeAll(queue), append)))

    return {
      enabled: () => options.path !== "",
      write: (line) => {
        if (options.path === "") return false
        if (Queue.offerUnsafe(queue, line)) return true
        drop(1)
        return false
      },
      reconfigure: (next) =>
        flush.pipe(
          Effect.andThen(lock.withPermits(1)(Effect.promise(async () => {
            await close()
            options = next
            failing = false
          })))
        ),
      flush,
      dropped: () => dropped
    } satisfies Shape
  })

/** The protocol log as a layer (scoped: the file is flushed and closed with it). */
export const layer = (options: Options, onDrop?: (lines: number) => void): Layer.Layer<ProtocolLog> =>
  Layer.effect(ProtocolLog, make(options, onDrop))
