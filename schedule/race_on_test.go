//go:build race

package schedule

// raceEnabled is set under the race detector. Go 1.26's race runtime can
// crash when goroutines exit inside a synctest bubble (ThreadSanitizer
// CHECK failed, golang/go#78156): TestOpenIdleWorkersExit crashed in 3 of
// 30 runs, TestOpenBoundsWorkerGrowth in 8 of 20. Those two skip under
// -race; scripts/test.sh runs this package once more without it.
const raceEnabled = true
