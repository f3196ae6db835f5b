// Package limits measures the physical limits that ronhost's benchmarks
// report their figures against, in the same run and on the same machine: a
// loopback TCP copy from memory to memory, the same copy into a file with a
// final fsync (what receiving an object and keeping it cannot beat), and the
// process's CPU time (for figures per byte that other processes' load does
// not move).
//
// It is for benchmarks only (imported by _test.go files); it imports no
// ronhost package. internal/nodebench measures the same limits on its own,
// since it drives the binary as an operator does and imports nothing of
// ronhost.
package limits
