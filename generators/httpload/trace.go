package httpload

import "math/rand/v2"

// traceparentLen is the length of "00-<32 hex>-<16 hex>-01".
const traceparentLen = 55

// traceparent is a W3C trace context header value.
type traceparent [traceparentLen]byte

// fill fills tp with a random trace ID and span ID, sampled.
// Randomness comes from the runtime's per-thread ChaCha8 source: cheap,
// lock-free, and never all zeros in practice (a zero ID is re-drawn).
func (tp *traceparent) fill() {
	hi, lo, span := rand.Uint64(), rand.Uint64(), rand.Uint64()
	for hi|lo == 0 {
		hi, lo = rand.Uint64(), rand.Uint64()
	}
	for span == 0 {
		span = rand.Uint64()
	}
	tp[0], tp[1], tp[2] = '0', '0', '-'
	putHex(tp[3:19], hi)
	putHex(tp[19:35], lo)
	tp[35] = '-'
	putHex(tp[36:52], span)
	tp[52], tp[53], tp[54] = '-', '0', '1'
}

// traceID returns the 32 hex digits of the trace ID.
func (tp *traceparent) traceID() []byte { return tp[3:35] }

func putHex(dst []byte, v uint64) {
	for i := 15; i >= 0; i-- {
		dst[i] = hexDigits[v&0xf]
		v >>= 4
	}
}
