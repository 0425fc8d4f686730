package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// bySchedule selects the schedules of the schedule variable.
const bySchedule = byInstance + `,schedule=~"$schedule"`

// finishedRun keeps schedules that have finished at least one run (the
// last-success gauge reads 0 before the first one).
const finishedRun = ` and on (schedule) (sum by (schedule) (loadd_runs_total{` + bySchedule + `,result!="skipped"}) > 0)`

// runs shows scheduled runs (nightly soaks) and their SLA verdicts.
func runs() *dashboard.DashboardBuilder {
	return newBoard("loadd-runs", "loadd / Runs & soaks",
		"Scheduled runs such as the nightly soak: whether they ran, whether they passed their SLAs, and their history. Each run's report (JSON, HTML, JUnit) is linked from loadd's /api/v1/status.",
		queryVar("schedule", "Schedule", `label_values(loadd_runs_total{job=~"$job"}, schedule)`, "Schedules of loadd's config."),
		scenarioVar(`{__name__=~"loadd_target_rate|loadd_ws_sessions_target",job=~"$job"}`)).
		WithRow(dashboard.NewRowBuilder("Now")).
		WithPanel(single("Last run", "Verdict of each schedule's last finished run: passed (every SLA met) or not passed (an SLA breached, or the run invalid or interrupted).",
			"none", third, nil,
			q(`min by (schedule) (loadd_run_last_success{`+bySchedule+`})`+finishedRun, "{{schedule}}")).
			Mappings(passFail("passed", "not passed"))).
		WithPanel(single("Since last start", "Time since each schedule last started a run; red after 26h (a nightly soak that did not run).",
			"s", third, thresholds("green", 93600.0, "red"),
			q(`time() - max by (schedule) (loadd_run_last_start_timestamp_seconds{`+bySchedule+`})`, "{{schedule}}"))).
		WithPanel(tableOf("Runs in range", "Runs finished within the dashboard's time range, by schedule and result (passed, failed, invalid, interrupted, skipped).",
			"none", third,
			q(`sum by (schedule, result) (increase(loadd_runs_total{`+bySchedule+`}[$__range]))`, "{{schedule}} {{result}}"))).
		WithRow(dashboard.NewRowBuilder("History")).
		WithPanel(states("Runs active", "When each schedule's runs were in progress.", full,
			passFail("running", "idle"),
			q(`max by (schedule) (loadd_run_active{`+bySchedule+`})`, "{{schedule}}"))).
		WithPanel(states("Verdicts", "The verdict of each schedule's last finished run over time: a change marks a run that ended.", full,
			passFail("passed", "not passed"),
			q(`min by (schedule) (loadd_run_last_success{`+bySchedule+`})`+finishedRun, "{{schedule}}"))).
		WithPanel(graph("Latency during runs",
			"p95 latency over all tasks of the selected scenarios (5m windows, whole job), to compare runs (see Runs active) with each other and with the baseline; dashed red: the p95 objectives.",
			"s", half,
			q(`job_scenario_task:loadd_request_duration_seconds:quantile_rate5m{`+recorded+`,task="*",quantile="0.95"}`, "{{scenario}} p95"),
			objective(`max by (scenario) (loadd_sla_latency_objective_seconds{`+recorded+`,task="*",quantile="0.95"})`, "SLA {{scenario}} p95"))).
		WithPanel(graph("Runs finished by result", "Runs finished per hour, by schedule and result.",
			"none", half,
			q(`sum by (schedule, result) (increase(loadd_runs_total{`+bySchedule+`}[1h]))`, "{{schedule}} {{result}}")))
}
