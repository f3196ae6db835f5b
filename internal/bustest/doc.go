// Package bustest starts real buses for the roles' tests: an embedded NATS
// server with a loopback listener that admits role keys derived from a
// fresh secret, its own connection holding the permissions of the role
// under test (internal/bus/contract's Roles), and callers that connect with another
// role's key, either as a bus.Bus (which refuses what its roles may not do
// before sending: bus.ErrForbidden) or as a plain NATS connection (which
// checks nothing, so the server's own refusal shows).
//
// Tests only: nothing but _test.go files imports it.
package bustest
