package httpload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadd/loadd/generators"
)

// serverEnv makes the test binary a fixed-response server (for CPU
// benchmarks, whose target must not share the process's CPU account).
const serverEnv = "LOADD_HTTPLOAD_BENCH_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) == "1" {
		os.Exit(serveFixed())
	}
	os.Exit(m.Run())
}

// serveFixed serves a tiny response on loopback, prints its address and
// stops when stdin closes.
func serveFixed() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"ok":true}`) }}
	go s.Serve(ln) //nolint:errcheck // ends with the process
	fmt.Println(ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// externalServer starts the fixed-response server in a child process.
func externalServer(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return "http://" + addr[:len(addr)-1]
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCPUPerRequest reports the client's CPU per request (the
// server runs in another process), for loadd's fasthttp path and for
// net/http on the same target.
func BenchmarkCPUPerRequest(b *testing.B) {
	b.Run("loadd", func(b *testing.B) {
		sc, _ := build(b, "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: get, get: /x}]\n",
			mustTarget(b, externalServer(b), nil), generators.Deps{})
		b.Cleanup(sc.transport.close)
		id, t, ctx := sc.newIdentity(sc.spec.target), sc.spec.tasks[0], context.Background()
		sc.exec(ctx, t, id, time.Now())
		start := cpuTime(b)
		b.ReportAllocs()
		for b.Loop() {
			sc.exec(ctx, t, id, time.Now())
		}
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e3, "cpu-µs/op")
	})
	b.Run("net-http", func(b *testing.B) {
		url := externalServer(b) + "/x"
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		b.Cleanup(client.CloseIdleConnections)
		start := cpuTime(b)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e3, "cpu-µs/op")
	})
}

// BenchmarkOpenRate runs the whole open model (pacer, runner, metrics,
// fasthttp) at fixed rates for 2 s against an external server and reports
// CPU per request and the achieved rate. Run with -benchtime=1x.
func BenchmarkOpenRate(b *testing.B) {
	addr := externalServer(b)
	for _, rate := range []int{1000, 5000, 10000, 20000} {
		b.Run(fmt.Sprintf("%d/s", rate), func(b *testing.B) {
			for b.Loop() {
				src := fmt.Sprintf("kind: http\ntarget: phoenix\nrate: %d/s\nmax_in_flight: 200\ntasks: [{name: get, get: /x}]\n", rate)
				sc, _ := build(b, src, mustTarget(b, addr, nil), generators.Deps{Duration: 2 * time.Second, Grace: time.Second})
				start, wall := cpuTime(b), time.Now()
				if err := sc.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				elapsed, cpu := time.Since(wall), cpuTime(b)-start
				st := sc.Status()
				n := float64(st.Completed)
				b.ReportMetric(float64(cpu)/n/1e3, "cpu-µs/req")
				b.ReportMetric(n/elapsed.Seconds(), "req/s")
				b.ReportMetric(float64(st.Dropped+st.Failures["timeout"]), "failed")
			}
		})
	}
}
