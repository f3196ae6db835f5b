// Package node wires a ronhost node's subsystems into one explicit struct and
// runs them: the plugin host and its TLD router, the catalog of installed
// plugins reconciled with the built-ins, and the node's HTTP API.
//
// Node owns the lifecycle: New does no I/O, Start brings subsystems up in
// order and tears down what it started when a later step fails, Close stops
// everything and waits for every goroutine it started.
//
// A full disk (less than node.min_free free) leaves the node serving: every
// role's database and the store's payload files refuse writes (507
// disk_full) and keep reads; the node starts on a full disk with its
// databases read-only, and disk.go reopens them once space returns,
// reports the disk in /readyz and exports ron_disk_* and ron_db_* metrics.
//
// It may import every subsystem package; none of them may import it.
package node
