// Package storetest is test support for the packages that sit on the store:
// a real Pebble store in a test's temporary directory, and a Recorder of
// what a store role announces (object.stored events) and provides (pinned
// roots). Tests only: no package's non-test files import it.
package storetest
