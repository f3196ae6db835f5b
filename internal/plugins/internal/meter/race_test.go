//go:build race

package meter

// raceDetector: the race detector is on (see skipUnderRace).
const raceDetector = true
