package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

var httpClient = &http.Client{Timeout: 10 * time.Second}

var reachedRE = regexp.MustCompile(`reached its target" sessions=(\d+) took=(\S+)`)

// sample is what one process looks like at one instant.
type sample struct {
	rss        float64 // bytes, from /proc
	cpu        float64 // seconds of user+system time, from /proc
	heap       float64 // go_memstats_heap_inuse_bytes (loadd only)
	stack      float64 // go_memstats_stack_inuse_bytes
	idleHeap   float64 // heap held but unused: heap_idle - heap_released
	goroutines float64
	sessions   float64
	failures   float64 // connect failures + unplanned disconnects
	rtt        *nativeHist
}

func (b *bench) measure(ctx context.Context) error {
	o := b.o
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	idle, err := b.sampleAll()
	if err != nil {
		return err
	}
	for i, p := range b.loadds {
		if err := os.WriteFile(b.configs[i], []byte(b.config(i, o.sessions)), 0o644); err != nil {
			return err
		}
		_ = p.cmd.Process.Signal(syscall.SIGHUP)
	}
	t0 := time.Now()
	var ramp time.Duration
	for {
		s, err := b.sampleAll()
		if err != nil {
			return err
		}
		if total(s, func(x sample) float64 { return x.sessions }) >= float64(o.sessions) {
			ramp = time.Since(t0)
			break
		}
		if time.Since(t0) > 5*time.Minute {
			return fmt.Errorf("population did not reach %d in 5 minutes: %s", o.sessions, b.loadds[0].logs.String())
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	fmt.Printf("ramp: %d sessions in %s = %.0f sessions/s (from SIGHUP, polled every 100 ms)\n", o.sessions, ramp.Round(time.Millisecond), float64(o.sessions)/ramp.Seconds())

	if err := sleep(ctx, o.settle); err != nil {
		return err
	}
	start, err := b.sampleAll()
	if err != nil {
		return err
	}
	if err := sleep(ctx, o.hold); err != nil {
		return err
	}
	end, err := b.sampleAll()
	if err != nil {
		return err
	}
	for _, p := range b.loadds {
		if m := reachedRE.FindAllStringSubmatch(p.logs.String(), -1); len(m) > 0 {
			fmt.Printf("  %s logged: population of %s reached in %s\n", p.name, m[len(m)-1][1], m[len(m)-1][2])
		}
	}
	b.report(idle, start, end, ramp)
	return nil
}

// sampleAll samples every loadd (first) and every target (after).
func (b *bench) sampleAll() ([]sample, error) {
	var out []sample
	for _, p := range b.loadds {
		s, err := sampleProc(p, true)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	for _, p := range b.targets {
		s, err := sampleProc(p, false)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func total(ss []sample, f func(sample) float64) float64 {
	var t float64
	for _, s := range ss {
		t += f(s)
	}
	return t
}

func (b *bench) report(idle, start, end []sample, ramp time.Duration) {
	o := b.o
	nl := len(b.loadds)
	n := float64(o.sessions)
	held := total(end[:nl], func(s sample) float64 { return s.sessions })
	secs := b.o.hold.Seconds()
	fmt.Printf("\n%-9s %9s %10s %10s %12s %11s %11s %9s\n", "process", "sessions", "RSS idle", "RSS held", "RSS/session", "heap/sess", "goroutines", "CPU %")
	for i, p := range append(b.loadds, b.targets...) {
		sess := end[i].sessions
		if i >= nl {
			sess = n / float64(len(b.targets))
		}
		fmt.Printf("%-9s %9.0f %9.1fM %9.1fM %11.2fK %10.2fK %11.0f %8.1f%%\n", p.name, sess,
			idle[i].rss/1e6, end[i].rss/1e6, (end[i].rss-idle[i].rss)/max(sess, 1)/1024,
			(end[i].heap-idle[i].heap)/max(sess, 1)/1024, end[i].goroutines, (end[i].cpu-start[i].cpu)/secs*100)
	}
	rss := total(end[:nl], func(s sample) float64 { return s.rss }) - total(idle[:nl], func(s sample) float64 { return s.rss })
	heap := total(end[:nl], func(s sample) float64 { return s.heap }) - total(idle[:nl], func(s sample) float64 { return s.heap })
	gor := total(end[:nl], func(s sample) float64 { return s.goroutines }) - total(idle[:nl], func(s sample) float64 { return s.goroutines })
	cpu := total(end[:nl], func(s sample) float64 { return s.cpu }) - total(start[:nl], func(s sample) float64 { return s.cpu })
	tcpu := total(end[nl:], func(s sample) float64 { return s.cpu }) - total(start[nl:], func(s sample) float64 { return s.cpu })
	fails := total(end[:nl], func(s sample) float64 { return s.failures })
	rtt := &nativeHist{}
	for i := range nl {
		rtt.add(end[i].rtt, 1)
		rtt.add(start[i].rtt, -1)
	}
	maxRSS := 0.0
	for _, s := range end[:nl] {
		maxRSS = max(maxRSS, s.rss)
	}
	fmt.Printf("\nloadd, all processes, %d sessions held (%.0f asked):\n", int(held), n)
	fmt.Printf("  resident memory per session  %.2f KB (RSS delta over idle / sessions); largest process %.1f MB\n", rss/held/1024, maxRSS/1e6)
	fmt.Printf("  Go heap per session          %.2f KB (heap in use, delta)\n", heap/held/1024)
	stack := total(end[:nl], func(s sample) float64 { return s.stack }) - total(idle[:nl], func(s sample) float64 { return s.stack })
	idleHeap := total(end[:nl], func(s sample) float64 { return s.idleHeap })
	fmt.Printf("  goroutine stacks per session %.2f KB; heap kept but unused %.1f MB\n", stack/held/1024, idleHeap/1e6)
	fmt.Printf("  goroutines per session       %.3f\n", gor/held)
	fmt.Printf("  connect rate                 %.0f sessions/s (%s to reach %d)\n", n/ramp.Seconds(), ramp.Round(time.Millisecond), o.sessions)
	fmt.Printf("  message RTT over %s       p50 %s  p99 %s  (%d round trips, %.0f/s)\n", o.hold, fmtDur(rtt.quantile(0.5)), fmtDur(rtt.quantile(0.99)), int(rtt.count()), rtt.count()/secs)
	fmt.Printf("  CPU while holding            %.1f %% of one core (targets: %.1f %%)\n", cpu/secs*100, tcpu/secs*100)
	fmt.Printf("  errors (connect failures + unplanned disconnects, whole run)  %.0f\n", fails)
}

func fmtDur(sec float64) string {
	if math.IsNaN(sec) {
		return "n/a"
	}
	return time.Duration(sec * float64(time.Second)).Round(time.Microsecond).String()
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// sampleProc reads /proc for p, and its /metrics when it is a loadd.
func sampleProc(p *proc, isLoadd bool) (sample, error) {
	var s sample
	pid := p.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("%s: %w", p.name, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			s.rss = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("%s: %w", p.name, err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64) // fields 14 and 15 of stat
	st, _ := strconv.ParseFloat(f[12], 64)
	s.cpu = (ut + st) / 100 // CLK_TCK is 100 on Linux
	if !isLoadd {
		return s, nil
	}
	fams, err := scrape("http://" + p.addr + "/metrics")
	if err != nil {
		return s, fmt.Errorf("%s: %w", p.name, err)
	}
	s.heap = value(fams["go_memstats_heap_inuse_bytes"], nil)
	s.goroutines = value(fams["go_goroutines"], nil)
	s.stack = value(fams["go_memstats_stack_inuse_bytes"], nil)
	s.idleHeap = value(fams["go_memstats_heap_idle_bytes"], nil) - value(fams["go_memstats_heap_released_bytes"], nil)
	s.sessions = value(fams["loadd_ws_sessions"], nil)
	s.failures = value(fams["loadd_ws_connect_failures_total"], nil) +
		value(fams["loadd_ws_disconnects_total"], func(reason string) bool {
			return reason != "shutdown" && reason != "lifetime" && reason != "scale_down"
		})
	s.rtt = &nativeHist{}
	if mf := fams["loadd_ws_message_rtt_seconds"]; mf != nil {
		for _, m := range mf.GetMetric() {
			s.rtt.add(fromDTO(m.GetHistogram()), 1)
		}
	}
	return s, nil
}

func scrape(u string) (map[string]*dto.MetricFamily, error) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	out := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			break
		}
		out[mf.GetName()] = &mf
	}
	return out, nil
}

// value sums a family's counters or gauges, only series whose reason label
// passes keep (all when keep is nil).
func value(mf *dto.MetricFamily, keep func(reason string) bool) float64 {
	var v float64
	for _, m := range mf.GetMetric() {
		if keep == nil || keep(label(m, "reason")) {
			v += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return v
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// nativeHist is a native histogram's buckets by index at one schema.
type nativeHist struct {
	schema  int32
	set     bool
	zero    float64
	buckets map[int]float64
}

func fromDTO(h *dto.Histogram) *nativeHist {
	n := &nativeHist{schema: h.GetSchema(), set: true, zero: float64(h.GetZeroCount()), buckets: map[int]float64{}}
	idx, cnt := 0, int64(0)
	d := 0
	for i, sp := range h.GetPositiveSpan() {
		if i == 0 {
			idx = int(sp.GetOffset())
		} else {
			idx += int(sp.GetOffset())
		}
		for range sp.GetLength() {
			cnt += h.GetPositiveDelta()[d]
			d++
			n.buckets[idx] += float64(cnt)
			idx++
		}
	}
	return n
}

// add adds sign×o to n, reducing both to the coarser schema.
func (n *nativeHist) add(o *nativeHist, sign float64) {
	if o == nil || !o.set {
		return
	}
	if !n.set {
		n.schema, n.set, n.buckets = o.schema, true, map[int]float64{}
	}
	for n.schema > o.schema {
		n.reduce()
	}
	shift := o.schema - n.schema
	for i, c := range o.buckets {
		n.buckets[(i+(1<<shift)-1)>>shift] += sign * c
	}
	n.zero += sign * o.zero
}

func (n *nativeHist) reduce() {
	out := map[int]float64{}
	for i, c := range n.buckets {
		out[(i+1)>>1] += c
	}
	n.buckets, n.schema = out, n.schema-1
}

func (n *nativeHist) count() float64 {
	c := n.zero
	for _, v := range n.buckets {
		c += v
	}
	return c
}

// quantile interpolates within the bucket holding rank q·count: bucket i
// spans (base^(i-1), base^i] with base = 2^(2^-schema).
func (n *nativeHist) quantile(q float64) float64 {
	total := n.count()
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	if rank <= n.zero {
		return 0
	}
	idx := make([]int, 0, len(n.buckets))
	for i := range n.buckets {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	base := math.Pow(2, math.Pow(2, -float64(n.schema)))
	cum := n.zero
	for _, i := range idx {
		c := n.buckets[i]
		if c > 0 && cum+c >= rank {
			lo, hi := math.Pow(base, float64(i-1)), math.Pow(base, float64(i))
			return lo + (hi-lo)*(rank-cum)/c
		}
		cum += c
	}
	return math.Pow(base, float64(idx[len(idx)-1]))
}
