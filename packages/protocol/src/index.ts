// The pure POP3 codecs: bytes in, values out. Nothing here opens a socket, reads a clock or touches a file.
// Each module is re-exported as a namespace named after its concept.

/** Cutting the client's byte stream into bounded command lines. */
export * as LineFramer from "./LineFramer.ts"
/** The command Schema and the line decoder. */
export * as Command from "./Command.ts"
/** Status lines, response codes and small multi-line bodies. */
export * as Reply from "./Reply.ts"
/** Streaming RETR/TOP message encoding. */
export * as DotStuffer from "./DotStuffer.ts"
/** Exact wire sizes of stored messages. */
export * as Rfc822 from "./Rfc822.ts"
/** The CAPA capability list. */
export * as Capa from "./Capa.ts"
/** SASL base64 and PLAIN codecs. */
export * as Sasl from "./Sasl.ts"
