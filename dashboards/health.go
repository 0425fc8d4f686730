package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// health shows loadd's own health: whether it can deliver the load.
func health() *dashboard.DashboardBuilder {
	return newBoard("loadd-health", "loadd / Self-health",
		"loadd itself: CPU, memory, goroutines, file descriptors, schedule lag and dropped arrivals, config reloads and builds. If loadd struggles, its SLA figures cannot be trusted.",
		scenarioVar(`{__name__=~"loadd_target_rate|loadd_ws_sessions_target",job=~"$job"}`)).
		WithRow(dashboard.NewRowBuilder("Process")).
		WithPanel(graph("CPU", "CPU used by each loadd process (1.0 = one full core).",
			"percentunit", half,
			q(`rate(process_cpu_seconds_total{`+byInstance+`}[$__rate_interval])`, "{{instance}}"))).
		WithPanel(graph("Memory", "Resident memory and Go heap in use of each loadd process.",
			"bytes", half,
			q(`process_resident_memory_bytes{`+byInstance+`}`, "{{instance}} resident"),
			q(`go_memstats_heap_inuse_bytes{`+byInstance+`}`, "{{instance}} heap in use"))).
		WithPanel(graph("Goroutines", "Goroutines of each loadd process: about one per in-flight iteration or open session.",
			"short", third,
			q(`go_goroutines{`+byInstance+`}`, "{{instance}}"))).
		WithPanel(graph("GC pause", "Mean garbage-collection pause of each loadd process.",
			"s", third,
			q(`rate(go_gc_duration_seconds_sum{`+byInstance+`}[$__rate_interval]) / rate(go_gc_duration_seconds_count{`+byInstance+`}[$__rate_interval])`, "{{instance}}"))).
		WithPanel(withLimit(graph("File descriptors used", "Open file descriptors / the process limit; every connection holds one. Near 100% new sessions fail: raise the limit or shard.",
			"percentunit", third,
			q(`process_open_fds{`+byInstance+`} / process_max_fds{`+byInstance+`}`, "{{instance}}")), 0.9)).
		WithRow(dashboard.NewRowBuilder("Delivering the load")).
		WithPanel(withLimit(graph("Schedule lag", "Delay between arrivals' intended and actual start, 50% and 99% quantiles over 5m for the whole job; dashed red: the LoaddScheduleLagHigh threshold.",
			"s", third,
			q(`job_scenario:loadd_schedule_lag_seconds:quantile_rate5m{`+recorded+`}`, "{{scenario}} q{{quantile}}")), 0.1)).
		WithPanel(graph("Dropped arrivals", "Arrivals dropped per second because max_in_flight iterations were running, by instance and scenario.",
			"reqps", third,
			q(`sum by (instance, scenario) (rate(loadd_iterations_dropped_total{`+byScenario+`}[$__rate_interval]))`, "{{instance}} {{scenario}}"))).
		WithPanel(graph("In flight", "Iterations running now, by instance and scenario.",
			"short", third,
			q(`sum by (instance, scenario) (loadd_in_flight{`+byScenario+`})`, "{{instance}} {{scenario}}"))).
		WithRow(dashboard.NewRowBuilder("Config and build")).
		WithPanel(single("Last reload", "Whether each instance's last config reload succeeded; after a failed one loadd keeps the previous config.",
			"none", third, nil,
			q(`loadd_config_last_reload_successful{`+byInstance+`}`, "{{instance}}")).
			Mappings(passFail("ok", "failed"))).
		WithPanel(single("Config age", "Time since each instance last loaded its config successfully.",
			"s", third, nil,
			q(`time() - loadd_config_last_reload_success_timestamp_seconds{`+byInstance+`}`, "{{instance}}"))).
		WithPanel(tableOf("Builds", "Version, revision and Go version of each loadd instance, and whether Prometheus scrapes it.",
			"none", third,
			q(`loadd_build_info{`+byInstance+`}`, "{{instance}}"),
			q(`up{`+byInstance+`}`, "{{instance}}")))
}
