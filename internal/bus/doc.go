// Package bus owns the node's NATS bus: the embedded nats-server (or a
// connection to an existing NATS deployment), the roles' services on it
// (nats.go/micro, requests on ron.<role>.<verb>, queue group ron.<role>,
// discoverable through $SRV), the events on ron.evt.<kind> and their JSON
// shapes, and the one error shape (Error) that crosses role boundaries.
//
// A Bus is built with New (no I/O), started with Start and stopped with
// Close, which waits for every handler and for the embedded server. The
// package keeps no package-level state: several Bus values run in one
// process without seeing each other unless they share a server.
//
// Across processes (a macronode), each embedded server may join a NATS
// cluster (Options.Cluster, with TLS), or a process connects to an existing
// NATS deployment (Options.URL) and survives the loss of one of its
// servers. Requests are load-balanced over a role's instances by its queue
// group, and sent again when another attempt may succeed (Request,
// Options.Retries, Options.AttemptTimeout; whether a verb is idempotent is
// in its declaration, Spec).
//
// The bus is least privilege (Options.Contract, Options.Roles): a process
// may serve only its roles' verbs, call only the verbs they call and emit
// only their events, as Contract.Permissions derives them from one list.
// Processes of a macronode authenticate with role keys, nkeys derived from
// one operator secret (RoleKey) that the embedded server admits
// (Options.Secret) or an existing NATS is told about (NATSAuthorization).
// The embedded server refuses weak passwords (CheckPassword) and
// listeners off loopback without TLS (CheckExposure), and limits repeated
// authentication failures per address.
//
// A verb is declared once with its request and reply types and whether it
// is idempotent (Verb, Spec; the node's verbs are in bus/contract): callers
// use Call, servers Handle and Serve. A request carries its caller's
// deadline and request id in headers (Ron-Timeout-Ms, Ron-Request-Id): the
// handler's ctx ends with the caller's and carries the id (RequestID), and
// LogHandler puts the id in log lines logged with that ctx. A caller whose
// ctx is cancelled before the reply publishes a cancel naming the request
// (its subject and the random token of its Ron-Cancel header) on
// ron.<role>.<verb>.cancel, and the handler's ctx ends with
// ErrCallerCanceled as its cause.
//
// Bulk bytes never travel on the bus: a request or reply larger than the
// server's max payload is refused with codes.TooLarge.
//
// The contract (subjects, verbs, request and reply shapes, events, codes) is
// docs/BUS.md.
//
// bus imports the nats-io modules (server, nats.go, nkeys),
// golang.org/x/crypto/bcrypt and the standard library only. It must not import any other ronhost package: the
// roles (core/...) import bus, never the reverse.
package bus
