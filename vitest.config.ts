// Vitest for the whole workspace (unit, property and end-to-end suites). Only the worker count differs from the
// defaults: the end-to-end files (test/e2e) spend most of their time waiting on real servers, sockets and timers,
// so on a small CI machine (2 CPUs gives vitest's default of 1 worker) running two files at once roughly halves
// the wall time without starving anything.
import * as Os from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    maxWorkers: Math.max(2, Os.availableParallelism() - 1),
    // Password hashing (scrypt, bcrypt) is CPU-bound by design; on a loaded 2-core machine a single hash can take
    // several times its idle cost, so allow for it instead of failing on time.
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
