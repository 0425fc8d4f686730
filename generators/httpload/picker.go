package httpload

import (
	"math"
	"math/rand/v2"
)

// picker draws indices in proportion to weights in O(1) with no
// allocation (Vose's alias method): one random word picks a column
// (high half) and decides between the column and its alias (low half).
type picker struct {
	// threshold[i] out of 2^32 is the chance of keeping i in column i.
	threshold []uint32
	alias     []uint32
	// index maps columns to the caller's indices (zero weights are left out).
	index []int
}

// newPicker builds a picker; weights must be non-negative with a positive sum.
func newPicker(all []float64) *picker {
	p := &picker{}
	var weights []float64
	for i, w := range all {
		if w > 0 {
			p.index = append(p.index, i)
			weights = append(weights, w)
		}
	}
	n := len(weights)
	p.threshold, p.alias = make([]uint32, n), make([]uint32, n)
	var sum float64
	for _, w := range weights {
		sum += w
	}
	scaled := make([]float64, n)
	var small, large []int
	for i, w := range weights {
		scaled[i] = w * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		p.threshold[s] = uint32(math.Round(scaled[s] * math.MaxUint32))
		p.alias[s] = uint32(l)
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// What remains is 1 up to rounding error: always keep.
	for _, i := range append(small, large...) {
		p.threshold[i] = math.MaxUint32
		p.alias[i] = uint32(i)
	}
	return p
}

// pick returns a random index.
func (p *picker) pick() int {
	return p.pickWith(rand.Uint64())
}

// pickWith maps a uniform random word to an index.
func (p *picker) pickWith(r uint64) int {
	col := int((r >> 32) * uint64(len(p.threshold)) >> 32)
	if uint32(r) < p.threshold[col] {
		return p.index[col]
	}
	return p.index[p.alias[col]]
}
