package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// websocket shows WebSocket session populations and message round trips.
func websocket() *dashboard.DashboardBuilder {
	return newBoard("loadd-websocket", "loadd / WebSocket",
		"WebSocket scenarios: sessions held vs target, message round trips against their SLA objectives, connects, disconnects and messages.",
		scenarioVar(`loadd_ws_sessions_target{job=~"$job"}`)).
		WithRow(dashboard.NewRowBuilder("Sessions")).
		WithPanel(graph("Sessions vs target", "Sessions open now and the population the scenario should hold, summed over shards (dashed red: target).",
			"short", half,
			q(`sum by (scenario) (loadd_ws_sessions{`+byScenario+`})`, "{{scenario}} open"),
			objective(`sum by (scenario) (loadd_ws_sessions_target{`+byScenario+`})`, "{{scenario}} target"))).
		WithPanel(graph("Connect time", "Time to open a session (TCP, TLS and upgrade): 50% and 99% quantiles over the rate interval.",
			"s", half,
			q(`histogram_quantile(0.5, sum by (scenario, le) (rate(loadd_ws_connect_duration_seconds_bucket{`+byScenario+`}[$__rate_interval])))`, "{{scenario}} p50"),
			q(`histogram_quantile(0.99, sum by (scenario, le) (rate(loadd_ws_connect_duration_seconds_bucket{`+byScenario+`}[$__rate_interval])))`, "{{scenario}} p99"))).
		WithPanel(graph("Connect failures by reason", "Failed connection attempts per second (refused, timeout, handshake, tls, address_unavailable…).",
			"ops", half,
			q(`sum by (scenario, reason) (rate(loadd_ws_connect_failures_total{`+byScenario+`}[$__rate_interval]))`, "{{scenario}} {{reason}}"))).
		WithPanel(graph("Disconnects by reason", "Sessions ending per second (server_close, read_error, pong_timeout, lifetime, shutdown…); loadd reopens them with backoff.",
			"ops", half,
			q(`sum by (scenario, reason) (rate(loadd_ws_disconnects_total{`+byScenario+`}[$__rate_interval]))`, "{{scenario}} {{reason}}"))).
		WithRow(dashboard.NewRowBuilder("Messages")).
		WithPanel(graph("Message RTT vs SLA",
			"Round trip of a message and its matched reply (or ping/pong): 50/95/99% quantiles over 5m for the whole job; dashed red: the scenario's latency objectives.",
			"s", half,
			q(`job_scenario:loadd_ws_message_rtt_seconds:quantile_rate5m{`+recorded+`,quantile=~"0.5|0.95|0.99"}`, "{{scenario}} q{{quantile}}"),
			objective(`max by (scenario, quantile) (loadd_sla_rtt_objective_seconds{`+recorded+`})`, "SLA {{scenario}} q{{quantile}}"))).
		WithPanel(graph("Messages by direction", "WebSocket messages per second sent and received.",
			"ops", half,
			q(`sum by (scenario, direction) (rate(loadd_ws_messages_total{`+byScenario+`}[$__rate_interval]))`, "{{scenario}} {{direction}}")))
}
