package transcribe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/exporter"
	"github.com/loadd/loadd/generators"
	"github.com/loadd/loadd/schedule"
)

// LateFrame is how late a frame may leave before it counts as late.
const LateFrame = 10 * time.Millisecond

// maxLateRatio is the share of late frames above which a run is invalid:
// more than 1 % late by over LateFrame means the p99 lag is over LateFrame.
const maxLateRatio = 0.01

// ErrLateFrames says the load generator could not keep audio at pace, so
// the run measured loadd rather than the service.
var ErrLateFrames = errors.New("audio frames left late: the run is invalid")

// reasons are the failure reasons pre-initialised for a scenario.
var reasons = []exporter.Reason{
	exporter.ReasonStatus, exporter.ReasonTimeout, exporter.ReasonConnect,
	exporter.ReasonProtocol, exporter.ReasonAssertion, exporter.ReasonReset, exporter.ReasonDropped,
}

// outcome is what one job measured.
type outcome struct {
	code int
	err  error
	// latency is recorded as the task's request duration: the whole job
	// from its intended start (batch) or the final latency (streaming).
	latency     time.Duration
	audio       time.Duration // audio sent
	timed       bool          // the job got its final result: the fields below hold
	hasFirst    bool
	firstResult time.Duration
	final       time.Duration
	rtf         float64
	// interrupted jobs were cut by a shutdown's grace period: not recorded.
	interrupted bool
}

// job runs one transcription job.
type job interface {
	run(ctx context.Context, intended time.Time) outcome
}

// Scenario is a built transcription scenario. Besides generators.Scenario
// it offers Frames and Validity for the run verdict.
type Scenario struct {
	spec   *Spec
	deps   generators.Deps
	logger log.Logger
	scen   *exporter.Scenario
	task   *exporter.Task
	tr     *exporter.Transcription
	job    job

	sched    atomic.Pointer[scheduler]
	stopping atomic.Bool
	started  atomic.Int64 // unix nanoseconds of the run's start
	inFlight atomic.Int64
	users    atomic.Int64
	usersN   int64
	pacer    schedule.Pacer

	framesSent  atomic.Uint64
	framesLate  atomic.Uint64
	maxLag      atomic.Int64
	interrupted atomic.Uint64
}

var _ generators.Scenario = (*Scenario)(nil)

// Run implements generators.Scenario: it runs the open or the fixed
// concurrency model until ctx is done or the load ends, then lets jobs
// finish within the grace period. Streams still sending audio when ctx is
// done end their audio early and wait for their final result.
func (s *Scenario) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(0, time.Now().UnixNano()) {
		return errors.New("transcription scenario: Run called twice")
	}
	if d := s.deps.Duration; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	// Once the run ends, streams end their audio at their next frame.
	stopAfter := context.AfterFunc(ctx, func() { s.stopping.Store(true) })
	defer stopAfter()
	schedCtx, stopSched := context.WithCancel(context.WithoutCancel(ctx))
	if s.spec.Mode == ModeStreaming {
		s.sched.Store(newScheduler(schedCtx, s.shards()))
	}
	defer func() {
		stopSched()
		if sc := s.sched.Load(); sc != nil {
			sc.Wait()
		}
	}()
	level.Debug(s.logger).Log("msg", "starting transcription scenario", "scenario", s.deps.Name, "summary", s.spec.Summary())
	if s.spec.Concurrency > 0 {
		return s.runClosed(ctx)
	}
	return s.runOpen(ctx)
}

// streamsPerShard bounds how many streams share a scheduler shard: a write
// blocked by a server that stopped reading delays only its shard's streams.
const streamsPerShard = 16

// maxShards bounds the scheduler's goroutines.
const maxShards = 256

// shards is the number of scheduler shards for the most streams the
// scenario can hold at once.
func (s *Scenario) shards() int {
	most := s.spec.MaxInFlight
	if s.usersN > 0 {
		most = int(s.usersN)
	}
	return min(max(most/streamsPerShard, runtime.GOMAXPROCS(0)), maxShards)
}

func (s *Scenario) runOpen(ctx context.Context) error {
	o := &schedule.Open{
		Pacer:       s.pacer,
		MaxInFlight: s.spec.MaxInFlight,
		Grace:       s.deps.Grace,
		Duration:    s.deps.Duration,
		Recorder:    openRecorder{s},
		Batch:       schedule.DefaultBatch,
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	rateCtx, stopRate := context.WithCancel(ctx)
	exported := make(chan struct{})
	go func() {
		defer close(exported)
		s.exportTargetRate(rateCtx, tick.C)
	}()
	defer func() { stopRate(); <-exported }()
	if _, err := o.Run(ctx, iterator{s}); err != nil {
		return fmt.Errorf("run scenario %s: %w", s.deps.Name, err)
	}
	return nil
}

// exportTargetRate keeps loadd_target_rate on the shape's current rate
// (stages and sines change it) until ctx is done, then sets it to 0.
func (s *Scenario) exportTargetRate(ctx context.Context, tick <-chan time.Time) {
	start := time.Unix(0, s.started.Load())
	for {
		s.scen.SetTargetRate(s.pacer.Rate(time.Since(start)))
		select {
		case <-ctx.Done():
			s.scen.SetTargetRate(0)
			return
		case <-tick:
		}
	}
}

func (s *Scenario) runClosed(ctx context.Context) error {
	c := &schedule.Closed{
		Users:     int(s.usersN),
		SpawnRate: float64(s.spec.Ramp),
		Classes:   []schedule.Class{{Name: s.spec.task(), Weight: 1}},
		NewUser:   func(int, int) schedule.User { return user{s} },
		Grace:     s.deps.Grace,
		Duration:  s.deps.Duration,
		Recorder:  closedRecorder{s},
	}
	if c.Users == 0 {
		<-ctx.Done() // this shard's share is zero
		return nil
	}
	if err := c.Run(ctx); err != nil {
		return fmt.Errorf("run scenario %s: %w", s.deps.Name, err)
	}
	return nil
}

// record writes one job's outcome to the metrics.
func (s *Scenario) record(o outcome) {
	if o.audio > 0 && s.spec.Mode == ModeBatch {
		s.tr.AudioSeconds.Add(o.audio.Seconds())
	}
	if o.interrupted {
		s.interrupted.Add(1)
		return
	}
	if o.timed {
		if o.hasFirst {
			s.tr.FirstResult.Observe(o.firstResult.Seconds())
		}
		s.tr.FinalLatency.Observe(o.final.Seconds())
		s.tr.RealtimeFactor.Observe(o.rtf)
	}
	r := classify(o.err)
	if r != exporter.ReasonNone {
		s.tr.Failure(r).Inc()
		level.Debug(s.logger).Log("msg", "transcription job failed", "scenario", s.deps.Name, "reason", r, "err", o.err)
	}
	s.task.Observe(exporter.Outcome{Latency: o.latency, Code: o.code, Reason: r})
}

// classify maps a job's error to a failure reason.
func classify(err error) exporter.Reason {
	var (
		st errStatus
		ce *websocket.CloseError
	)
	switch {
	case err == nil:
		return exporter.ReasonNone
	case errors.As(err, &ce) && ce.Code == websocket.CloseAbnormalClosure:
		return exporter.ReasonReset // the connection dropped without a close frame
	case errors.Is(err, ErrAssertion):
		return exporter.ReasonAssertion
	case errors.Is(err, ErrProtocol):
		return exporter.ReasonProtocol
	case errors.As(err, &st), errors.Is(err, errServerClose):
		return exporter.ReasonStatus
	}
	return generators.Classify(err)
}

// onFrame records a frame leaving lag after its slot.
func (s *Scenario) onFrame(lag time.Duration) {
	lag = max(lag, 0)
	s.tr.FrameLag.Observe(lag.Seconds())
	s.framesSent.Add(1)
	if lag > LateFrame {
		s.framesLate.Add(1)
	}
	for cur := s.maxLag.Load(); int64(lag) > cur && !s.maxLag.CompareAndSwap(cur, int64(lag)); cur = s.maxLag.Load() {
	}
}

// FrameStats counts the audio frames a streaming scenario sent.
type FrameStats struct {
	// Sent is the number of frames sent.
	Sent uint64 `json:"sent"`
	// Late is the number that left more than LateFrame after their slot.
	Late uint64 `json:"late"`
	// MaxLag is the latest any frame left.
	MaxLag time.Duration `json:"max_lag"`
}

// Frames returns the frame counts so far.
func (s *Scenario) Frames() FrameStats {
	return FrameStats{Sent: s.framesSent.Load(), Late: s.framesLate.Load(), MaxLag: time.Duration(s.maxLag.Load())}
}

// Validity returns nil when audio kept pace, or an error wrapping
// ErrLateFrames when more than 1 % of frames left over LateFrame late:
// such a run measured loadd, not the service, and should be marked invalid.
func (s *Scenario) Validity() error {
	f := s.Frames()
	if f.Sent == 0 || float64(f.Late) <= maxLateRatio*float64(f.Sent) {
		return nil
	}
	return fmt.Errorf("%w: %d of %d frames left more than %s late (latest %s)", ErrLateFrames, f.Late, f.Sent, LateFrame, f.MaxLag.Round(time.Microsecond))
}

// Interrupted returns how many jobs a shutdown cut before they finished;
// they are in no metric.
func (s *Scenario) Interrupted() uint64 { return s.interrupted.Load() }

// Status implements generators.Scenario.
func (s *Scenario) Status() generators.Status {
	st := generators.Status{
		Kind:      "transcription",
		Model:     "open",
		Completed: s.task.Count(),
		Dropped:   s.scen.DroppedCount(),
		InFlight:  s.inFlight.Load(),
		Failures:  s.task.Failures(),
	}
	if s.spec.Concurrency > 0 {
		st.Model, st.Users, st.UsersTarget = "closed", s.users.Load(), s.usersN
		return st
	}
	st.MaxInFlight = s.spec.MaxInFlight
	if start := s.started.Load(); start != 0 && !s.stopping.Load() {
		st.TargetRate = s.pacer.Rate(time.Since(time.Unix(0, start)))
	}
	return st
}

type iterator struct{ s *Scenario }

func (it iterator) Iterate(ctx context.Context, a schedule.Arrival) {
	it.s.record(it.s.job.run(ctx, a.Intended))
}

// Drop records an arrival over max_in_flight: on the scenario, as a
// request of the task failed with reason dropped, and as a transcription
// failure with reason dropped.
func (it iterator) Drop(schedule.Arrival) {
	it.s.scen.Dropped()
	it.s.task.Dropped()
	it.s.tr.Failure(exporter.ReasonDropped).Inc()
}

type openRecorder struct{ s *Scenario }

func (r openRecorder) ObserveLag(d time.Duration) { r.s.scen.ObserveLag(d) }

func (r openRecorder) InFlight(n int64) {
	r.s.inFlight.Store(n)
	r.s.scen.InFlight().Set(float64(n))
}

type closedRecorder struct{ s *Scenario }

func (r closedRecorder) Users(class string, n int) {
	r.s.users.Store(int64(n))
	r.s.inFlight.Store(int64(n))
	r.s.scen.InFlight().Set(float64(n))
	r.s.scen.VirtualUsers(class).Set(float64(n))
}

// user runs jobs back to back: one of the fixed concurrency.
type user struct{ s *Scenario }

func (u user) Step(ctx context.Context) time.Duration {
	u.s.record(u.s.job.run(ctx, time.Now()))
	return 0
}

func (user) Close() {}

// scaledCount is n × scale, rounded, split across shards.
func scaledCount(n int, scale float64, shard schedule.Shard) int {
	if scale <= 0 {
		scale = 1
	}
	return shard.Of(int(math.Round(float64(n) * scale)))
}
