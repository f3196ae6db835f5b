// Package supervise is the macronode's kernel: it starts the role processes a
// TOML file describes, in dependency order (a process starts once every
// process in its `after` list is ready), restarts a process that exits with
// exponential backoff and full jitter, gives up on a process after too many
// restarts within a window, and on shutdown stops every process in reverse
// order (SIGTERM to its process group, SIGKILL after stop_timeout) and waits
// for all of them. `ronhost supervise CONFIG` is its command.
//
// Each child runs in its own process group, so a signal reaches its whole
// tree and a terminal's Ctrl-C reaches only the supervisor; on Linux a child
// also gets SIGKILL when the supervisor dies (Pdeathsig). Child output is
// copied line by line, each line prefixed with the process's name.
//
// The clock, the random source for jitter, the readiness probe and the way a
// process is started are Options, so the policy is tested with fakes.
//
// It imports nothing of ronhost's, and nothing of ronhost's but cmd/ronhost
// may import it.
package supervise
