// Package node wires a ronhost node's subsystems into one explicit struct and
// runs them: the plugin host and its TLD router, the catalog of installed
// plugins reconciled with the built-ins, and the node's HTTP API.
//
// Node owns the lifecycle: New does no I/O, Start brings subsystems up in
// order and tears down what it started when a later step fails, Close stops
// everything and waits for every goroutine it started.
//
// It may import every subsystem package; none of them may import it.
package node
