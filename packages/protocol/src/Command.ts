// Owns the POP3 command grammar: a framed line in, a `Command` (checked by its Schema) or a `CommandError` out.
// Separators are runs of SP/TAB except after PASS, where exactly one SP/TAB is consumed and the rest of the line is
// the password verbatim ("PASS  a b " gives " a b "). It must never throw, nor echo over 40 octets of a verb.
import { Data, Result, Schema } from "effect"

/** A message number: a decimal integer from 1 to 999999999 (at most 9 significant digits). */
export const MessageNumber = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 999_999_999 }))

/** A TOP line count: a decimal integer from 0 to 999999999. */
export const LineCount = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 999_999_999 }))

/** A SASL mechanism name as RFC 4422 spells it (upper case letters, digits, "-" and "_", 1 to 20 octets). */
export const MechanismName = Schema.String.check(Schema.isPattern(/^[A-Z0-9_-]{1,20}$/))

/** USER name: the mailbox name, without the separators around it. */
export const User = Schema.TaggedStruct("USER", { name: Schema.NonEmptyString })
/** PASS password: the rest of the line after one separator octet, inner and trailing spaces kept. */
export const Pass = Schema.TaggedStruct("PASS", { password: Schema.NonEmptyString })
/** APOP with whatever arguments it came with, decoded only so that the session can refuse it explicitly. */
export const Apop = Schema.TaggedStruct("APOP", { args: Schema.Array(Schema.String) })
/** QUIT. */
export const Quit = Schema.TaggedStruct("QUIT", {})
/** STAT. */
export const Stat = Schema.TaggedStruct("STAT", {})
/** LIST, for every message or for one message number. */
export const List = Schema.TaggedStruct("LIST", { msg: Schema.optionalKey(MessageNumber) })
/** RETR msg. */
export const Retr = Schema.TaggedStruct("RETR", { msg: MessageNumber })
/** DELE msg. */
export const Dele = Schema.TaggedStruct("DELE", { msg: MessageNumber })
/** NOOP. */
export const Noop = Schema.TaggedStruct("NOOP", {})
/** RSET. */
export const Rset = Schema.TaggedStruct("RSET", {})
/** TOP msg lines. */
export const Top = Schema.TaggedStruct("TOP", { msg: MessageNumber, lines: LineCount })
/** UIDL, for every message or for one message number. */
export const Uidl = Schema.TaggedStruct("UIDL", { msg: Schema.optionalKey(MessageNumber) })
/** CAPA. */
export const Capa = Schema.TaggedStruct("CAPA", {})
/** STLS. */
export const Stls = Schema.TaggedStruct("STLS", {})
/** AUTH [mechanism [initial-response]]; the mechanism is upper-cased, the initial response kept verbatim (base64). */
export const Auth = Schema.TaggedStruct("AUTH", {
  mechanism: Schema.optionalKey(MechanismName),
  initialResponse: Schema.optionalKey(Schema.NonEmptyString)
})

/** Every POP3 command pop3d understands, as a tagged union on `_tag` (the upper-case keyword). */
export const Command = Schema.Union([
  User,
  Pass,
  Apop,
  Quit,
  Stat,
  List,
  Retr,
  Dele,
  Noop,
  Rset,
  Top,
  Uidl,
  Capa,
  Stls,
  Auth
])

/** A decoded POP3 command. */
export type Command = typeof Command.Type

/** The keyword of a command (its `_tag`). */
export type Verb = Command["_tag"]

/** Why a line is not a command: an unknown keyword (`Unknown`) or a known one used wrongly (`Syntax`). */
export class CommandError extends Data.TaggedError("CommandError")<{
  readonly reason: "Unknown" | "Syntax"
  readonly verb?: string
  readonly message: string
}> {}

/** The longest part of an unknown keyword that is kept in a `CommandError`. */
export const maxEchoedVerb = 40

const validate = Schema.decodeUnknownResult(Command)

const SP = 32
const TAB = 9

const isSeparator = (code: number): boolean => code === SP || code === TAB

// Splits `line` from `from` on runs of SP/TAB, dropping empty tokens.
const tokenize = (line: string, from: number): Array<string> => {
  const tokens: Array<string> = []
  const length = line.length
  let i = from
  while (i < length) {
    while (i < length && isSeparator(line.charCodeAt(i))) i++
    if (i >= length) break
    const start = i
    while (i < length && !isSeparator(line.charCodeAt(i))) i++
    tokens.push(line.slice(start, i))
  }
  return tokens
}

const syntax = (verb: Verb, message: string): Result.Result<never, CommandError> =>
  Result.fail(new CommandError({ reason: "Syntax", verb, message }))

// Parses a decimal number argument: ASCII digits only, leading zeros ignored, at most 9 significant digits.
const parseNumber = (
  verb: Verb,
  token: string,
  what: "message number" | "line count",
  minimum: 0 | 1
): Result.Result<number, CommandError> => {
  let i = 0
  const length = token.length
  for (let j = 0; j < length; j++) {
    const code = token.charCodeAt(j)
    if (code < 48 || code > 57) {
      return syntax(
        verb,
        `${verb}: ${what} must be a ${minimum === 1 ? "positive" : "non-negative"} decimal integer`
      )
    }
  }
  while (i < length - 1 && token.charCodeAt(i) === 48) i++
  if (length - i > 9) return syntax(verb, `${verb}: ${what} too large`)
  const value = Number(token.slice(i))
  if (value < minimum) return syntax(verb, `${verb}: ${what} must be ${minimum} or more`)
  return Result.succeed(value)
}

type Decoder = (line: string, args: number) => Result.Result<unknown, CommandError>

const noArguments = (verb: Verb): Decoder => (line, args) =>
  tokenize(line, args).length === 0 ? Result.succeed({ _tag: verb }) : syntax(verb, `${verb} takes no arguments`)

const optionalMessage = (verb: "LIST" | "UIDL"): Decoder => (line, args) => {
  const tokens = tokenize(line, args)
  if (tokens.length === 0) return Result.succeed({ _tag: verb })
  if (tokens.length > 1) return syntax(verb, `${verb} takes at most one argument`)
  return Result.map(parseNumber(verb, tokens[0]!, "message number", 1), (msg) => ({ _tag: verb, msg }))
}

const oneMessage = (verb: "RETR" | "DELE"): Decoder => (line, args) => {
  const tokens = tokenize(line, args)
  if (tokens.length === 0) return syntax(verb, `${verb} needs a message number`)
  if (tokens.length > 1) return syntax(verb, `${verb} takes exactly one argument`)
  return Result.map(parseNumber(verb, tokens[0]!, "message number", 1), (msg) => ({ _tag: verb, msg }))
}

// The rest of `line` after the separator run that starts at `args`, with trailing SP/TAB removed.
const restTrimmed = (line: string, args: number): string => {
  let start = args
  let end = line.length
  while (start < end && isSeparator(line.charCodeAt(start))) start++
  while (end > start && isSeparator(line.charCodeAt(end - 1))) end--
  return line.slice(start, end)
}

const decoders: Record<Verb, Decoder> = {
  USER: (line, args) => {
    const name = restTrimmed(line, args)
    return name.length === 0 ? syntax("USER", "USER needs a mailbox name") : Result.succeed({ _tag: "USER", name })
  },
  PASS: (line, args) => {
    // `args` is the index just after the keyword: either the end of the line or a separator octet.
    const password = line.slice(args + 1)
    return password.length === 0
      ? syntax("PASS", "PASS needs a password")
      : Result.succeed({ _tag: "PASS", password })
  },
  APOP: (line, args) => Result.succeed({ _tag: "APOP", args: tokenize(line, args) }),
  QUIT: noArguments("QUIT"),
  STAT: noArguments("STAT"),
  LIST: optionalMessage("LIST"),
  RETR: oneMessage("RETR"),
  DELE: oneMessage("DELE"),
  NOOP: noArguments("NOOP"),
  RSET: noArguments("RSET"),
  TOP: (line, args) => {
    const tokens = tokenize(line, args)
    if (tokens.length < 2) return syntax("TOP", "TOP needs a message number and a line count")
    if (tokens.length > 2) return syntax("TOP", "TOP takes exactly two arguments")
    return Result.flatMap(
      parseNumber("TOP", tokens[0]!, "message number", 1),
      (msg) => Result.map(parseNumber("TOP", tokens[1]!, "line count", 0), (lines) => ({ _tag: "TOP", msg, lines }))
    )
  },
  UIDL: optionalMessage("UIDL"),
  CAPA: noArguments("CAPA"),
  STLS: noArguments("STLS"),
  AUTH: (line, args) => {
    const tokens = tokenize(line, args)
    if (tokens.length === 0) return Result.succeed({ _tag: "AUTH" })
    if (tokens.length > 2) return syntax("AUTH", "AUTH takes at most a mechanism and an initial response")
    const mechanism = tokens[0]!.toUpperCase()
    if (!/^[A-Z0-9_-]{1,20}$/.test(mechanism)) return syntax("AUTH", "AUTH: mechanism name is not valid")
    return Result.succeed(
      tokens.length === 1 ? { _tag: "AUTH", mechanism } : { _tag: "AUTH", mechanism, initialResponse: tokens[1]! }
    )
  }
}

const isVerb = (word: string): word is Verb => Object.hasOwn(decoders, word)

/** Decodes one command line (without its line end); never throws. */
export const decode = (line: string): Result.Result<Command, CommandError> => {
  const length = line.length
  let start = 0
  while (start < length && isSeparator(line.charCodeAt(start))) start++
  if (start === length) return Result.fail(new CommandError({ reason: "Unknown", message: "empty command" }))
  let end = start
  while (end < length && !isSeparator(line.charCodeAt(end))) end++
  const word = line.slice(start, Math.min(end, start + maxEchoedVerb)).toUpperCase()
  if (end - start > 4 || !isVerb(word)) {
    return Result.fail(new CommandError({ reason: "Unknown", verb: word, message: "unknown command" }))
  }
  return Result.flatMap(decoders[word](line, end), (candidate) =>
    Result.mapError(
      validate(candidate),
      () => new CommandError({ reason: "Syntax", verb: word, message: `${word}: arguments are not valid` })
    ))
}
