package transcribe

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/loadd/loadd/exporter"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want exporter.Reason
	}{
		{nil, exporter.ReasonNone},
		{fmt.Errorf("x: %w", ErrAssertion), exporter.ReasonAssertion},
		{fmt.Errorf("x: %w", ErrProtocol), exporter.ReasonProtocol},
		{fmt.Errorf("open stream: %w", errStatus{403}), exporter.ReasonStatus},
		{errStatus{503}, exporter.ReasonStatus},
		{fmt.Errorf("%w with code 1011", errServerClose), exporter.ReasonStatus},
		{fmt.Errorf("read results: %w", &websocket.CloseError{Code: websocket.CloseAbnormalClosure}), exporter.ReasonReset},
		{fmt.Errorf("upload: %w", context.DeadlineExceeded), exporter.ReasonTimeout},
		{fmt.Errorf("open stream: %w", syscall.ECONNREFUSED), exporter.ReasonConnect},
		{fmt.Errorf("send audio: %w", syscall.EPIPE), exporter.ReasonReset},
		{errors.New("something odd"), exporter.ReasonOther},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
