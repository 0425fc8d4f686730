package schedule

import (
	"math"
	"testing"
	"time"
)

const tolerance = 50 * time.Microsecond

func near(a, b time.Duration) bool {
	d := a - b
	return d < tolerance && d > -tolerance
}

func TestConstantArrivals(t *testing.T) {
	cases := []struct {
		rate float64
		n    uint64
		want time.Duration
	}{
		{200, 0, 0},
		{200, 1, 5 * time.Millisecond},
		{200, 200, time.Second},
		{3, 10, 3333333333 * time.Nanosecond},
		{20000, 1_200_000, time.Minute},
		{0.5, 3, 6 * time.Second},
	}
	for _, c := range cases {
		got, ok := Constant{PerSecond: c.rate}.Arrival(c.n)
		if !ok || !near(got, c.want) {
			t.Errorf("Constant{%g}.Arrival(%d) = %v, %v; want %v", c.rate, c.n, got, ok, c.want)
		}
	}
	if _, ok := (Constant{}).Arrival(1); ok {
		t.Error("zero rate must have no arrivals")
	}
}

// cumulative integrates the rate numerically: the reference for inversion.
func cumulative(p Pacer, until time.Duration) float64 {
	const steps = 200000
	dt := until.Seconds() / steps
	var sum float64
	for i := 0; i < steps; i++ {
		sum += p.Rate(time.Duration((float64(i) + 0.5) * dt * 1e9))
	}
	return sum * dt
}

func TestStagesArrivals(t *testing.T) {
	p := Stages{From: 0, Stages: []Stage{
		{Duration: 10 * time.Second, To: 100}, // ramp: 500 arrivals
		{Duration: 10 * time.Second, To: 100}, // hold: 1000 arrivals
		{Duration: 10 * time.Second, To: 0},   // ramp down: 500 arrivals
	}}
	cases := []struct {
		n    uint64
		want time.Duration
	}{
		{0, 0},
		{50, time.Duration(math.Sqrt(10) * 1e9)}, // 0.5·10·τ² = 50 → τ = √10
		{500, 10 * time.Second},
		{1000, 15 * time.Second},
		{1500, 20 * time.Second},
		{1999, 30*time.Second - time.Duration(math.Sqrt(0.2)*1e9)}, // 1 arrival left: 5τ² = 1
	}
	for _, c := range cases {
		got, ok := p.Arrival(c.n)
		if !ok || !near(got, c.want) {
			t.Errorf("Arrival(%d) = %v, %v; want %v", c.n, got, ok, c.want)
		}
	}
	if _, ok := p.Arrival(2001); ok {
		t.Error("a shape ending at rate 0 must end")
	}
	if r := p.Rate(5 * time.Second); r != 50 {
		t.Errorf("Rate(5s) = %v, want 50", r)
	}
	// Arrivals follow ∫rate everywhere, not just at the checked points.
	for _, n := range []uint64{7, 333, 777, 1234, 1888} {
		at, _ := p.Arrival(n)
		if got := cumulative(p, at); math.Abs(got-float64(n)) > 0.05 {
			t.Errorf("∫rate up to Arrival(%d)=%v is %.3f", n, at, got)
		}
	}
}

func TestStagesHoldLastRate(t *testing.T) {
	p := Stages{From: 10, Stages: []Stage{{Duration: time.Second, To: 20}}}
	at, ok := p.Arrival(15 + 200)
	if !ok || !near(at, 11*time.Second) {
		t.Errorf("after the last stage the rate holds: got %v, %v; want 11s", at, ok)
	}
}

func TestSineArrivals(t *testing.T) {
	p := Sine{Mean: 100, Amplitude: 50, Period: 10 * time.Second}
	prev := time.Duration(-1)
	for _, n := range []uint64{0, 1, 10, 99, 250, 500, 777, 1000, 5001} {
		at, ok := p.Arrival(n)
		if !ok || at <= prev {
			t.Fatalf("Arrival(%d) = %v not after %v", n, at, prev)
		}
		prev = at
		if got := cumulative(p, at); math.Abs(got-float64(n)) > 0.05 {
			t.Errorf("∫rate up to Arrival(%d)=%v is %.3f", n, at, got)
		}
	}
	// A whole period holds exactly Mean·Period arrivals.
	if at, _ := p.Arrival(1000); !near(at, 10*time.Second) {
		t.Errorf("Arrival(1000) = %v, want 10s", at)
	}
}

// Peak is the highest rate a pacer reaches: exactly the largest of its
// rates sampled across the shape.
func TestPeak(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Pacer
		want float64
	}{
		{"constant", Constant{PerSecond: 200}, 200},
		{"constant zero", Constant{}, 0},
		{"ramp up, hold, down", Stages{Stages: []Stage{{time.Minute, 500}, {time.Minute, 500}, {time.Minute, 0}}}, 500},
		{"from a base, dipping", Stages{From: 300, Stages: []Stage{{time.Minute, 100}, {time.Minute, 250}}}, 300},
		{"rising to the end", Stages{From: 10, Stages: []Stage{{time.Minute, 40}, {time.Minute, 90}}}, 90},
		{"sine", Sine{Mean: 100, Amplitude: 50, Period: time.Minute}, 150},
		{"sine with a phase", Sine{Mean: 100, Amplitude: 100, Period: time.Minute, Phase: 1}, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Peak(); got != c.want {
				t.Errorf("Peak() = %g, want %g", got, c.want)
			}
			sampled := 0.0
			for at := time.Duration(0); at <= 4*time.Minute; at += 250 * time.Millisecond {
				sampled = max(sampled, c.p.Rate(at))
			}
			if math.Abs(sampled-c.want) > 0.01 {
				t.Errorf("sampled rates peak at %g, Peak() says %g", sampled, c.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	cases := []struct {
		n       int
		weights []float64
		want    []int
	}{
		{1000, []float64{5, 1, 0.1}, []int{820, 164, 16}},
		{7, []float64{1, 1, 1}, []int{3, 2, 2}},
		{1, []float64{5, 1, 0.1}, []int{1, 0, 0}},
		{10, []float64{0, 0}, []int{0, 0}},
	}
	for _, c := range cases {
		got := Split(c.n, c.weights)
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("Split(%d, %v) = %v, want %v", c.n, c.weights, got, c.want)
				break
			}
		}
	}
}

func TestInterleaveFollowsWeights(t *testing.T) {
	order := interleave([]int{5, 1})
	if len(order) != 6 || order[0] != 0 {
		t.Fatalf("order = %v", order)
	}
	ones := 0
	for _, c := range order[:3] {
		ones += c
	}
	if ones > 1 {
		t.Errorf("class 1 over-represented early: %v", order)
	}
}

func TestShard(t *testing.T) {
	for _, n := range []int{0, 1, 7, 10000, 10001} {
		for _, count := range []int{1, 2, 3, 7} {
			sum := 0
			for i := 0; i < count; i++ {
				sum += Shard{Index: i, Count: count}.Of(n)
			}
			if sum != n {
				t.Errorf("shards of %d over %d sum to %d", n, count, sum)
			}
		}
	}
	for _, c := range []struct {
		in, host, env string
		want          Shard
		err           bool
	}{
		{"0/1", "", "", Whole, false},
		{"2/3", "", "", Shard{2, 3}, false},
		{"3/3", "", "", Shard{}, true},
		{"x", "", "", Shard{}, true},
		{"auto", "loadd-4", "5", Shard{4, 5}, false},
		{"auto", "loadd", "5", Shard{}, true},
		{"auto", "loadd-1", "", Shard{}, true},
	} {
		got, err := ParseShard(c.in, c.host, func(string) string { return c.env })
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseShard(%q, %q) = %v, %v", c.in, c.host, got, err)
		}
	}
}

func FuzzStagesArrivalMonotonic(f *testing.F) {
	f.Add(0.0, 100.0, 50.0, int64(time.Second), int64(2*time.Second), uint64(10))
	f.Fuzz(func(t *testing.T, from, a, b float64, d1, d2 int64, n uint64) {
		if from < 0 || a < 0 || b < 0 || from > 1e6 || a > 1e6 || b > 1e6 || d1 <= 0 || d2 <= 0 || d1 > int64(time.Hour) || d2 > int64(time.Hour) || n > 1e7 {
			return
		}
		p := Stages{From: from, Stages: []Stage{{time.Duration(d1), a}, {time.Duration(d2), b}}}
		x, ok1 := p.Arrival(n)
		y, ok2 := p.Arrival(n + 1)
		if ok1 && ok2 && y < x {
			t.Fatalf("arrivals not monotonic: %v then %v", x, y)
		}
		if ok2 && !ok1 {
			t.Fatalf("arrival %d exists but %d does not", n+1, n)
		}
	})
}
