// Package crashdata generates the objects of the store's kill -9 test: the
// helper process (core/store/testdata/crashput) puts them, the test in
// package store regenerates them to check what the helper acknowledged, so
// both sides must use this one definition.
//
// It imports only the standard library; only the store's tests and their
// helper import it.
package crashdata
