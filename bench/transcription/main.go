// Command transcription-bench measures loadd's transcription generator:
// N concurrent real-time streams held for a while (CPU and memory per
// stream, frame pacing lag), then batch uploads at a rate (CPU per
// upload). The generator runs in this process, so its CPU and memory are
// this process's; the demo target runs as a separate `loadd target`.
//
//	go build -o /tmp/loadd ./cmd/loadd
//	go run ./bench/transcription -loadd /tmp/loadd -streams 1000 -hold 60s
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loadd/loadd/config"
	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/generators/transcribe"
	"github.com/loadd/loadd/schedule"
)

func main() { os.Exit(run()) }

// targetPID is the demo target's process, whose CPU is reported too.
var targetPID int

// procCPU returns the user+system CPU time of process pid from /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscanf(f[11], "%d", &ut)
	fmt.Sscanf(f[12], "%d", &st)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// profile is the CPU profile file of the stream hold, "" for none.
var profile string

func run() int {
	loadd := flag.String("loadd", "loadd", "the loadd binary (runs the demo target)")
	streams := flag.Int("streams", 1000, "concurrent streams")
	ramp := flag.Float64("ramp", 100, "streams started per second")
	hold := flag.Duration("hold", 60*time.Second, "how long all streams are held")
	batchRate := flag.Float64("batch-rate", 200, "batch uploads per second (0 skips the batch phase)")
	batchFor := flag.Duration("batch-for", 20*time.Second, "length of the batch phase")
	cpuProfile := flag.String("cpuprofile", "", "write CPU profiles of the stream hold and the batch phase to this file name plus .stream and .batch")
	flag.Parse()
	profile = *cpuProfile

	base, stop, err := startTarget(*loadd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer stop()
	if *streams > 0 {
		if err := benchStreams(base, *streams, *ramp, *hold); err != nil {
			fmt.Fprintln(os.Stderr, "bench streams:", err)
			return 1
		}
	}
	if *batchRate > 0 {
		if err := benchBatch(base, *batchRate, *batchFor); err != nil {
			fmt.Fprintln(os.Stderr, "bench batch:", err)
			return 1
		}
	}
	return 0
}

var addrRE = regexp.MustCompile(`address=(\S+)`)

// startTarget runs `loadd target` on a free loopback port.
func startTarget(bin string) (string, func(), error) {
	cmd := exec.Command(bin, "target", "--target.listen-address=127.0.0.1:0")
	out, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start target: %w", err)
	}
	targetPID = cmd.Process.Pid
	stop := func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- strings.Trim(m[1], `"`)
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case a := <-found:
		return "http://" + a, stop, nil
	case <-time.After(20 * time.Second):
		stop()
		return "", nil, fmt.Errorf("target did not log its address")
	}
}

// build decodes and builds one scenario against the target at base.
func build(base, name string, raw map[string]any, d generators.Deps) (*transcribe.Scenario, *prometheus.Registry, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, nil, err
	}
	env := &generators.Env{Targets: map[string]*generators.Target{"demo": {BaseURL: base, URL: u}}}
	p := &config.Problems{}
	spec := transcribe.Kind.Decode("scenarios."+name, raw, env, p)
	if spec == nil {
		return nil, nil, p
	}
	reg := prometheus.NewRegistry()
	m, err := exporter.New(reg, exporter.Options{})
	if err != nil {
		return nil, nil, err
	}
	d.Name, d.Metrics, d.Shard = name, m, schedule.Whole
	sc, err := spec.Build(d)
	if err != nil {
		return nil, nil, err
	}
	return sc.(*transcribe.Scenario), reg, nil
}

// usage is this process's CPU time and memory at one instant.
type usage struct {
	at       time.Time
	cpu      time.Duration
	target   time.Duration // the demo target's CPU
	rss      uint64
	heap     uint64
	routines int
}

func measure() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{
		at:       time.Now(),
		cpu:      time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		target:   procCPU(targetPID),
		rss:      rss(),
		heap:     ms.HeapInuse,
		routines: runtime.NumGoroutine(),
	}
}

// rss reads VmRSS from /proc/self/status, in bytes.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb uint64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}

// gather returns the one series of a metric family, or nil.
func gather(reg *prometheus.Registry, name string) *dto.Metric {
	fams, err := reg.Gather()
	if err != nil {
		return nil
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0]
		}
	}
	return nil
}

// nativeQuantile reads quantile q from a native histogram's positive
// buckets (upper bound of the bucket holding the q-th observation).
func nativeQuantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	cum := float64(h.GetZeroCount())
	if cum >= rank {
		return h.GetZeroThreshold()
	}
	base := math.Pow(2, math.Pow(2, -float64(h.GetSchema())))
	idx, d := int32(0), 0
	var count int64
	for _, span := range h.GetPositiveSpan() {
		idx += span.GetOffset()
		for j := uint32(0); j < span.GetLength(); j++ {
			count += h.GetPositiveDelta()[d]
			d++
			cum += float64(count)
			if cum >= rank {
				return math.Pow(base, float64(idx))
			}
			idx++
		}
	}
	return math.Inf(1)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
