package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// firingAlerts selects loadd's alerts that fire now (Prometheus' ALERTS).
const firingAlerts = `ALERTS{alertname=~"Loadd.*",alertstate="firing"}`

// overview shows every scenario at a glance: the load asked for and
// delivered, latency and errors against the SLA, and what alerts fire.
func overview() *dashboard.DashboardBuilder {
	return newBoard("loadd-overview", "loadd / Overview",
		"Every loadd scenario: target vs achieved load, latency and errors against their SLA objectives, and loadd's alerts.",
		scenarioVar(`{__name__=~"loadd_target_rate|loadd_ws_sessions_target",job=~"$job"}`)).
		WithRow(dashboard.NewRowBuilder("Alerts")).
		WithPanel(single("Firing loadd alerts", "How many loadd alerts fire now (pages, tickets and warnings; see alerts/RUNBOOK.md).",
			"none", panelSize{4, 6}, thresholds("green", 1.0, "red"),
			q(`count(`+firingAlerts+`) or vector(0)`, "firing"))).
		WithPanel(single("loadd instances up", "loadd instances Prometheus scraped successfully at the last scrape.",
			"none", panelSize{4, 6}, thresholds("red", 1.0, "green"),
			q(`count(up{`+byJob+`} == 1) or vector(0)`, "up"))).
		WithPanel(tableOf("Firing alerts", "Every loadd alert firing now, with its severity and the scenario/task or schedule it is about.",
			"none", panelSize{16, 6},
			q(`sum by (alertname, severity, scenario, task, schedule, instance) (`+firingAlerts+`)`, "{{alertname}}"))).
		WithPanel(states("Alert history", "When each loadd alert fired over the time range.", full, nil,
			q(`sum by (alertname, scenario, task, schedule) (`+firingAlerts+`)`, "{{alertname}} {{scenario}}{{schedule}} {{task}}"))).
		WithRow(dashboard.NewRowBuilder("Scenario $scenario").Repeat("scenario")).
		WithPanel(graph("Load: target vs achieved",
			"Arrivals per second the scenario is asked for (target, summed over shards) and what loadd started; requests recorded (dropped arrivals included) and arrivals dropped at max_in_flight. Started below target means the results cannot be trusted.",
			"reqps", panelSize{6, 8},
			q(`sum by (scenario) (loadd_target_rate{`+byScenario+`})`, "target"),
			q(`sum by (scenario) (rate(loadd_schedule_lag_seconds_count{`+byScenario+`}[$__rate_interval]))`, "started"),
			q(`sum by (scenario) (rate(loadd_requests_total{`+byScenario+`}[$__rate_interval]))`, "requests"),
			q(`sum by (scenario) (rate(loadd_iterations_dropped_total{`+byScenario+`}[$__rate_interval]))`, "dropped"))).
		WithPanel(graph("Latency vs SLA",
			"p50/p95/p99 of request latency over all tasks (measured from the intended start), p95 of WebSocket RTT and of final transcription latency, over 5m windows for the whole job; dashed red: the scenario's SLA objectives (request latency of task *, RTT, final latency).",
			"s", panelSize{6, 8},
			q(`job_scenario_task:loadd_request_duration_seconds:quantile_rate5m{`+recorded+`,task="*",quantile="0.5"}`, "p50"),
			q(`job_scenario_task:loadd_request_duration_seconds:quantile_rate5m{`+recorded+`,task="*",quantile="0.95"}`, "p95"),
			q(`job_scenario_task:loadd_request_duration_seconds:quantile_rate5m{`+recorded+`,task="*",quantile="0.99"}`, "p99"),
			q(`job_scenario:loadd_ws_message_rtt_seconds:quantile_rate5m{`+recorded+`,quantile="0.95"}`, "p95 WebSocket RTT"),
			q(`job_scenario_mode:loadd_transcription_final_latency_seconds:quantile_rate5m{`+recorded+`,quantile="0.95"}`, "p95 final transcript ({{mode}})"),
			objective(`max by (quantile) (loadd_sla_latency_objective_seconds{`+recorded+`,task="*"})`, "SLA objective q{{quantile}}"),
			objective(`max by (quantile) (loadd_sla_rtt_objective_seconds{`+recorded+`})`, "SLA objective RTT q{{quantile}}"),
			objective(`max by (quantile) (loadd_sla_final_latency_objective_seconds{`+recorded+`})`, "SLA objective final transcript q{{quantile}}"))).
		WithPanel(graph("Error ratio by reason vs SLA",
			"Failed requests / all requests, by failure reason (status, timeout, connect, tls, reset, assertion, dropped…); dashed red: the scenario's error-ratio objective (task *).",
			"percentunit", panelSize{6, 8},
			q(`sum by (reason) (rate(loadd_request_failures_total{`+byScenario+`}[$__rate_interval])) / on () group_left () sum(rate(loadd_requests_total{`+byScenario+`}[$__rate_interval]))`, "{{reason}}"),
			objective(`max(loadd_sla_error_ratio_objective{`+recorded+`,task="*"})`, "SLA objective"))).
		WithPanel(graph("Sessions and users",
			"WebSocket sessions open vs the target (summed over shards), and closed-model virtual users by class.",
			"short", panelSize{6, 8},
			q(`sum by (scenario) (loadd_ws_sessions{`+byScenario+`})`, "sessions open"),
			q(`sum by (scenario) (loadd_ws_sessions_target{`+byScenario+`})`, "sessions target"),
			q(`sum by (class) (loadd_virtual_users{`+byScenario+`})`, "users {{class}}")))
}
