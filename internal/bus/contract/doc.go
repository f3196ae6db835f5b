// Package contract is the bus contract of a ronhost node, declared once:
// each role's verbs with their request and reply types and whether they
// are idempotent (bus.Verb), the verbs each role calls and the events it
// emits (Roles, from which every process's bus permissions derive). The
// callers use bus.Call with these verbs and the roles serve them with
// bus.Handle, so a request or reply shape changes in one place for both
// sides, and the bus's retries and hedging read idempotency from here
// only. docs/BUS.md's verb tables are checked against it by a test.
//
// The types are the wire shapes (JSON), not the roles' own types: the
// roles convert. contract imports bus, core/cid and the standard library
// only, so every role and the gateway's backend can import it.
package contract
