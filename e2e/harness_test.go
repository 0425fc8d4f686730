// Package e2e holds end-to-end tests: the real loadd binary against real
// servers (the demo target, Prometheus, Alertmanager, websocketd) on loopback.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/loadd/loadd/internal/tooltest"
)

// loaddBin is the binary built once by TestMain.
var loaddBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	if loaddBin, err = tooltest.BuildLoadd(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Proc is a process started by a test; it is stopped when the test ends.
type Proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
	// Addr is the address the process reported listening on, if any.
	Addr string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs name with args, its output captured, and stops it (SIGTERM,
// then SIGKILL after 15 s) when the test ends.
func Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("output of %s %s:\n%s", filepath.Base(name), strings.Join(args, " "), tail(p.out.String(), 6000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Output returns everything the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits (SIGKILL after 15 s). It returns the exit code.
func (p *Proc) Stop() int {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	return p.cmd.ProcessState.ExitCode()
}

// Kill sends SIGKILL and waits.
func (p *Proc) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Wait waits for the process to exit by itself within d and returns its code.
func (p *Proc) Wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		p.t.Fatalf("process did not exit within %s", d)
		return -1
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

var listenRE = regexp.MustCompile(`(?:Listening on|listening)[^\n]*?address=(\S+)`)

// WaitListen waits until the process logs the address it listens on.
func (p *Proc) WaitListen(timeout time.Duration) string {
	p.t.Helper()
	var addr string
	Eventually(p.t, timeout, func() error {
		if p.Exited() {
			p.t.Fatalf("process exited before listening:\n%s", tail(p.Output(), 4000))
		}
		m := listenRE.FindStringSubmatch(p.Output())
		if m == nil {
			return fmt.Errorf("no listen address logged yet")
		}
		addr = strings.Trim(m[1], `"`)
		return nil
	})
	if strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1:" + addr[strings.LastIndex(addr, ":")+1:]
	}
	p.Addr = addr
	return addr
}

// Eventually polls f every 50 ms until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Loadd starts the loadd binary with args plus a loopback :0 listen
// address (unless args set one) and waits until it listens.
func Loadd(t testing.TB, args ...string) *Proc {
	t.Helper()
	full := append([]string{}, args...)
	if !hasFlag(args, "--web.listen-address") && len(args) > 0 && (args[0] == "run" || args[0] == "demo" || args[0] == "once") {
		full = append(full, "--web.listen-address=127.0.0.1:0")
	}
	p := Start(t, loaddBin, full...)
	return p
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// LoaddRun starts `loadd run` with config file cfg and waits until /-/ready.
func LoaddRun(t testing.TB, cfg string, extra ...string) *Proc {
	t.Helper()
	p := Loadd(t, append([]string{"run", "--config.file=" + cfg, "--web.enable-lifecycle"}, extra...)...)
	p.WaitListen(20 * time.Second)
	WaitHTTP(t, "http://"+p.Addr+"/-/ready", 20*time.Second)
	return p
}

// DemoTarget starts `loadd target` on a free loopback port and returns it
// with its base URL in Addr.
func DemoTarget(t testing.TB, extra ...string) *Proc {
	t.Helper()
	p := Start(t, loaddBin, append([]string{"target", "--target.listen-address=127.0.0.1:0"}, extra...)...)
	p.WaitListen(20 * time.Second)
	return p
}

// WaitHTTP waits until GET url answers 200.
func WaitHTTP(t testing.TB, u string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() error {
		resp, err := http.Get(u)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		return nil
	})
}

// WriteFile writes content to a file in the test's temp dir and returns its path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeOver replaces the content of an existing file.
func writeOver(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Scrape fetches http://addr/metrics and returns the parsed families.
func Scrape(t testing.TB, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics of %s: %v", addr, err)
	}
	return fams
}

// Sum adds the values (counter, gauge, or histogram sample count) of the
// series of family name whose labels include every pair of match.
func Sum(fams map[string]*dto.MetricFamily, name string, match map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	var sum float64
next:
	for _, m := range f.GetMetric() {
		for k, v := range match {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

// GetJSON fetches u and decodes its JSON body into v.
func GetJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", u, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: decode: %v: %s", u, err, b)
	}
}

// Post sends a POST with a JSON body and returns the status code and body.
func Post(t testing.TB, u, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// FreeAddr returns a loopback address with a port free right now (for
// servers such as Prometheus that cannot report a :0 port back).
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Prometheus is a real Prometheus server started by a test.
type Prometheus struct {
	*Proc
	URL string
}

// StartPrometheus writes cfg (a prometheus.yml body; rule files are
// referenced by absolute path) and starts Debian's prometheus on a free
// loopback port with a temp TSDB, waiting until it is ready.
func StartPrometheus(t testing.TB, cfg string, extraArgs ...string) *Prometheus {
	t.Helper()
	bin := tooltest.Path(t, "prometheus")
	path := WriteFile(t, "prometheus.yml", cfg)
	addr := FreeAddr(t)
	args := append([]string{
		"--config.file=" + path, "--storage.tsdb.path=" + t.TempDir(),
		"--web.listen-address=" + addr, "--web.enable-lifecycle",
		"--rules.alert.resend-delay=1s",
	}, extraArgs...)
	p := Start(t, bin, args...)
	u := "http://" + addr
	WaitHTTP(t, u+"/-/ready", 30*time.Second)
	return &Prometheus{Proc: p, URL: u}
}

// Query runs an instant PromQL query and returns the resulting vector.
func (p *Prometheus) Query(t testing.TB, expr string) model.Vector {
	t.Helper()
	v, err := p.TryQuery(expr)
	if err != nil {
		t.Fatalf("query %q: %v", expr, err)
	}
	return v
}

// TryQuery runs an instant query and returns its vector or an error.
func (p *Prometheus) TryQuery(expr string) (model.Vector, error) {
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s", r.Error)
	}
	if r.Data.ResultType == "scalar" {
		var s model.Scalar
		if err := json.Unmarshal(r.Data.Result, &s); err != nil {
			return nil, err
		}
		return model.Vector{&model.Sample{Value: s.Value, Timestamp: s.Timestamp}}, nil
	}
	var v model.Vector
	if err := json.Unmarshal(r.Data.Result, &v); err != nil {
		return nil, fmt.Errorf("result type %s: %w", r.Data.ResultType, err)
	}
	return v, nil
}

// ScrapeConfig returns a prometheus.yml body scraping loadd at addrs.
func ScrapeConfig(interval string, addrs ...string) string {
	quoted := make([]string, len(addrs))
	for i, a := range addrs {
		quoted[i] = "'" + a + "'"
	}
	return fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: loadd
    static_configs:
      - targets: [%s]
`, interval, interval, strings.Join(quoted, ", "))
}

// ReadLines returns the lines of s (for log assertions).
func ReadLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// demoAPI is the start of a config for the demo target at addr: the
// target demo, logging in as physician, and an HTTP scenario api on it,
// whose remaining keys the caller appends (indented by four spaces).
func demoAPI(addr string) string {
	return fmt.Sprintf(`targets:
  demo:
    base_url: http://%s
    auth: {kind: password, token_url: /auth/token, username: physician, password: physician-password}
scenarios:
  api:
    kind: http
    target: demo
`, addr)
}
