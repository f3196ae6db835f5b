//go:build race

package meter

// raceDetector: under the race detector wazero's compiler is instrumented
// and compiling one large Go plugin takes 10-25 s, so the tests that only
// compare wasm outputs (machine code the detector does not see) skip the
// large modules.
const raceDetector = true
