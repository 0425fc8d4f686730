// Command wsbench measures loadd's WebSocket generator: it starts demo
// targets and loadd processes (the real binary), lets each loadd idle with
// one session, reloads it to its share of the sessions, times the ramp,
// holds the population, and prints resident memory, Go heap and goroutines
// per session, connect rate, message round-trip p50/p99 and CPU while
// holding. Run it through bench/ws/run.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

type options struct {
	loadd    string
	sessions int
	procs    int
	targets  int
	ramp     string
	every    time.Duration
	hold     time.Duration
	settle   time.Duration
	sources  string
	push     time.Duration
	pin      bool
}

func main() { os.Exit(run()) }

func run() int {
	var o options
	flag.StringVar(&o.loadd, "loadd", "", "path of the loadd binary (required)")
	flag.IntVar(&o.sessions, "sessions", 10000, "sessions in total")
	flag.IntVar(&o.procs, "procs", 1, "loadd processes; each holds a shard (--shard i/N)")
	flag.IntVar(&o.targets, "targets", 0, "demo target processes (default: one per loadd process)")
	flag.StringVar(&o.ramp, "ramp", "2000/s", "ramp in total (each process ramps at its share)")
	flag.DurationVar(&o.every, "every", 5*time.Second, "message interval per session")
	flag.DurationVar(&o.hold, "hold", 30*time.Second, "measured holding window")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "wait after the ramp before measuring")
	flag.StringVar(&o.sources, "sources", "127.0.0.2-127.0.0.7", "source address range ('' for none)")
	flag.DurationVar(&o.push, "push", 0, "target push interval (0: no pushes)")
	flag.BoolVar(&o.pin, "pin", true, "pin loadd processes to CPU 0 and targets to CPU 1 (taskset)")
	flag.Parse()
	if o.loadd == "" {
		fmt.Fprintln(os.Stderr, "wsbench: -loadd is required")
		return 2
	}
	if o.targets <= 0 {
		o.targets = o.procs
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{o: o}
	defer b.stopAll()
	if err := b.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "wsbench:", err)
		return 1
	}
	return 0
}

// proc is a child process and where it listens.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string
	logs *logTail
}

type bench struct {
	o       options
	dir     string
	targets []*proc
	loadds  []*proc
	configs []string
}

var listenRE = regexp.MustCompile(`msg="?(?:Listening on|Target listening)"? address=(\S+)`)

// start runs the binary with args (pinned to cpu when asked) and waits
// until it logs its listen address.
func (b *bench) start(name string, cpu int, args ...string) (*proc, error) {
	bin, full := b.o.loadd, args
	if b.o.pin {
		if ts, err := exec.LookPath("taskset"); err == nil {
			bin, full = ts, append([]string{"-c", fmt.Sprint(cpu), b.o.loadd}, args...)
		}
	}
	cmd := exec.Command(bin, full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logs: newLogTail(out)}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(p.logs.String()); m != nil {
			p.addr = strings.Trim(m[1], `"`)
			return p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	return nil, fmt.Errorf("%s did not log a listen address:\n%s", name, p.logs.String())
}

func (b *bench) stopAll() {
	for _, p := range append(b.loadds, b.targets...) {
		if p != nil && p.cmd.Process != nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range append(b.loadds, b.targets...) {
		if p == nil || p.cmd.Process == nil {
			continue
		}
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if strings.Contains(p.logs.String(), "panic") {
			fmt.Fprintf(os.Stderr, "wsbench: %s panicked:\n%s\n", p.name, p.logs.String())
		}
	}
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

func (b *bench) config(i, sessions int) string {
	t := b.targets[i%len(b.targets)]
	src := ""
	if b.o.sources != "" {
		src = fmt.Sprintf("    source_addresses: [%s]\n", b.o.sources)
	}
	return fmt.Sprintf(`targets:
  demo:
    base_url: http://%s
    auth: {kind: password, token_url: /auth/token, username: physician, password: physician-password}
scenarios:
  notifications:
    kind: websocket
    target: demo
    path: /ws/notifications
    sessions: %d
    ramp: %s
    message_every: %s
    message: '{"type":"ping","id":"{{ .ID }}"}'
    correlation: $.id
%s`, t.addr, sessions, b.o.ramp, b.o.every, src)
}

func (b *bench) run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "wsbench-")
	if err != nil {
		return err
	}
	b.dir = dir
	o := b.o
	fmt.Printf("wsbench: %d sessions over %d loadd process(es) and %d target(s), ramp %s, a message every %s, sources %q\n",
		o.sessions, o.procs, o.targets, o.ramp, o.every, o.sources)
	for i := range o.targets {
		p, err := b.start(fmt.Sprintf("target-%d", i), 1, "target", "--target.listen-address=127.0.0.1:0")
		if err != nil {
			return err
		}
		b.targets = append(b.targets, p)
		if err := post("http://"+p.addr+"/-/ws/push", fmt.Sprintf(`{"every":%q}`, o.push.String())); err != nil {
			return err
		}
	}
	// Each loadd starts idle (a 1-session config: at most one session per
	// process) so its resident memory before the ramp is the baseline.
	for i := range o.procs {
		cfg := filepath.Join(dir, fmt.Sprintf("loadd-%d.yaml", i))
		if err := os.WriteFile(cfg, []byte(b.config(i, 1)), 0o644); err != nil {
			return err
		}
		b.configs = append(b.configs, cfg)
		p, err := b.start(fmt.Sprintf("loadd-%d", i), 0, "run", "--config.file="+cfg,
			"--web.listen-address=127.0.0.1:0", fmt.Sprintf("--shard=%d/%d", i, o.procs))
		if err != nil {
			return err
		}
		b.loadds = append(b.loadds, p)
	}
	return b.measure(ctx)
}

func post(u, body string) error {
	resp, err := httpClient.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s: %s", u, resp.Status, b)
	}
	return nil
}

// logTail keeps the last 64 KB of a process's output, read continuously
// so the process never blocks on a full pipe.
type logTail struct {
	mu  sync.Mutex
	buf []byte
}

func newLogTail(r io.Reader) *logTail {
	l := &logTail{}
	go func() {
		chunk := make([]byte, 4096)
		for {
			n, err := r.Read(chunk)
			l.mu.Lock()
			l.buf = append(l.buf, chunk[:n]...)
			if len(l.buf) > 64<<10 {
				l.buf = append([]byte(nil), l.buf[len(l.buf)-32<<10:]...)
			}
			l.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return l
}

// String returns the output kept so far.
func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
