import { Effect, Layer } from "effect"
import { Mailbox, Maildir } from "../src/index.ts"
import { contract } from "./contract.ts"
import { maildirTemp, tempDir } from "./helpers.ts"
import { policyContract } from "./policyContract.ts"

contract("memory", Mailbox.layerMemory())
contract("maildir", maildirTemp)

policyContract("memory", (quota) => Mailbox.layerMemory({}, { quota }))
policyContract("maildir", (quota) => Layer.unwrap(Effect.map(tempDir, (root) => Maildir.layer({ root, quota }))))
