package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// transcription shows batch and streaming transcription load.
func transcription() *dashboard.DashboardBuilder {
	return newBoard("loadd-transcription", "loadd / Transcription",
		"Transcription scenarios (batch uploads and real-time streams): throughput, final and first-result latency against their SLA objectives, real-time factor, frame pacing, failures.",
		scenarioVar(`loadd_transcription_audio_seconds_total{job=~"$job"}`)).
		WithRow(dashboard.NewRowBuilder("Throughput")).
		WithPanel(graph("Jobs finished", "Transcription jobs finished per second (final transcript received), by scenario and mode.",
			"ops", half,
			q(`sum by (scenario, mode) (rate(loadd_transcription_final_latency_seconds_count{`+byScenario+`}[$__rate_interval]))`, "{{scenario}} {{mode}}"))).
		WithPanel(graph("Audio sent", "Seconds of audio sent per second: for real-time streams, the number of streams running.",
			"none", half,
			q(`sum by (scenario, mode) (rate(loadd_transcription_audio_seconds_total{`+byScenario+`}[$__rate_interval]))`, "{{scenario}} {{mode}}"))).
		WithRow(dashboard.NewRowBuilder("Latency")).
		WithPanel(graph("Final latency vs SLA",
			"End of audio (or upload complete) to the final transcript: 50/95/99% quantiles over 5m for the whole job; dashed red: the scenario's latency objectives.",
			"s", half,
			q(`job_scenario_mode:loadd_transcription_final_latency_seconds:quantile_rate5m{`+recorded+`,quantile=~"0.5|0.95|0.99"}`, "{{scenario}} {{mode}} q{{quantile}}"),
			objective(`max by (scenario, quantile) (loadd_sla_final_latency_objective_seconds{`+recorded+`})`, "SLA {{scenario}} q{{quantile}}"))).
		WithPanel(graph("Time to first result", "First audio byte sent to the first (partial) result: 50% and 95% quantiles.",
			"s", half,
			q(`histogram_quantile(0.5, sum by (scenario, mode, le) (rate(loadd_transcription_first_result_seconds_bucket{`+byScenario+`}[$__rate_interval])))`, "{{scenario}} {{mode}} p50"),
			q(`histogram_quantile(0.95, sum by (scenario, mode, le) (rate(loadd_transcription_first_result_seconds_bucket{`+byScenario+`}[$__rate_interval])))`, "{{scenario}} {{mode}} p95"))).
		WithPanel(withLimit(graph("Real-time factor", "Processing time / audio duration, 50% and 95% quantiles over 5m; above the dashed line at 1 the service is slower than real time.",
			"none", half,
			q(`job_scenario_mode:loadd_transcription_realtime_factor:quantile_rate5m{`+recorded+`}`, "{{scenario}} {{mode}} q{{quantile}}")), 1)).
		WithPanel(withLimit(graph("Frame lag (loadd)", "How late audio frames left loadd relative to their real-time slot (99% quantile). High values are loadd's fault, not the service's: such runs are invalid.",
			"s", half,
			q(`histogram_quantile(0.99, sum by (scenario, le) (rate(loadd_transcription_frame_lag_seconds_bucket{`+byScenario+`}[$__rate_interval])))`, "{{scenario}} p99")), 0.01)).
		WithRow(dashboard.NewRowBuilder("Failures")).
		WithPanel(graph("Failures by reason", "Failed transcription jobs per second by reason (status, timeout, connect, protocol, assertion…).",
			"ops", full,
			q(`sum by (scenario, mode, reason) (rate(loadd_transcription_failures_total{`+byScenario+`}[$__rate_interval]))`, "{{scenario}} {{mode}} {{reason}}")))
}
