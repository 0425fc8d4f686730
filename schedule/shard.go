package schedule

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Shard is replica Index of Count: every rate and count is split so the
// replicas together deliver exactly the configured load.
type Shard struct {
	Index, Count int
}

// Whole is the shard of a single replica.
var Whole = Shard{Index: 0, Count: 1}

// ParseShard parses "i/N" (0-based i) or "auto", which takes i from the
// ordinal suffix of the host name (a StatefulSet pod "loadd-2") and N from
// the LOADD_SHARDS environment variable.
func ParseShard(s string, hostname string, getenv func(string) string) (Shard, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Whole, nil
	}
	if s == "auto" {
		i := strings.LastIndexByte(hostname, '-')
		idx, err := strconv.Atoi(hostname[i+1:])
		if i < 0 || err != nil {
			return Shard{}, fmt.Errorf("--shard=auto: host name %q has no StatefulSet ordinal suffix", hostname)
		}
		n, err := strconv.Atoi(getenv("LOADD_SHARDS"))
		if err != nil {
			return Shard{}, fmt.Errorf("--shard=auto: LOADD_SHARDS must hold the replica count")
		}
		return NewShard(idx, n)
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("invalid shard %q (want i/N such as 0/3, or auto)", s)
	}
	return NewShard(i, n)
}

// NewShard validates 0 <= i < n.
func NewShard(i, n int) (Shard, error) {
	if n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("invalid shard %d/%d: want 0 <= i < N", i, n)
	}
	return Shard{Index: i, Count: n}, nil
}

// Hostname is os.Hostname without the error, for ParseShard.
func Hostname() string {
	h, _ := os.Hostname()
	return h
}

// Rate returns this replica's part of a rate.
func (s Shard) Rate(r float64) float64 {
	if s.Count <= 1 {
		return r
	}
	return r / float64(s.Count)
}

// Of returns this replica's part of a count; the parts of all replicas sum
// to n exactly.
func (s Shard) Of(n int) int {
	if s.Count <= 1 {
		return n
	}
	return n*(s.Index+1)/s.Count - n*s.Index/s.Count
}

// String renders "i/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }
