// Package poll is the one way tests wait for something that happens on
// another goroutine or in another process: they check a condition again and
// again until it holds or a deadline passes.
//
// The deadline is a bound on how long a broken build may hang, never a
// verdict on speed: tests run on shared, busy machines, so the default is
// generous (a minute) and the interval backs off from a millisecond to 50 ms,
// keeping a fast machine fast and a slow one quiet. Timer logic that a test
// asserts on belongs on a fake clock or in testing/synctest instead.
//
// It imports nothing of ronhost and is imported only by tests.
package poll
