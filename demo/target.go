// Package demo is the reference target service loadd's demo and tests run
// against: a Phoenix-Guardian-shaped HTTP API (password login, encounters,
// SOAP notes, dashboards, patient search, admin pages) with per-route
// latency and error injection that can be changed while it runs, and
// per-route counts of what it served so tests can check loadd's own.
//
// Control endpoints, unauthenticated (bind the target to loopback):
//
//	GET  /-/healthy  "ok"
//	GET  /-/faults   the fault table: {"*": {...}, "list_encounters": {...}}
//	POST /-/faults   change it: {"list_encounters": {"base": "50ms", "jitter": "10ms",
//	                 "dist": "exponential", "error_ratio": "5%", "error_code": 503}};
//	                 null for a route drops its own fault
//	GET  /-/stats    per route: requests, responses by code, cancelled
package demo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Defaults of Options fields left at their zero value.
const (
	DefaultPhysicianPassword = "physician-password"
	DefaultAdminPassword     = "admin-password"
	DefaultTokenTTL          = time.Hour
	DefaultEncounters        = 1000
	DefaultMaxEncounters     = 10000
	DefaultMaxTokens         = 100000
)

// Options holds every knob of the target; the zero value gives the
// defaults above, no injected latency and no injected errors.
type Options struct {
	// PhysicianPassword and AdminPassword are the passwords of the built-in
	// users "physician" (role clinician) and "admin" (role admin).
	PhysicianPassword string
	AdminPassword     string
	// TokenTTL is how long an access token is valid; expires_in says it in
	// whole seconds, rounded up.
	TokenTTL time.Duration
	// Encounters is how many encounters are seeded; MaxEncounters bounds the
	// store (creating more evicts the oldest); MaxTokens bounds live tokens
	// (issuing more evicts expired ones, then arbitrary ones).
	Encounters    int
	MaxEncounters int
	MaxTokens     int
	// Faults holds the initial faults by route name, AllRoutes ("*") for
	// every route without its own.
	Faults map[string]Fault
	// Now is the clock for token expiry and timestamps; nil means time.Now.
	Now func() time.Time
}

// AddFlags registers the --target.* flags on cmd, writing into o.
func AddFlags(cmd *kingpin.CmdClause, o *Options) {
	all := faultFlag{o: o}
	cmd.Flag("target.physician-password", "Password of the built-in user physician.").
		Default(DefaultPhysicianPassword).Envar("LOADD_TARGET_PHYSICIAN_PASSWORD").StringVar(&o.PhysicianPassword)
	cmd.Flag("target.admin-password", "Password of the built-in user admin.").
		Default(DefaultAdminPassword).Envar("LOADD_TARGET_ADMIN_PASSWORD").StringVar(&o.AdminPassword)
	cmd.Flag("target.token-ttl", "Lifetime of issued access tokens.").
		Default(DefaultTokenTTL.String()).DurationVar(&o.TokenTTL)
	cmd.Flag("target.encounters", "Number of encounters seeded at start.").
		Default(fmt.Sprint(DefaultEncounters)).IntVar(&o.Encounters)
	cmd.Flag("target.max-encounters", "Most encounters kept; creating more evicts the oldest.").
		Default(fmt.Sprint(DefaultMaxEncounters)).IntVar(&o.MaxEncounters)
	cmd.Flag("target.latency", "Injected latency of every route (fixed part).").
		PlaceHolder("0s").SetValue(all.field(setBase))
	cmd.Flag("target.jitter", "Injected latency of every route (random part: width or mean, see --target.latency-dist).").
		PlaceHolder("0s").SetValue(all.field(setJitter))
	cmd.Flag("target.latency-dist", "Distribution of the random part: uniform or exponential.").
		PlaceHolder(DistUniform).SetValue(all.field(setDist))
	cmd.Flag("target.error-ratio", "Ratio of requests failed on purpose on every route (0.01 or 1%).").
		PlaceHolder("0").SetValue(all.field(setRatio))
	cmd.Flag("target.error-code", "Status of failed requests (5xx).").
		PlaceHolder("500").SetValue(all.field(setCode))
	cmd.Flag("target.faults", `Per-route faults as JSON, as POST /-/faults takes: '{"list_encounters":{"base":"50ms"}}'.`).
		PlaceHolder("JSON").SetValue(routesFlag{o: o})
}

// Target is the demo service. Create it with NewTarget, serve Handler, and
// stop it with Close.
type Target struct {
	logger log.Logger
	opts   Options
	now    func() time.Time
	ctx    context.Context // cancelled by Close: aborts injected waits
	cancel context.CancelFunc
	start  time.Time

	faultMu sync.Mutex // serialises writers of faults
	faults  atomic.Pointer[faultTable]

	stats      map[string]*routeStats // fixed at construction
	tokens     *tokenStore
	encounters *encounterStore
	patients   []patient
	audit      *auditLog

	handlerOnce sync.Once
	handler     http.Handler
}

// NewTarget validates o, applies defaults and builds a Target.
func NewTarget(o Options, logger log.Logger) (*Target, error) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	if err := o.setDefaults(); err != nil {
		return nil, fmt.Errorf("demo target options: %w", err)
	}
	ft := faultTable{}
	for route, f := range o.Faults {
		ft[route] = f
	}
	t := &Target{
		logger: logger, opts: o, now: o.Now,
		stats:    map[string]*routeStats{},
		tokens:   newTokenStore(o.MaxTokens),
		patients: seedPatients(),
		audit:    newAuditLog(auditCap),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.start = t.now()
	t.faults.Store(&ft)
	t.encounters = newEncounterStore(o.MaxEncounters)
	t.encounters.seed(o.Encounters, t.start)
	for _, rt := range routes {
		t.stats[rt.name] = &routeStats{}
	}
	return t, nil
}

func (o *Options) setDefaults() error {
	if o.PhysicianPassword == "" {
		o.PhysicianPassword = DefaultPhysicianPassword
	}
	if o.AdminPassword == "" {
		o.AdminPassword = DefaultAdminPassword
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var errs []error
	for _, d := range []struct {
		name string
		v    *int
		def  int
	}{{"encounters", &o.Encounters, DefaultEncounters}, {"max_encounters", &o.MaxEncounters, DefaultMaxEncounters}, {"max_tokens", &o.MaxTokens, DefaultMaxTokens}} {
		if *d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %d must not be negative", d.name, *d.v))
		} else if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.TokenTTL < 0 {
		errs = append(errs, fmt.Errorf("token_ttl: %s must not be negative", o.TokenTTL))
	} else if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.Encounters > o.MaxEncounters {
		errs = append(errs, fmt.Errorf("encounters: %d seeded is above max_encounters %d", o.Encounters, o.MaxEncounters))
	}
	for _, route := range slices.Sorted(maps.Keys(o.Faults)) {
		if err := checkFault(route, o.Faults[route]); err != nil {
			errs = append(errs, fmt.Errorf("faults: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Handler returns the target's HTTP handler (built once).
func (t *Target) Handler() http.Handler {
	t.handlerOnce.Do(func() {
		mux := http.NewServeMux()
		for _, rt := range routes {
			mux.Handle(rt.pattern, t.serve(rt))
		}
		mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte("ok\n"))
		})
		mux.HandleFunc("GET /-/faults", t.handleGetFaults)
		mux.HandleFunc("POST /-/faults", t.handlePostFaults)
		mux.HandleFunc("GET /-/stats", t.handleStats)
		t.registerWebSocket(mux)
		t.registerTranscription(mux)
		t.handler = mux
	})
	return t.handler
}

// serve wraps a route: count it, inject its fault, check its token, run it.
func (t *Target) serve(rt route) http.Handler {
	st := t.stats[rt.name]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.requests.Add(1)
		rec := &recorder{ResponseWriter: w}
		delay, code := t.Fault(rt.name).Sample()
		if err := t.wait(r.Context(), delay); err != nil {
			if errors.Is(err, errTargetClosed) {
				writeError(rec, http.StatusServiceUnavailable, "target shutting down")
				st.record(rec.code)
				return
			}
			level.Debug(t.logger).Log("msg", "request cancelled during injected latency", "route", rt.name, "err", err)
			st.cancelled.Add(1)
			return
		}
		defer func() { st.record(rec.code) }()
		if code != 0 {
			writeError(rec, code, "injected fault")
			return
		}
		who, ok := t.authorize(rec, r, rt.role)
		if !ok {
			return
		}
		rt.handle(t, rec, r, who)
	})
}

// Stats returns the number of requests each route has received, every
// route listed, including those failed on purpose or cancelled.
func (t *Target) Stats() map[string]uint64 {
	out := make(map[string]uint64, len(t.stats))
	for name, st := range t.stats {
		out[name] = st.requests.Load()
	}
	return out
}

// Close stops the target: injected waits in progress end at once with 503.
// The caller shuts down its http.Server. Close is idempotent.
func (t *Target) Close() { t.cancel() }

// statCodes are the status codes counted one by one; others count as "other".
var statCodes = [...]int{200, 201, 400, 401, 403, 404, 500, 503}

// routeStats counts one route's traffic without locks.
type routeStats struct {
	requests  atomic.Uint64
	cancelled atomic.Uint64
	codes     [len(statCodes) + 1]atomic.Uint64
}

func (s *routeStats) record(code int) {
	for i, c := range statCodes {
		if c == code {
			s.codes[i].Add(1)
			return
		}
	}
	s.codes[len(statCodes)].Add(1)
}

// routeStatsJSON is one route in GET /-/stats.
type routeStatsJSON struct {
	Requests  uint64            `json:"requests"`
	Cancelled uint64            `json:"cancelled"`
	Codes     map[string]uint64 `json:"codes"`
}

func (t *Target) handleStats(w http.ResponseWriter, _ *http.Request) {
	out := make(map[string]routeStatsJSON, len(t.stats))
	for name, st := range t.stats {
		codes := map[string]uint64{}
		for i := range st.codes {
			if n := st.codes[i].Load(); n > 0 {
				key := "other"
				if i < len(statCodes) {
					key = fmt.Sprint(statCodes[i])
				}
				codes[key] = n
			}
		}
		out[name] = routeStatsJSON{Requests: st.requests.Load(), Cancelled: st.cancelled.Load(), Codes: codes}
	}
	writeJSON(w, http.StatusOK, map[string]any{"routes": out})
}

// recorder remembers the status a handler wrote.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
