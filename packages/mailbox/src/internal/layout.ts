/**
 * Where a Maildir keeps things and how its file names read (`names.ts`, re-exported here), and the listing of new/
 * and cur/. Shared by the Maildir store and its quota and retention code; it changes nothing on disk. Nothing outside
 * this package imports it.
 */
import * as Fs from "node:fs"
import { Effect } from "effect"
import type { MailboxError } from "../Mailbox.ts"
import * as Files from "./files.ts"
import type { Found, Paths } from "./names.ts"
import { baseName } from "./names.ts"

export * from "./names.ts"

/**
 * The entries of directory `dir` that look like message files (regular files or symlinks, not hidden), passed to
 * `f` as they are read. Read synchronously in slices (`Files.bySlices`): a
 * directory handle read this way costs a third of a `readdir` with file types, which builds every entry twice.
 * A missing directory has no entries.
 */
const eachMessageFile = (dir: string, f: (name: string) => void): Effect.Effect<void, Files.FsError> =>
  Effect.acquireUseRelease(
    Files.orAbsent(Files.attemptSync(() => Fs.opendirSync(dir, { bufferSize: 1024 }))),
    (handle) =>
      handle === undefined ? Effect.void : Files.bySlices((until) => {
        for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) {
          if (!entry.name.startsWith(".") && (entry.isFile() || entry.isSymbolicLink())) f(entry.name)
          if (performance.now() >= until) return true
        }
        return false
      }),
    (handle) => Effect.sync(() => {
      try {
        handle?.closeSync()
      } catch {
        // Closing a directory handle cannot lose anything.
      }
    })
  )

/**
 * Lists message files in new/ and cur/ by base name; a base in both counts as its cur/ file. `onFound` sees each
 * file as it is listed (a base in both folders twice).
 */
export const scan = (p: Paths, onFound?: (found: Found) => void): Effect.Effect<Map<string, Found>, MailboxError> =>
  Effect.gen(function*() {
    const files = new Map<string, Found>()
    for (const dir of ["new", "cur"] as const) {
      yield* eachMessageFile(p[dir], (name) => {
        const base = baseName(name)
        const found: Found = { dir, name, base }
        files.set(base, found)
        onFound?.(found)
      })
    }
    return files
  }).pipe(Effect.mapError(Files.toMailboxError("list the mailbox")))
