// Package dashboards builds loadd's Grafana dashboards in Go with the Grafana
// foundation SDK. The JSON files beside this file are its output, committed
// so that Grafana can import them without Go; a test fails when they differ
// from what the code generates. Regenerate them with
//
//	go generate ./dashboards
//
// (or `go run ./dashboards/gen -out dashboards` from the repository root).
//
// Panels that judge SLAs read the recording rules of alerts/ (aggregated over
// the instances of a job); panels about single instances read raw series.
package dashboards

//go:generate go run ./gen -out .
