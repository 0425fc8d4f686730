//go:build race

package httpload

// raceEnabled is set when the race detector slows everything down, which
// timing tests cannot tolerate.
const raceEnabled = true
