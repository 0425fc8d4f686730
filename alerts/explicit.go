package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Signal names the latency histogram a latency objective applies to.
type Signal string

// The signals a latency objective can apply to.
const (
	// SignalRequest is loadd_request_duration_seconds of a scenario's task
	// (or of all its tasks): HTTP requests, and any kind that records its
	// work as tasks. The zero Signal means SignalRequest.
	SignalRequest Signal = "request"
	// SignalWebSocketRTT is loadd_ws_message_rtt_seconds of a WebSocket
	// scenario (it has no tasks: Task is ignored).
	SignalWebSocketRTT Signal = "websocket_rtt"
	// SignalTranscriptionFinal is loadd_transcription_final_latency_seconds
	// of a transcription scenario, per mode (Task is ignored).
	SignalTranscriptionFinal Signal = "transcription_final"
)

// AllTasks is the task of an objective that covers every task of a scenario.
const AllTasks = "*"

// DefaultFor is how long a latency objective must be breached before its
// alert fires, when Objective.For is zero.
const DefaultFor = 5 * time.Minute

// latencyWindow is the rate window latency quantiles are computed over.
const latencyWindow = "5m"

// runbook is where every rule's runbook_url points, plus an anchor.
const runbook = "https://github.com/loadd/loadd/blob/main/alerts/RUNBOOK.md#"

// Objective is one SLA of a config, as Explicit turns it into rules: a
// latency objective (Latency > 0, at Quantile) and/or an error-ratio
// objective (ErrorRatio > 0). An SLA with several quantiles is several
// Objectives.
type Objective struct {
	// Scenario is the scenario's config name.
	Scenario string
	// Task is a task name, or AllTasks ("*" or empty) for every task of the
	// scenario together. Only SignalRequest and error ratios use it.
	Task string
	// Signal is the histogram Latency applies to; empty means SignalRequest.
	Signal Signal
	// Quantile is the latency quantile, in (0, 1), e.g. 0.95 for p95.
	Quantile float64
	// Latency is the objective for Quantile; 0 means no latency rule.
	Latency time.Duration
	// ErrorRatio is the allowed fraction of failed requests, in (0, 1);
	// 0 means no error-ratio rules. It yields the four multi-window,
	// multi-burn-rate alerts of the shipped rules (two pages, two tickets).
	ErrorRatio float64
	// For is how long the latency objective must be breached before the
	// alert fires; 0 means DefaultFor. Burn-rate alerts have fixed ones.
	For time.Duration
}

// burnWindow is one pair of windows of the multi-window, multi-burn-rate
// alerts (Google SRE workbook, "Alerting on SLOs"), for a 30-day budget.
type burnWindow struct {
	alert, severity string
	long, short     string
	factor          float64
	forDur          string
	// exhaustion says how soon the budget is gone at this burn rate.
	exhaustion string
}

// burnWindows are the same in the shipped rules (loadd-sla.rules.yml).
var burnWindows = []burnWindow{
	{"LoaddErrorBudgetFastBurn", "page", "1h", "5m", 14.4, "2m", "a 30-day error budget is gone in about 2 days"},
	{"LoaddErrorBudgetFastBurn", "page", "6h", "30m", 6, "15m", "a 30-day error budget is gone in 5 days"},
	{"LoaddErrorBudgetSlowBurn", "ticket", "1d", "2h", 3, "1h", "a 30-day error budget is gone in 10 days"},
	{"LoaddErrorBudgetSlowBurn", "ticket", "3d", "6h", 1, "3h", "a 30-day error budget is used up within the 30 days"},
}

// Rule-file shapes, in Prometheus' rule file format.
type (
	ruleFile struct {
		Groups []ruleGroup `yaml:"groups"`
	}
	ruleGroup struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	}
	rule struct {
		Alert       string            `yaml:"alert"`
		Expr        string            `yaml:"expr"`
		For         string            `yaml:"for,omitempty"`
		Labels      map[string]string `yaml:"labels,omitempty"`
		Annotations map[string]string `yaml:"annotations,omitempty"`
	}
)

// identity is what Prometheus tells alerts apart by: name and labels.
func (r rule) identity() string {
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	id := r.Alert
	for _, k := range keys {
		id += "\x00" + k + "=" + r.Labels[k]
	}
	return id
}

// ExplicitGroup is the name of the rule group Explicit writes.
const ExplicitGroup = "loadd-sla-explicit.alerts"

// Explicit renders a Prometheus rule file with one alert per latency
// objective and the burn-rate alerts of every error-ratio objective, each
// with its threshold written out. The alerts have the names, labels and
// runbook links of the shipped rules but need no recording rules and no
// objective series. It returns every invalid objective in one error.
func Explicit(objs []Objective) ([]byte, error) {
	var errs []error
	g := ruleGroup{Name: ExplicitGroup, Rules: []rule{}}
	seen := map[string]int{} // alert identity → index of its objective
	for i, o := range objs {
		o, err := o.normalise()
		if err != nil {
			errs = append(errs, fmt.Errorf("objective %d (scenario %q): %w", i, o.Scenario, err))
			continue
		}
		var rules []rule
		if o.Latency > 0 {
			rules = append(rules, o.latencyRule())
		}
		if o.ErrorRatio > 0 {
			for _, w := range burnWindows {
				rules = append(rules, o.burnRule(w))
			}
		}
		for _, r := range rules {
			id := r.identity()
			if j, dup := seen[id]; dup {
				errs = append(errs, fmt.Errorf("objective %d (scenario %q): the same %s as objective %d", i, o.Scenario, r.Alert, j))
				break
			}
			seen[id] = i
		}
		g.Rules = append(g.Rules, rules...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var b bytes.Buffer
	b.WriteString("# Generated by `loadd rules`: one alert per SLA of the config, thresholds written out.\n")
	b.WriteString("# Runbook: alerts/RUNBOOK.md. Load with rule_files in prometheus.yml.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(ruleFile{Groups: []ruleGroup{g}}); err != nil {
		return nil, fmt.Errorf("encode rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode rules: %w", err)
	}
	return b.Bytes(), nil
}

// normalise applies defaults and validates o.
func (o Objective) normalise() (Objective, error) {
	if o.Task == "" {
		o.Task = AllTasks
	}
	if o.Signal == "" {
		o.Signal = SignalRequest
	}
	if o.For == 0 {
		o.For = DefaultFor
	}
	var errs []error
	if strings.TrimSpace(o.Scenario) == "" {
		errs = append(errs, errors.New("scenario is empty"))
	}
	switch o.Signal {
	case SignalRequest, SignalWebSocketRTT, SignalTranscriptionFinal:
	default:
		errs = append(errs, fmt.Errorf("unknown signal %q (want %q, %q or %q)", o.Signal, SignalRequest, SignalWebSocketRTT, SignalTranscriptionFinal))
	}
	if o.Latency == 0 && o.ErrorRatio == 0 {
		errs = append(errs, errors.New("neither a latency nor an error-ratio objective"))
	}
	if o.Latency < 0 {
		errs = append(errs, fmt.Errorf("latency %s is negative", o.Latency))
	}
	if o.Latency > 0 && !(o.Quantile > 0 && o.Quantile < 1) {
		errs = append(errs, fmt.Errorf("quantile %v is not between 0 and 1", o.Quantile))
	}
	if o.ErrorRatio != 0 && !(o.ErrorRatio > 0 && o.ErrorRatio < 1) {
		errs = append(errs, fmt.Errorf("error ratio %v is not between 0 and 1", o.ErrorRatio))
	}
	if o.ErrorRatio > 0 && o.Signal == SignalWebSocketRTT {
		errs = append(errs, errors.New("an error ratio of a WebSocket scenario is not supported (it records no requests)"))
	}
	if o.For < 0 {
		errs = append(errs, fmt.Errorf("for %s is negative", o.For))
	}
	return o, errors.Join(errs...)
}

// selector renders the label matchers of o's scenario (and task).
func (o Objective) selector(withTask bool) string {
	s := "scenario=" + strconv.Quote(o.Scenario)
	if withTask && o.Task != AllTasks {
		s += ",task=" + strconv.Quote(o.Task)
	}
	return "{" + s + "}"
}

// withAllTasks wraps an expression aggregated without the task label so
// that its series carry task="*", like the objective series do.
func (o Objective) withAllTasks(expr string) string {
	if o.Task != AllTasks {
		return expr
	}
	return fmt.Sprintf(`label_replace(%s, "task", "*", "", "")`, expr)
}

// latencyRule is the alert of o's latency objective.
func (o Objective) latencyRule() rule {
	q := formatFloat(o.Quantile)
	pct := formatFloat(o.Quantile * 100)
	var metric, by, alert, summary, what, who string
	switch o.Signal {
	case SignalWebSocketRTT:
		metric, by, alert = "loadd_ws_message_rtt_seconds_bucket", "job, scenario, le", "LoaddWebSocketRTTSLABreached"
		summary = "WebSocket RTT SLA breached: {{ $labels.scenario }}"
		what, who = "WebSocket message round trips", "scenario {{ $labels.scenario }}"
	case SignalTranscriptionFinal:
		metric, by, alert = "loadd_transcription_final_latency_seconds_bucket", "job, scenario, mode, le", "LoaddTranscriptionLatencySLABreached"
		summary = "Transcription latency SLA breached: {{ $labels.scenario }} ({{ $labels.mode }})"
		what, who = "final-transcript latency", "scenario {{ $labels.scenario }}, mode {{ $labels.mode }}"
	default:
		metric, by, alert = "loadd_request_duration_seconds_bucket", "job, scenario, task, le", "LoaddLatencySLABreached"
		summary = "Latency SLA breached: {{ $labels.scenario }}/{{ $labels.task }}"
		what, who = "request latency", "scenario {{ $labels.scenario }}, task {{ $labels.task }}"
		if o.Task == AllTasks {
			by = "job, scenario, le"
		}
	}
	quantile := fmt.Sprintf("histogram_quantile(%s, sum by (%s) (rate(%s%s[%s])))",
		q, by, metric, o.selector(o.Signal == SignalRequest), latencyWindow)
	if o.Signal == SignalRequest {
		quantile = o.withAllTasks(quantile)
	}
	labels := map[string]string{"severity": "page", "quantile": q, "scenario": o.Scenario}
	if o.Signal == SignalRequest {
		labels["task"] = o.Task
	}
	return rule{
		Alert:  alert,
		Expr:   fmt.Sprintf("%s > %s", quantile, formatFloat(o.Latency.Seconds())),
		For:    model.Duration(o.For).String(),
		Labels: labels,
		Annotations: map[string]string{
			"summary": fmt.Sprintf("%s p%s", summary, pct),
			"description": fmt.Sprintf("The %s%% quantile of %s of %s (job {{ $labels.job }}) is {{ $value | humanizeDuration }} over the last %s, above its objective of %s.",
				pct, what, who, latencyWindow, o.Latency),
			"runbook_url": runbook + strings.ToLower(alert),
		},
	}
}

// burnRule is the alert of o's error-ratio objective over window pair w.
func (o Objective) burnRule(w burnWindow) rule {
	by := "job, scenario, task"
	if o.Task == AllTasks {
		by = "job, scenario"
	}
	ratio := func(window string) string {
		return o.withAllTasks(fmt.Sprintf("sum by (%s) (rate(loadd_request_failures_total%s[%s])) / sum by (%s) (rate(loadd_requests_total%s[%s]))",
			by, o.selector(true), window, by, o.selector(true), window))
	}
	threshold := formatFloat(w.factor * o.ErrorRatio)
	return rule{
		Alert: w.alert,
		Expr:  fmt.Sprintf("%s > %s\nand\n%s > %s", ratio(w.long), threshold, ratio(w.short), threshold),
		For:   w.forDur,
		Labels: map[string]string{
			"severity": w.severity, "long_window": w.long, "short_window": w.short,
			"scenario": o.Scenario, "task": o.Task,
		},
		Annotations: map[string]string{
			"summary": fmt.Sprintf("Error budget burning %sx too fast: {{ $labels.scenario }}/{{ $labels.task }}", formatFloat(w.factor)),
			"description": fmt.Sprintf("Scenario {{ $labels.scenario }}, task {{ $labels.task }} (job {{ $labels.job }}) failed {{ $value | humanizePercentage }} of requests over the last %s (and over %s more than %s, %s times its error-ratio objective of %s%%): at this rate %s.",
				w.long, w.short, threshold, formatFloat(w.factor), formatFloat(o.ErrorRatio*100), w.exhaustion),
			"runbook_url": runbook + strings.ToLower(w.alert),
		},
	}
}

// formatFloat writes f with at most 12 significant digits, so that
// 14.4 * 0.01 reads 0.144 rather than 0.14400000000000002.
func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', 12, 64)
}
