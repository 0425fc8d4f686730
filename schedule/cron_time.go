package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser accepts the standard 5 fields and the @ descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronHelp is appended to every invalid-expression message.
const cronHelp = "want 5 fields (minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\"), or @hourly, @daily, @weekly, @monthly, @yearly, @every 6h"

// zoneError marks an unknown time zone.
type zoneError struct{ err error }

func (e *zoneError) Error() string { return e.err.Error() }
func (e *zoneError) Unwrap() error { return e.err }

func isZoneError(err error) bool {
	var z *zoneError
	return errors.As(err, &z)
}

// ParseCron parses a cron expression: 5 fields or an @ descriptor,
// optionally preceded by "CRON_TZ=Zone " (or "TZ=Zone "). timezone, when
// not empty, is the IANA zone of the expression instead; with neither, the
// machine's local time zone applies.
//
// Daylight-saving transitions are handled as Vixie cron does: a start whose
// wall-clock time is skipped by a spring-forward transition happens at the
// transition instead of being lost, and a wall-clock time that occurs twice
// in a fall-back transition starts only once (the first time).
func ParseCron(expr, timezone string) (Timetable, error) {
	expr = strings.TrimSpace(expr)
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		rest, ok := strings.CutPrefix(expr, prefix)
		if !ok {
			continue
		}
		if timezone != "" {
			return nil, fmt.Errorf("time zone given twice: %s in the expression and timezone %q", prefix, timezone)
		}
		zone, spec, _ := strings.Cut(rest, " ")
		if strings.TrimSpace(spec) == "" {
			return nil, fmt.Errorf("invalid cron expression %q: nothing after %s%s (%s)", expr, prefix, zone, cronHelp)
		}
		timezone, expr = zone, strings.TrimSpace(spec)
		break
	}
	loc := time.Local
	if timezone != "" {
		l, err := time.LoadLocation(timezone)
		if err != nil {
			return nil, &zoneError{fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Berlin or UTC)", timezone)}
		}
		loc = l
	}
	if expr == "" {
		return nil, fmt.Errorf("empty cron expression (%s)", cronHelp)
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %v (%s)", expr, err, cronHelp)
	}
	switch s := s.(type) {
	case *cron.SpecSchedule:
		s.Location = loc
		if s.Next(time.Now()).IsZero() {
			return nil, fmt.Errorf("invalid cron expression %q: it matches no date (e.g. February 30th)", expr)
		}
		return wallClock{s}, nil
	case cron.ConstantDelaySchedule:
		return s, nil
	default:
		return nil, fmt.Errorf("invalid cron expression %q: unsupported schedule %T", expr, s)
	}
}

// wallClock wraps a robfig spec schedule with daylight-saving rules.
type wallClock struct{ spec *cron.SpecSchedule }

// Next returns the next start strictly after t.
func (w wallClock) Next(t time.Time) time.Time {
	for range 8 {
		n := w.spec.Next(t)
		if n.IsZero() {
			return n
		}
		if g := w.skippedStart(t, n); !g.IsZero() {
			return g
		}
		if !w.repeated(n) {
			return n
		}
		t = n
	}
	return time.Time{}
}

// skippedStart returns the instant of a spring-forward transition in
// (t, n) whose skipped wall-clock times include a start, or zero.
func (w wallClock) skippedStart(t, n time.Time) time.Time {
	loc := w.spec.Location
	for cur := t.In(loc); ; {
		_, end := cur.ZoneBounds()
		if end.IsZero() || !end.Before(n) {
			return time.Time{}
		}
		_, before := cur.Zone()
		_, after := end.In(loc).Zone()
		if after > before {
			// Wall times [end, end+gap) in the old offset never happened;
			// in a fixed zone of the old offset they are ordinary instants.
			gap := time.Duration(after-before) * time.Second
			fixed := *w.spec
			fixed.Location = time.FixedZone("", before)
			if m := fixed.Next(end.Add(-time.Second)); !m.IsZero() && m.Before(end.Add(gap)) {
				return end.In(t.Location())
			}
		}
		cur = end.In(loc)
	}
}

// repeated reports whether n's wall-clock time already occurred earlier
// (n falls in the second pass of a fall-back transition).
func (w wallClock) repeated(n time.Time) bool {
	nl := n.In(w.spec.Location)
	start, _ := nl.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, now := nl.Zone()
	_, prev := start.Add(-time.Second).In(w.spec.Location).Zone()
	if prev <= now {
		return false
	}
	overlap := time.Duration(prev-now) * time.Second
	return !nl.Before(start) && nl.Before(start.Add(overlap))
}
