// The `pop3d` command line, run by the node entrypoint (`bin.ts`). SIGTERM/SIGINT interrupt the program (every
// connection gets its closing notice); a clean shutdown exits 0, a failed command exits with its sysexits code.
import { Cause, Console, Effect, Exit, Layer, Logger } from "effect"
import { Command } from "effect/cli"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { CliFailure, ExitCode, pop3d } from "./Cli.ts"

const program = Command.run(pop3d, { version: "0.1.0" }).pipe(
  Effect.catch((e) =>
    e instanceof CliFailure
      ? Console.error(`pop3d: ${e.message}`).pipe(Effect.andThen(Effect.sync(() => process.exit(e.code))))
      : Effect.fail(e)
  ),
  Effect.provide(Layer.mergeAll(NodeServices.layer, Logger.layer([Logger.consoleLogFmt])))
)

NodeRuntime.runMain(program, {
  teardown: (exit, onExit) =>
    onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : ExitCode.software)
})
