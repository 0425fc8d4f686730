package httpload

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Picks follow the weights: the seed's 10/5/3/2/2/1, with a disabled task.
func TestPickerFollowsWeights(t *testing.T) {
	for _, weights := range [][]float64{
		{10, 5, 3, 2, 2, 1},
		{1, 0, 5, 0.1},
		{1},
		{0, 0, 3},
		{1e-9, 1},
	} {
		p := newPicker(weights)
		var sum float64
		for _, w := range weights {
			sum += w
		}
		const n = 400_000
		counts := make([]int, len(weights))
		rng := rand.New(rand.NewPCG(1, 2))
		for range n {
			counts[p.pickWith(rng.Uint64())]++
		}
		for i, w := range weights {
			want := w / sum
			got := float64(counts[i]) / n
			if w == 0 && counts[i] != 0 {
				t.Errorf("%v: zero-weight index %d picked %d times", weights, i, counts[i])
			}
			// Five standard deviations of a binomial proportion.
			if tol := 5 * math.Sqrt(want*(1-want)/n); math.Abs(got-want) > tol+1e-9 {
				t.Errorf("%v: index %d picked %.4f of the time, want %.4f ± %.4f", weights, i, got, want, tol)
			}
		}
	}
}

func TestPickerExtremes(t *testing.T) {
	p := newPicker([]float64{0, 2, 0})
	for _, r := range []uint64{0, math.MaxUint64, 1 << 63, 1<<32 - 1} {
		if got := p.pickWith(r); got != 1 {
			t.Errorf("pickWith(%#x) = %d, want the only weighted index 1", r, got)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	p := newPicker([]float64{10, 5, 3, 2, 2, 1})
	b.ReportAllocs()
	var sink int
	for b.Loop() {
		sink += p.pick()
	}
	_ = sink
}
