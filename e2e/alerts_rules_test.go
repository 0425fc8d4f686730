package e2e

// The shipped rule files of alerts/, read with Prometheus' own rule and
// PromQL parsers, and rewritten for the clock of a test.
//
// compressRules divides every time span of every rule by a factor (60 in
// these tests: a minute of the shipped rules lasts a second): range
// selectors ([5m] → [5s]), subquery ranges and steps, offsets, `for:` and
// `keep_firing_for:`, and the one span written as a number — a constant
// compared with an age `time() - t` (LoaddSoakMissed's 26 * 3600 becomes
// (26 * 3600) / 60). It works on the syntax tree, not on the text, so a
// "5m" inside a label value or an annotation is never touched, and it fails
// on anything it cannot scale exactly (a duration expression, a span that
// is not a whole multiple of the factor, a time() it does not understand).
// Everything else — metric names, matchers, operators, thresholds, group
// and rule order, labels, annotations — is copied as parsed, so the
// compressed rules differ from the shipped ones only in their clock.
// Recorded series keep their names: ratio_rate1h then covers one minute.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/internal/tooltest"
)

// timeScale is how many times faster the compressed rules run.
const timeScale = 60

// shippedRules parses every alerts/loadd-*.rules.yml, by path.
func shippedRules(t testing.TB) map[string]*rulefmt.RuleGroups {
	t.Helper()
	files, err := filepath.Glob("../alerts/loadd-*.rules.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in ../alerts (%v)", err)
	}
	out := make(map[string]*rulefmt.RuleGroups, len(files))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, f := range files {
		rgs, errs := rulefmt.ParseFile(f, false, model.UTF8Validation, promqlParser(), logger)
		if len(errs) > 0 {
			t.Fatalf("parse %s: %v", f, errors.Join(errs...))
		}
		out[f] = rgs
	}
	return out
}

func promqlParser() parser.Parser { return parser.NewParser(parser.Options{}) }

// compressRules writes the shipped rule files, every time span divided by
// factor, into a temp dir and returns their paths and how many rules they
// hold.
func compressRules(t testing.TB, factor int) (files []string, rules int) {
	t.Helper()
	dir := t.TempDir()
	for path, rgs := range shippedRules(t) {
		for gi := range rgs.Groups {
			g := &rgs.Groups[gi]
			for ri := range g.Rules {
				if err := compressRule(&g.Rules[ri], factor); err != nil {
					t.Fatalf("%s: group %s: rule %d: %v", path, g.Name, ri, err)
				}
				rules++
			}
			if g.Interval != 0 {
				t.Fatalf("%s: group %s sets interval; scale it too before relying on it", path, g.Name)
			}
		}
		b, err := yaml.Marshal(rgs)
		if err != nil {
			t.Fatalf("marshal %s: %v", path, err)
		}
		out := filepath.Join(dir, filepath.Base(path))
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, out)
	}
	return files, rules
}

// compressRule scales the spans of one rule in place.
func compressRule(r *rulefmt.Rule, factor int) error {
	expr, err := compressExpr(r.Expr, factor)
	if err != nil {
		return fmt.Errorf("%s%s: %w", r.Alert, r.Record, err)
	}
	r.Expr = expr
	for _, d := range []*model.Duration{&r.For, &r.KeepFiringFor} {
		s, err := scaleSpan(time.Duration(*d), factor)
		if err != nil {
			return fmt.Errorf("%s: for: %w", r.Alert, err)
		}
		*d = model.Duration(s)
	}
	return nil
}

// compressExpr parses expr and returns it with every time span divided by
// factor (see the file comment).
func compressExpr(expr string, factor int) (string, error) {
	root, err := promqlParser().ParseExpr(expr)
	if err != nil {
		return "", err
	}
	var errs []error
	scale := func(d *time.Duration) {
		s, err := scaleSpan(*d, factor)
		errs = append(errs, err)
		*d = s
	}
	times, ages := 0, 0
	parser.Inspect(root, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			if n.RangeExpr != nil {
				errs = append(errs, fmt.Errorf("duration expression %s: cannot scale", n.RangeExpr))
			}
			scale(&n.Range)
		case *parser.SubqueryExpr:
			if n.RangeExpr != nil || n.StepExpr != nil || n.OriginalOffsetExpr != nil {
				errs = append(errs, fmt.Errorf("duration expression in subquery %s: cannot scale", n))
			}
			scale(&n.Range)
			scale(&n.Step)
			scale(&n.OriginalOffset)
		case *parser.VectorSelector:
			if n.OriginalOffsetExpr != nil {
				errs = append(errs, fmt.Errorf("offset expression %s: cannot scale", n.OriginalOffsetExpr))
			}
			scale(&n.OriginalOffset)
		case *parser.Call:
			if n.Func.Name == "time" {
				times++
			}
		case *parser.BinaryExpr:
			if isAge(n.LHS) && n.Op.IsComparisonOperator() && isConstant(n.RHS) {
				n.RHS = &parser.BinaryExpr{Op: parser.DIV, LHS: &parser.ParenExpr{Expr: n.RHS}, RHS: &parser.NumberLiteral{Val: float64(factor)}}
				ages++
			}
		}
		return nil
	})
	if times != ages {
		errs = append(errs, fmt.Errorf("%d time() calls but %d ages compared with a constant: cannot tell which numbers are durations", times, ages))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return root.String(), nil
}

// scaleSpan divides d by factor; it must divide exactly into whole
// milliseconds (Prometheus' resolution) and leave at least a second.
func scaleSpan(d time.Duration, factor int) (time.Duration, error) {
	if d == 0 {
		return 0, nil
	}
	s := d / time.Duration(factor)
	if s*time.Duration(factor) != d || s%time.Millisecond != 0 || s < time.Second {
		return d, fmt.Errorf("%s does not divide by %d into whole milliseconds of at least 1s", model.Duration(d), factor)
	}
	return s, nil
}

// isAge reports whether e is `time() - x` (possibly in parentheses).
func isAge(e parser.Expr) bool {
	if p, ok := e.(*parser.ParenExpr); ok {
		return isAge(p.Expr)
	}
	b, ok := e.(*parser.BinaryExpr)
	if !ok || b.Op != parser.SUB {
		return false
	}
	c, ok := b.LHS.(*parser.Call)
	return ok && c.Func.Name == "time"
}

// isConstant reports whether e is arithmetic on number literals only.
func isConstant(e parser.Expr) bool {
	switch e := e.(type) {
	case *parser.NumberLiteral:
		return true
	case *parser.ParenExpr:
		return isConstant(e.Expr)
	case *parser.BinaryExpr:
		return isConstant(e.LHS) && isConstant(e.RHS)
	}
	return false
}

// conditionExpr returns an alert's expression with every comparison turned
// into a `bool` comparison: instead of only the series that breach, it
// returns a 0/1 series for every series the alert watches. Data from it
// shows the selectors match real series and the vector matching joins
// them, whether or not the alert fires.
func conditionExpr(expr string) (string, error) {
	root, err := promqlParser().ParseExpr(expr)
	if err != nil {
		return "", err
	}
	parser.Inspect(root, func(n parser.Node, _ []parser.Node) error {
		if b, ok := n.(*parser.BinaryExpr); ok && b.Op.IsComparisonOperator() {
			b.ReturnBool = true
		}
		return nil
	})
	return root.String(), nil
}

// TestAlertRulesCompress checks the rewrite itself: spans scaled, numbers
// that are not spans kept, and the errors for what it cannot scale.
func TestAlertRulesCompress(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: `rate(x[5m])`, want: `rate(x[5s])`},
		{in: `sum by (job) (rate(x{a="5m"}[1h])) > 0.95 * y`, want: `sum by (job) (rate(x{a="5m"}[1m])) > 0.95 * y`},
		{in: `max_over_time(x[26h]) and x offset 26h`, want: `max_over_time(x[26m]) and x offset 26m`},
		{in: `max_over_time(rate(x[1m])[1h:5m])`, want: `max_over_time(rate(x[1s])[1m:5s])`},
		{in: `time() - max(x) > 26 * 3600`, want: `time() - max(x) > (26 * 3600) / 60`},
		{in: `x > time()`, err: "cannot tell which numbers are durations"},
		{in: `rate(x[30s])`, err: "does not divide"},
		{in: `rate(x[`, err: "unexpected"},
	}
	for _, tt := range tests {
		got, err := compressExpr(tt.in, timeScale)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("compressExpr(%q) error = %v, want one containing %q", tt.in, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("compressExpr(%q): %v", tt.in, err)
		case tt.err == "" && got != tt.want:
			t.Errorf("compressExpr(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	files, n := compressRules(t, timeScale)
	if len(files) != 4 || n < 40 {
		t.Errorf("compressed %d files with %d rules, want the 4 shipped files and all their rules", len(files), n)
	}
	// The Prometheus these tests start must accept what the newer parser printed.
	promtool := tooltest.Path(t, "promtool")
	if out, err := exec.Command(promtool, append([]string{"check", "rules"}, files...)...).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the compressed rules: %v\n%s", err, out)
	}
}
