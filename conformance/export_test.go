package conformance

// RunStalling is Run with stall asked before every call of the suite (with
// the number of calls its run made before it) whether to stop it as the
// host's wall-clock safety net would.
var RunStalling = run
