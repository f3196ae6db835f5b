// Package codes is the node's one error model: the machine-readable codes
// of its errors (the "code" of the error JSON on the bus, in the HTTP API
// and in the CLI's --json output) and, in one table each, their HTTP
// statuses (Code.Status), whether a request that failed with one may be
// sent again (Code.Retryable) and the code an HTTP status names
// (FromStatus).
//
// The roles' sentinel errors carry their code (New), so an error is mapped
// to its code by what it wraps (Of), never by its text: a role adds a
// sentinel with its code in one line, and the bus's error replies, the
// gateway and the node's API all answer it the same way. codes imports the
// standard library only, so every package of the node may import it.
package codes
