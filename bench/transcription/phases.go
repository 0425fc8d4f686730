package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/loadd/loadd/generators"
)

// benchStreams holds n real-time streams (16 kHz, 100 ms frames, the
// speech clip looped to the stream's length) and reports CPU and memory
// per stream over the hold, and the frame pacing lag.
func benchStreams(base string, n int, ramp float64, hold time.Duration) error {
	rampTime := time.Duration(float64(n) / ramp * float64(time.Second))
	raw := map[string]any{
		"kind": "transcription", "target": "demo", "mode": "streaming",
		"concurrency": n, "ramp": fmt.Sprintf("%g/s", ramp), "audio": "builtin:speech",
		"streaming": map[string]any{"duration": (rampTime + hold + 30*time.Second).String()},
	}
	fmt.Printf("machine: timer lag of a lone 10 ms sleeper before the run: %s (load average %s)\n", calibrate(5*time.Second), loadavg())
	before := measure()
	sc, reg, err := build(base, "bench_stream", raw, generators.Deps{Grace: 30 * time.Second, Duration: rampTime + hold + 2*time.Second})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- sc.Run(context.Background()) }()
	deadline := time.Now().Add(rampTime + 30*time.Second)
	for sc.Status().Users < int64(n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d streams up", sc.Status().Users, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // let the last handshakes settle
	start := measure()
	framesAtStart := sc.Frames()
	stopProfile := startProfile(".stream")
	holdCtx, endHold := context.WithTimeout(context.Background(), hold-time.Second)
	defer endHold()
	sleeperP99, sleeperMax := timerLag(holdCtx)
	end := measure()
	stopProfile()
	held := sc.Frames().Sent - framesAtStart.Sent
	if err := <-done; err != nil {
		return err
	}
	frames := sc.Frames()
	wall := end.at.Sub(start.at)
	cpu := end.cpu - start.cpu
	fmt.Printf("streams: %d concurrent real-time streams held %s (ramp %s)\n", n, wall.Round(time.Second), rampTime)
	fmt.Printf("  CPU: %.3f cores in total, %.1f µs/s per stream, %.1f µs per frame (%d frames)\n",
		cpu.Seconds()/wall.Seconds(), float64(cpu.Microseconds())/wall.Seconds()/float64(n),
		float64(cpu.Microseconds())/float64(held), held)
	fmt.Printf("  (demo target: %.3f cores; load average %s)\n", (end.target-start.target).Seconds()/wall.Seconds(), loadavg())
	fmt.Printf("  memory: RSS %.1f KiB/stream (%.0f MiB total), heap %.1f KiB/stream, %.2f goroutines/stream\n",
		float64(start.rss-before.rss)/1024/float64(n), mib(start.rss),
		float64(start.heap-before.heap)/1024/float64(n), float64(start.routines-before.routines)/float64(n))
	lag := gather(reg, "loadd_transcription_frame_lag_seconds").GetHistogram()
	fmt.Printf("  frame lag (whole run, %d frames): p50 %s, p99 %s, p99.9 %s, max %s; %d late by > 10ms\n",
		frames.Sent, dur(nativeQuantile(lag, 0.5)), dur(nativeQuantile(lag, 0.99)), dur(nativeQuantile(lag, 0.999)),
		frames.MaxLag.Round(time.Microsecond), frames.Late)
	fmt.Printf("  timer lag of a lone 10 ms sleeper in this process during the hold: p99 %s, max %s\n",
		sleeperP99.Round(time.Microsecond), sleeperMax.Round(time.Microsecond))
	st := sc.Status()
	fmt.Printf("  jobs: %d completed, failures %v, validity: %v\n", st.Completed, st.Failures, orOK(sc.Validity()))
	return nil
}

// benchBatch uploads the 10 s clip at rate for d and reports the achieved
// rate and CPU per upload.
func benchBatch(base string, rate float64, d time.Duration) error {
	raw := map[string]any{
		"kind": "transcription", "target": "demo", "mode": "batch",
		"rate": fmt.Sprintf("%g/s", rate), "max_in_flight": 2000, "audio": "builtin:10s",
	}
	sc, _, err := build(base, "bench_batch", raw, generators.Deps{Grace: 30 * time.Second, Duration: d})
	if err != nil {
		return err
	}
	start := measure()
	stopProfile := startProfile(".batch")
	if err := sc.Run(context.Background()); err != nil {
		return err
	}
	end := measure()
	stopProfile()
	st := sc.Status()
	wall := end.at.Sub(start.at)
	cpu := end.cpu - start.cpu
	fmt.Printf("batch: %g uploads/s of a 10 s clip (320 KB) for %s\n", rate, d)
	fmt.Printf("  achieved %.1f uploads/s (%d completed, %d dropped, failures %v)\n", float64(st.Completed)/d.Seconds(), st.Completed, st.Dropped, st.Failures)
	fmt.Printf("  CPU: %.3f cores, %.0f µs per upload (demo target: %.3f cores; load average %s)\n", cpu.Seconds()/wall.Seconds(),
		float64(cpu.Microseconds())/float64(max(st.Completed, 1)), (end.target-start.target).Seconds()/wall.Seconds(), loadavg())
	return nil
}

// startProfile starts a CPU profile, if asked for, to the file named by
// -cpuprofile plus suffix.
func startProfile(suffix string) func() {
	if profile == "" {
		return func() {}
	}
	f, err := os.Create(profile + suffix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// loadavg is the 1-minute load average of the machine.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func dur(sec float64) time.Duration {
	return time.Duration(sec * float64(time.Second)).Round(time.Microsecond)
}

func orOK(err error) string {
	if err == nil {
		return "valid"
	}
	return err.Error()
}
