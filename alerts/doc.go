// Package alerts holds loadd's Prometheus rules and what generates more of
// them.
//
// The shipped rule files (loadd-*.rules.yml beside this file) serve any
// config: they compare what loadd measured with the SLA objectives loadd
// exports as series (loadd_sla_latency_objective_seconds,
// loadd_sla_error_ratio_objective). Their promtool unit tests live in tests/,
// and RUNBOOK.md has a section per alert that each rule's runbook_url
// points to.
//
// Explicit renders the other flavour, for `loadd rules`: one rule per SLA of
// a config with literal thresholds, for users who prefer to see every
// objective in the rule itself.
package alerts
