// Package schedule decides when and how fast: pacers (load shapes as
// values), the open-model arrival runner, the closed-model user runner, and
// the sharding of rates and counts across replicas.
package schedule

import (
	"math"
	"time"
)

// Pacer is a load shape: it gives the intended time of every arrival.
// Implementations are pure values, safe for concurrent use.
type Pacer interface {
	// Arrival returns the offset from the start at which arrival n
	// (0-based) is intended, and false when the shape ends before it.
	Arrival(n uint64) (at time.Duration, ok bool)
	// Rate returns the intended arrival rate, per second, at offset t.
	Rate(t time.Duration) float64
	// Peak returns the highest rate, per second, at any offset.
	Peak() float64
}

// maxOffset bounds every pacer so offsets never overflow time.Duration.
const maxOffset = 100 * 365 * 24 * time.Hour

func offset(sec float64) (time.Duration, bool) {
	if math.IsNaN(sec) || sec < 0 || sec > maxOffset.Seconds() {
		return 0, false
	}
	return time.Duration(math.Round(sec * 1e9)), true
}

// Constant arrives at a fixed rate, forever.
type Constant struct {
	PerSecond float64
}

var _ Pacer = Constant{}

// Arrival places arrival n at n/rate: exact, with no accumulated drift.
func (c Constant) Arrival(n uint64) (time.Duration, bool) {
	if c.PerSecond <= 0 {
		return 0, false
	}
	return offset(float64(n) / c.PerSecond)
}

// Rate returns the constant rate.
func (c Constant) Rate(time.Duration) float64 { return max(c.PerSecond, 0) }

// Peak returns the constant rate.
func (c Constant) Peak() float64 { return c.Rate(0) }

// Stage is one segment of a Stages shape: the rate moves linearly from the
// previous stage's end rate to To over Duration (To equal to the previous
// rate is a hold).
type Stage struct {
	Duration time.Duration
	To       float64
}

// Stages is a piecewise-linear rate (k6/Gatling style ramps and holds),
// starting at From. After the last stage the last rate holds forever; a
// shape that ends at rate 0 therefore ends.
type Stages struct {
	From   float64
	Stages []Stage
}

var _ Pacer = Stages{}

// Rate returns the piecewise-linear rate at t.
func (s Stages) Rate(t time.Duration) float64 {
	r := s.From
	var start time.Duration
	for _, st := range s.Stages {
		if t < start+st.Duration {
			f := float64(t-start) / float64(st.Duration)
			return r + (st.To-r)*f
		}
		start += st.Duration
		r = st.To
	}
	return r
}

// Peak returns the highest of the start rate and the stages' end rates:
// the rate is linear within a stage, so it peaks at one of them.
func (s Stages) Peak() float64 {
	p := s.From
	for _, st := range s.Stages {
		p = max(p, st.To)
	}
	return max(p, 0)
}

// Arrival inverts the cumulative arrival count N(t) = ∫rate: within a
// stage it is quadratic, N0 + a·τ + (b-a)/(2D)·τ², solved in closed form.
func (s Stages) Arrival(n uint64) (time.Duration, bool) {
	target := float64(n)
	var cum, start float64 // arrivals and seconds before the current stage
	a := s.From
	for _, st := range s.Stages {
		d := st.Duration.Seconds()
		b := st.To
		seg := (a + b) / 2 * d
		if cum+seg > target {
			tau := solveRamp(a, b, d, target-cum)
			return offset(start + tau)
		}
		cum += seg
		start += d
		a = b
	}
	if a <= 0 {
		return 0, false
	}
	return offset(start + (target-cum)/a)
}

// solveRamp returns τ in [0,d] with a·τ + (b-a)/(2d)·τ² = k.
func solveRamp(a, b, d, k float64) float64 {
	if k <= 0 {
		return 0
	}
	q := (b - a) / (2 * d)
	if math.Abs(q) < 1e-12 {
		return k / a
	}
	disc := a*a + 4*q*k
	if disc < 0 {
		disc = 0
	}
	// Numerically stable root of q·τ² + a·τ - k = 0.
	tau := 2 * k / (a + math.Sqrt(disc))
	return min(max(tau, 0), d)
}

// Sine oscillates around Mean with Amplitude over Period, starting at
// Phase (radians): rate(t) = Mean + Amplitude·sin(2πt/Period + Phase).
// Amplitude must not exceed Mean.
type Sine struct {
	Mean, Amplitude float64
	Period          time.Duration
	Phase           float64
}

var _ Pacer = Sine{}

// Rate returns the sine rate at t.
func (s Sine) Rate(t time.Duration) float64 {
	return s.Mean + s.Amplitude*math.Sin(2*math.Pi*t.Seconds()/s.Period.Seconds()+s.Phase)
}

// Peak returns Mean + Amplitude.
func (s Sine) Peak() float64 { return max(s.Mean+math.Abs(s.Amplitude), 0) }

// cum is N(t) = Mean·t + A·P/2π·(cos φ − cos(2πt/P + φ)).
func (s Sine) cum(t float64) float64 {
	p := s.Period.Seconds()
	return s.Mean*t + s.Amplitude*p/(2*math.Pi)*(math.Cos(s.Phase)-math.Cos(2*math.Pi*t/p+s.Phase))
}

// Arrival inverts N(t) by Newton's method bracketed by bisection.
func (s Sine) Arrival(n uint64) (time.Duration, bool) {
	if s.Mean <= 0 || s.Period <= 0 {
		return 0, false
	}
	k := float64(n)
	// N(t) stays within A·P/π of Mean·t, which brackets the root.
	slack := s.Amplitude * s.Period.Seconds() / math.Pi
	lo, hi := max((k-slack)/s.Mean, 0), (k+slack)/s.Mean
	t := k / s.Mean
	for range 60 {
		f := s.cum(t) - k
		if math.Abs(f) < 1e-9 {
			break
		}
		if f > 0 {
			hi = t
		} else {
			lo = t
		}
		r := s.Rate(time.Duration(t * 1e9))
		next := t - f/r
		if r <= 0 || next <= lo || next >= hi {
			next = (lo + hi) / 2
		}
		t = next
	}
	return offset(t)
}
