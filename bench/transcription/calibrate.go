package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// timerLag measures how late a lone goroutine wakes from 10 ms sleeps
// until ctx is done: what any timer in this process suffers from the
// machine's scheduling alone, the floor under the frame lag.
func timerLag(ctx context.Context) (p99, worst time.Duration) {
	var lags []time.Duration
	for ctx.Err() == nil {
		due := time.Now().Add(10 * time.Millisecond)
		time.Sleep(10 * time.Millisecond)
		lags = append(lags, time.Since(due))
	}
	if len(lags) == 0 {
		return 0, 0
	}
	slices.Sort(lags)
	return lags[len(lags)*99/100], lags[len(lags)-1]
}

// calibrate runs timerLag for d on an otherwise idle process.
func calibrate(d time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	p99, worst := timerLag(ctx)
	return fmt.Sprintf("p99 %s, max %s", p99.Round(time.Microsecond), worst.Round(time.Microsecond))
}
