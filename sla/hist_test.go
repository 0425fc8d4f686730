package sla

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsCoverValues(t *testing.T) {
	vals := []uint64{0, 1, 63, 64, 127, 128, 129, 255, 256, 1000, 1e6, 123456789, 1e12, maxValue}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		vals = append(vals, r.Uint64N(maxValue))
	}
	for _, v := range vals {
		i := bucketOf(v)
		if i < 0 || i >= nBuckets {
			t.Fatalf("bucketOf(%d) = %d outside [0,%d)", v, i, nBuckets)
		}
		lo, w := bucketRange(i)
		if v < lo || v >= lo+w {
			t.Fatalf("value %d not in its bucket %d [%d,%d)", v, i, lo, lo+w)
		}
		mid := float64(lo) + float64(w-1)/2
		if v > 0 && math.Abs(mid-float64(v))/float64(v) > 0.0079 {
			t.Fatalf("value %d: bucket midpoint %g is %.3f%% off", v, mid, 100*math.Abs(mid-float64(v))/float64(v))
		}
	}
	if lo, w := bucketRange(nBuckets - 1); lo+w-1 != maxValue {
		t.Errorf("last bucket ends at %d, want %d", lo+w-1, uint64(maxValue))
	}
}

func TestQuantileAccuracy(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func(r *rand.Rand) float64 // seconds
	}{
		{"lognormal 20ms", func(r *rand.Rand) float64 { return 0.02 * math.Exp(0.8*r.NormFloat64()) }},
		{"uniform 1-2ms", func(r *rand.Rand) float64 { return 0.001 + 0.001*r.Float64() }},
		{"bimodal", func(r *rand.Rand) float64 {
			if r.Float64() < 0.9 {
				return 0.005 + 0.001*r.Float64()
			}
			return 2 + r.Float64()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			var h hist
			exact := make([]float64, 50000)
			for i := range exact {
				v := tc.gen(r)
				h.record(uint64(v * 1e9))
				exact[i] = float64(uint64(v*1e9)) * 1e-9
			}
			slices.Sort(exact)
			d := h.snapshot(1e-9)
			if d.Count() != uint64(len(exact)) {
				t.Fatalf("count %d, want %d", d.Count(), len(exact))
			}
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				want := exact[int(math.Ceil(q*float64(len(exact))))-1]
				got := d.Quantile(q)
				if rel := math.Abs(got-want) / want; rel > 0.01 {
					t.Errorf("q%g = %g, exact %g: %.2f%% off", q, got, want, 100*rel)
				}
			}
			if d.Max() != exact[len(exact)-1] || d.Min() != exact[0] {
				t.Errorf("min/max %g/%g, want %g/%g", d.Min(), d.Max(), exact[0], exact[len(exact)-1])
			}
		})
	}
}

func TestDistMerge(t *testing.T) {
	var a, b, both hist
	for i := uint64(1); i <= 1000; i++ {
		if i%3 == 0 {
			a.record(i * 1000)
		} else {
			b.record(i * 1000)
		}
		both.record(i * 1000)
	}
	m := a.snapshot(1).Merge(b.snapshot(1))
	want := both.snapshot(1)
	if m.Count() != want.Count() || m.Max() != want.Max() || m.Min() != want.Min() || m.Mean() != want.Mean() {
		t.Fatalf("merge: n=%d max=%g min=%g mean=%g, want n=%d max=%g min=%g mean=%g",
			m.Count(), m.Max(), m.Min(), m.Mean(), want.Count(), want.Max(), want.Min(), want.Mean())
	}
	for _, q := range []float64{0.1, 0.5, 0.99} {
		if m.Quantile(q) != want.Quantile(q) {
			t.Errorf("q%g: merged %g, direct %g", q, m.Quantile(q), want.Quantile(q))
		}
	}
	if !math.IsNaN((Dist{}).Quantile(0.5)) {
		t.Error("empty Dist quantile should be NaN")
	}
	if e := (Dist{}).Merge(Dist{}); e.Count() != 0 {
		t.Error("merge of empties not empty")
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	rec := NewRecorder(testStart)
	rec.Track("api", "list")
	b.RunParallel(func(pb *testing.PB) {
		o := okOutcome(20e6)
		for pb.Next() {
			rec.Record("api", "list", o)
		}
	})
}
