package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// byTask adds the task variable to the scenario matchers.
const (
	byTask       = byScenario + `,task=~"$task"`
	recordedTask = recorded + `,task=~"$task"`
)

// httpTasks drills into the tasks of HTTP scenarios.
func httpTasks() *dashboard.DashboardBuilder {
	return newBoard("loadd-http", "loadd / HTTP tasks",
		"Per task of HTTP scenarios: throughput, status codes, latency quantiles against their SLA objectives, latency distribution with exemplars, failures.",
		scenarioVar(`loadd_requests_total{job=~"$job"}`),
		queryVar("task", "Task", `label_values(loadd_requests_total{job=~"$job",scenario=~"$scenario"}, task)`,
			`Tasks of the selected scenarios. Task "*" in SLA panels is the scenario as a whole.`)).
		WithRow(dashboard.NewRowBuilder("Throughput")).
		WithPanel(graph("Requests by task", "Requests per second by scenario and task: successful, failed and dropped (dropped arrivals count as requests and as failures).",
			"reqps", half,
			q(`sum by (scenario, task) (rate(loadd_requests_total{`+byTask+`}[$__rate_interval]))`, "{{scenario}}/{{task}}"))).
		WithPanel(graph("Responses by status code", "Responses received per second by HTTP status code; requests without a response (timeouts, resets) have none.",
			"reqps", half,
			q(`sum by (code) (rate(loadd_responses_total{`+byTask+`}[$__rate_interval]))`, "{{code}}"))).
		WithRow(dashboard.NewRowBuilder("Latency")).
		WithPanel(graph("p95 latency by task vs SLA",
			"95% quantile of request latency per task over 5m for the whole job (task * = all tasks of the scenario); dashed red: the p95 objectives.",
			"s", half,
			q(`job_scenario_task:loadd_request_duration_seconds:quantile_rate5m{`+recordedTask+`,quantile="0.95"}`, "{{scenario}}/{{task}}"),
			objective(`max by (scenario, task) (loadd_sla_latency_objective_seconds{`+recordedTask+`,quantile="0.95"})`, "SLA {{scenario}}/{{task}}"))).
		WithPanel(graph("p99 latency by task vs SLA",
			"99% quantile of request latency per task over 5m for the whole job (task * = all tasks of the scenario); dashed red: the p99 objectives.",
			"s", half,
			q(`job_scenario_task:loadd_request_duration_seconds:quantile_rate5m{`+recordedTask+`,quantile="0.99"}`, "{{scenario}}/{{task}}"),
			objective(`max by (scenario, task) (loadd_sla_latency_objective_seconds{`+recordedTask+`,quantile="0.99"})`, "SLA {{scenario}}/{{task}}"))).
		WithPanel(heat("Latency distribution",
			"Requests per latency bucket over time for the selected tasks and instances. Exemplars (dots) carry the trace ID loadd sent: click a slow one to open its trace.",
			"s", full,
			`sum by (le) (rate(loadd_request_duration_seconds_bucket{`+byTask+`}[$__rate_interval]))`)).
		WithPanel(graph("Median latency by task", "50% quantile of request latency per task over 5m for the whole job.",
			"s", half,
			q(`job_scenario_task:loadd_request_duration_seconds:quantile_rate5m{`+recordedTask+`,quantile="0.5"}`, "{{scenario}}/{{task}}"))).
		WithPanel(graph("In flight", "Iterations running now, per scenario and instance (bounded by max_in_flight).",
			"short", half,
			q(`sum by (scenario, instance) (loadd_in_flight{`+byScenario+`})`, "{{scenario}} {{instance}}"))).
		WithRow(dashboard.NewRowBuilder("Errors")).
		WithPanel(graph("Error ratio by task vs SLA",
			"Failed / all requests per task over 5m for the whole job (task * = the scenario); dashed red: the error-ratio objectives.",
			"percentunit", half,
			q(`job_scenario_task:loadd_request_failures:ratio_rate5m{`+recordedTask+`}`, "{{scenario}}/{{task}}"),
			objective(`job_scenario_task:loadd_sla_error_ratio_objective:max{`+recordedTask+`}`, "SLA {{scenario}}/{{task}}"))).
		WithPanel(graph("Failures by task and reason", "Failed requests per second by task and reason (status, timeout, connect, tls, reset, assertion, dropped, auth…).",
			"reqps", half,
			q(`sum by (scenario, task, reason) (rate(loadd_request_failures_total{`+byTask+`}[$__rate_interval]))`, "{{scenario}}/{{task}} {{reason}}"))).
		WithPanel(graph("Virtual users by class", "Closed-model virtual users running, by scenario and user class (open-model scenarios have none).",
			"short", full,
			q(`sum by (scenario, class) (loadd_virtual_users{`+byScenario+`})`, "{{scenario}} {{class}}")))
}
