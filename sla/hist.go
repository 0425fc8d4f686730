package sla

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// The histogram is log-linear (HDR style): values below 2·subBuckets are
// exact; above, every power of two is split into subBuckets equal parts,
// so a bucket is at most 1/subBuckets of its lower bound wide and its
// midpoint is within 1/(2·subBuckets) ≈ 0.78 % of any value in it.
const (
	subBits    = 6
	subBuckets = 1 << subBits // 64
	// maxBits bounds recorded values to 2^44 (in ns: about 4.9 hours).
	maxBits  = 44
	nBuckets = 2*subBuckets + (maxBits-subBits-1)*subBuckets
	maxValue = 1<<maxBits - 1
)

// bucketOf returns the bucket index of v.
func bucketOf(v uint64) int {
	if v > maxValue {
		v = maxValue
	}
	if v < 2*subBuckets {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [subBuckets, 2·subBuckets)
	return 2*subBuckets + (e-1)*subBuckets + int(v>>e) - subBuckets
}

// bucketRange returns the lowest value of bucket i and its width.
func bucketRange(i int) (lo, width uint64) {
	if i < 2*subBuckets {
		return uint64(i), 1
	}
	j := i - 2*subBuckets
	e := j/subBuckets + 1
	return uint64(subBuckets+j%subBuckets) << e, 1 << e
}

// hist is a concurrent log-linear histogram of non-negative integers.
// Record is a handful of atomic adds; readers copy it into a Dist.
type hist struct {
	buckets [nBuckets]atomic.Uint64
	sum     atomic.Uint64
	max     atomic.Uint64
	min     atomic.Uint64 // stored as ^v so that the zero value means "none"
}

// record adds one value.
func (h *hist) record(v uint64) {
	if v > maxValue {
		v = maxValue
	}
	h.buckets[bucketOf(v)].Add(1)
	h.sum.Add(v)
	for cur := h.max.Load(); v > cur; cur = h.max.Load() {
		if h.max.CompareAndSwap(cur, v) {
			break
		}
	}
	for cur := h.min.Load(); ^v > cur; cur = h.min.Load() {
		if h.min.CompareAndSwap(cur, ^v) {
			break
		}
	}
}

// reset clears the histogram. Concurrent records may survive it.
func (h *hist) reset() {
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
	h.sum.Store(0)
	h.max.Store(0)
	h.min.Store(0)
}

// snapshot copies the histogram into a Dist whose values are multiplied by
// scale (1e-9 turns nanoseconds into seconds).
func (h *hist) snapshot(scale float64) Dist {
	d := Dist{scale: scale}
	for i := range h.buckets {
		if n := h.buckets[i].Load(); n > 0 {
			d.counts = append(d.counts, bucketCount{i, n})
			d.n += n
		}
	}
	if d.n > 0 {
		d.sum = float64(h.sum.Load())
		d.max = h.max.Load()
		d.min = ^h.min.Load()
	}
	return d
}

type bucketCount struct {
	bucket int
	n      uint64
}

// Dist is an immutable copy of a histogram: a distribution of values with
// quantiles accurate to within 1 %.
type Dist struct {
	counts   []bucketCount // non-empty buckets, ascending
	n        uint64
	sum      float64
	min, max uint64
	scale    float64
}

// Count returns how many values the distribution holds.
func (d Dist) Count() uint64 { return d.n }

// Max returns the largest value exactly (0 when empty).
func (d Dist) Max() float64 { return float64(d.max) * d.scale }

// Min returns the smallest value exactly (0 when empty).
func (d Dist) Min() float64 {
	if d.n == 0 {
		return 0
	}
	return float64(d.min) * d.scale
}

// Mean returns the average value (0 when empty).
func (d Dist) Mean() float64 {
	if d.n == 0 {
		return 0
	}
	return d.sum / float64(d.n) * d.scale
}

// Quantile returns the q-quantile (0 < q <= 1) by the nearest-rank method:
// the midpoint of the bucket holding the ⌈q·n⌉-th smallest value, clamped
// to the exact minimum and maximum. It is NaN for an empty distribution.
func (d Dist) Quantile(q float64) float64 {
	if d.n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(d.n)))
	rank = min(max(rank, 1), d.n)
	var seen uint64
	for _, c := range d.counts {
		seen += c.n
		if seen >= rank {
			lo, w := bucketRange(c.bucket)
			mid := float64(lo) + float64(w-1)/2
			mid = min(max(mid, float64(d.min)), float64(d.max))
			return mid * d.scale
		}
	}
	return float64(d.max) * d.scale
}

// Merge returns the distribution of the values of d and o together. Both
// must have the same scale.
func (d Dist) Merge(o Dist) Dist {
	if o.n == 0 {
		return d
	}
	if d.n == 0 {
		return o
	}
	out := Dist{n: d.n + o.n, sum: d.sum + o.sum, min: min(d.min, o.min), max: max(d.max, o.max), scale: d.scale}
	out.counts = make([]bucketCount, 0, len(d.counts)+len(o.counts))
	i, j := 0, 0
	for i < len(d.counts) || j < len(o.counts) {
		switch {
		case j == len(o.counts) || (i < len(d.counts) && d.counts[i].bucket < o.counts[j].bucket):
			out.counts = append(out.counts, d.counts[i])
			i++
		case i == len(d.counts) || o.counts[j].bucket < d.counts[i].bucket:
			out.counts = append(out.counts, o.counts[j])
			j++
		default:
			out.counts = append(out.counts, bucketCount{d.counts[i].bucket, d.counts[i].n + o.counts[j].n})
			i++
			j++
		}
	}
	return out
}
