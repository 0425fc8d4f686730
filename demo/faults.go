package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log/level"

	"github.com/loadd/loadd/config"
)

// AllRoutes is the fault key that applies to every route without a fault
// of its own.
const AllRoutes = "*"

// Latency distributions of a Fault's random part.
const (
	// DistUniform draws the random part uniformly from [0, Jitter).
	DistUniform = "uniform"
	// DistExponential draws the random part from an exponential distribution
	// with mean Jitter: a long tail, so p95/p99 sit well above the mean.
	DistExponential = "exponential"
)

// maxFaultLatency bounds injected latency so a typo cannot hang clients for days.
const maxFaultLatency = time.Hour

// Fault is the injected behaviour of one route. Each request first waits
// Base plus a random part (Jitter wide, shaped by Dist), then fails with
// ErrorCode (default 500) with probability ErrorRatio. The zero Fault
// injects nothing. In JSON, durations are strings such as "20ms" and
// error_ratio is a fraction or a percentage ("0.05" or "5%").
type Fault struct {
	Base       time.Duration
	Jitter     time.Duration
	Dist       string // DistUniform (default) or DistExponential
	ErrorRatio float64
	ErrorCode  int // 500..599; 0 means 500
}

// faultJSON is Fault's wire form.
type faultJSON struct {
	Base       config.Duration `json:"base"`
	Jitter     config.Duration `json:"jitter"`
	Dist       string          `json:"dist,omitempty"`
	ErrorRatio jsonRatio       `json:"error_ratio"`
	ErrorCode  int             `json:"error_code,omitempty"`
}

// jsonRatio is a ratio written as a JSON number (0.05) or string ("5%").
type jsonRatio float64

// UnmarshalJSON implements json.Unmarshaler.
func (r *jsonRatio) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := config.ParseRatio(s)
	if err != nil {
		return err
	}
	*r = jsonRatio(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (f Fault) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultJSON{
		Base: config.Duration(f.Base), Jitter: config.Duration(f.Jitter), Dist: f.Dist,
		ErrorRatio: jsonRatio(f.ErrorRatio), ErrorCode: f.ErrorCode,
	})
}

// UnmarshalJSON implements json.Unmarshaler; unknown keys are errors.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*f = Fault{Base: j.Base.D(), Jitter: j.Jitter.D(), Dist: j.Dist, ErrorRatio: float64(j.ErrorRatio), ErrorCode: j.ErrorCode}
	return nil
}

// Validate reports the first thing wrong with f.
func (f Fault) Validate() error {
	switch {
	case f.Base < 0 || f.Base > maxFaultLatency:
		return fmt.Errorf("base %s must be between 0 and %s", f.Base, maxFaultLatency)
	case f.Jitter < 0 || f.Jitter > maxFaultLatency:
		return fmt.Errorf("jitter %s must be between 0 and %s", f.Jitter, maxFaultLatency)
	case f.Dist != "" && f.Dist != DistUniform && f.Dist != DistExponential:
		return fmt.Errorf("dist %q must be %s or %s", f.Dist, DistUniform, DistExponential)
	case math.IsNaN(f.ErrorRatio) || f.ErrorRatio < 0 || f.ErrorRatio > 1:
		return fmt.Errorf("error_ratio %v must be between 0 and 1", f.ErrorRatio)
	case f.ErrorCode != 0 && (f.ErrorCode < 500 || f.ErrorCode > 599):
		return fmt.Errorf("error_code %d must be a 5xx status", f.ErrorCode)
	}
	return nil
}

// Delay returns the latency to inject given a uniform random u in [0,1).
// Exponential delays are capped at Base + 20×Jitter (u ≥ 1-2e-9).
func (f Fault) Delay(u float64) time.Duration {
	if f.Jitter <= 0 {
		return f.Base
	}
	if f.Dist == DistExponential {
		x := -math.Log1p(-u)
		return f.Base + time.Duration(math.Min(x, 20)*float64(f.Jitter))
	}
	return f.Base + time.Duration(u*float64(f.Jitter))
}

// Sample draws one request's fate: how long to wait and, when it must fail,
// the status code to fail with (0 when it must succeed).
func (f Fault) Sample() (delay time.Duration, code int) {
	delay = f.Delay(rand.Float64())
	if f.ErrorRatio > 0 && rand.Float64() < f.ErrorRatio {
		code = f.ErrorCode
		if code == 0 {
			code = http.StatusInternalServerError
		}
	}
	return delay, code
}

// faultTable maps route names (and AllRoutes) to faults. It is never
// modified once published: changes build a new table.
type faultTable map[string]Fault

func (ft faultTable) lookup(route string) Fault {
	if f, ok := ft[route]; ok {
		return f
	}
	return ft[AllRoutes]
}

// parseFaults decodes a fault change: a JSON object from route name (or "*")
// to a Fault, or to null to drop that route's own fault. Every problem is
// reported, each naming its route.
func parseFaults(b []byte, known []string) (map[string]*Fault, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("faults must be a JSON object from route to fault: %w", err)
	}
	out := make(map[string]*Fault, len(raw))
	var errs []error
	for _, route := range slices.Sorted(maps.Keys(raw)) {
		if err := checkRoute(route, known); err != nil {
			errs = append(errs, err)
			continue
		}
		if string(raw[route]) == "null" {
			out[route] = nil
			continue
		}
		var f Fault
		if err := json.Unmarshal(raw[route], &f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", route, err))
			continue
		}
		if err := f.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", route, err))
			continue
		}
		out[route] = &f
	}
	return out, errors.Join(errs...)
}

func checkRoute(route string, known []string) error {
	if route != AllRoutes && !slices.Contains(known, route) {
		return fmt.Errorf("%s: unknown route (known: %s, or %q for all)", route, strings.Join(known, ", "), AllRoutes)
	}
	return nil
}

// checkFault validates a fault of route, naming the route in the error.
func checkFault(route string, f Fault) error {
	if err := checkRoute(route, routeNames()); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%s: %w", route, err)
	}
	return nil
}

// Fault returns the fault currently injected on route: its own, or the one
// set for AllRoutes. Other files of the demo target (WebSocket,
// transcription) call it with their own route names.
func (t *Target) Fault(route string) Fault {
	return (*t.faults.Load()).lookup(route)
}

// setFaults applies a change of faults (see parseFaults): listed routes get
// the given fault, null drops a route's own fault.
func (t *Target) setFaults(change map[string]*Fault) {
	t.faultMu.Lock()
	defer t.faultMu.Unlock()
	next := faultTable{}
	for k, v := range *t.faults.Load() {
		next[k] = v
	}
	for route, f := range change {
		if f == nil {
			delete(next, route)
			continue
		}
		next[route] = *f
	}
	t.faults.Store(&next)
}

// wait sleeps for d on a timer, returning early with an error when the
// request is cancelled or the target is closed. It never spins.
func (t *Target) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.ctx.Done():
		return errTargetClosed
	}
}

var errTargetClosed = errors.New("target closed")

// handleGetFaults serves GET /-/faults: the current table as JSON.
func (t *Target) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, *t.faults.Load())
}

// handlePostFaults serves POST /-/faults: a change, then the new table.
func (t *Target) handlePostFaults(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	change, err := parseFaults(b, routeNames())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	t.setFaults(change)
	for route, f := range change {
		if f == nil {
			level.Info(t.logger).Log("msg", "fault cleared", "route", route)
			continue
		}
		level.Info(t.logger).Log("msg", "fault set", "route", route, "base", f.Base, "jitter", f.Jitter,
			"dist", f.Dist, "error_ratio", f.ErrorRatio, "error_code", f.ErrorCode)
	}
	t.handleGetFaults(w, r)
}
