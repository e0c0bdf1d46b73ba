// The node entrypoint. It first turns on Node's compile cache, so that the modules this process and its worker
// threads load are read from disk already stripped of their types and compiled: a worker thread then boots in about
// a third of the time (a big mailbox's first open waits for one), the server in about three quarters. The cache
// lives next to the installation, in node_modules/.cache/pop3d (Node checks each entry against its source; it is
// never shared with other users the way the system's temporary folder would be). NODE_COMPILE_CACHE moves it and
// NODE_DISABLE_COMPILE_CACHE=1 turns it off, as for any Node program; where the folder cannot be written, nothing
// is cached. Then it runs the command line (`main.ts`).
import * as Module from "node:module"
import { fileURLToPath } from "node:url"

const cache = Module.enableCompileCache(fileURLToPath(new URL("../../../node_modules/.cache/pop3d", import.meta.url)))
// Worker threads start with this environment and so use the same cache (one the environment named already stands:
// Node reports the versioned folder inside it, which would give them a cache of their own).
if (cache.directory !== undefined) process.env["NODE_COMPILE_CACHE"] ??= cache.directory
await import("./main.ts")
// What the command line has loaded is written now, not at exit: a server stopped by SIGKILL still leaves it.
Module.flushCompileCache()
