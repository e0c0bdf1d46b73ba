// The session environment and connection options the server's unit tests share: plaintext allowed, PLAIN only,
// Exchange's default limits and timers, a documentation address (192.0.2.1) as the client.
import { Plain } from "@pop3d/auth"
import type * as Connection from "../src/Connection.ts"
import type * as Session from "../src/Session.ts"

/** A session environment for tests. */
export const env: Session.Env = {
  exactRfc822Size: true,
  plaintext: "allowed",
  maxAuthFailures: 3,
  maxCommandSize: 512,
  tlsAvailable: false,
  mechanisms: [Plain.mechanism],
  implementation: "pop3d"
}

/** Connection options for tests over a given session environment. */
export const connectionOptions = (sessionEnv: Session.Env = env): Connection.ConnectionOptions => ({
  env: sessionEnv,
  secure: false,
  tls: undefined,
  maxCommandSize: 512,
  maxSaslResponse: 65536,
  unauthenticatedTimeout: 60,
  authenticatedTimeout: 1800,
  peer: "192.0.2.1:1234",
  address: "192.0.2.1",
  listener: "test"
})
