import { Mailbox } from "../src/index.ts"
import { contract } from "./contract.ts"
import { maildirTemp } from "./helpers.ts"

contract("memory", Mailbox.layerMemory())
contract("maildir", maildirTemp)
