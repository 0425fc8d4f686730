// Package deploy holds loadd's deployment files — Kubernetes (kustomize),
// systemd, container image, example Prometheus and Alertmanager configs —
// and the code that generates the PrometheusRule from alerts/. Its tests
// check every file offline with the real tools (kubectl kustomize,
// promtool, amtool, systemd-analyze) and the Kubernetes API types.
package deploy
