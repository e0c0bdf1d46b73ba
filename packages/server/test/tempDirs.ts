// Temporary folders for a test file, all removed after its tests (register at the top level of the file).
import { afterAll } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** A maker of fresh folders named `prefix…` under the system's temporary folder; every one is removed after all. */
export const tempDirs = (prefix: string): () => string => {
  const made: Array<string> = []
  afterAll(() => {
    for (const dir of made) Fs.rmSync(dir, { recursive: true, force: true })
  })
  return () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))
    made.push(dir)
    return dir
  }
}
