package demo

import _ "embed"

// Config is the loadd configuration of the demo (demo.yaml): the seed's
// whole workload against this target, at http://127.0.0.1:8080 (the demo
// command overrides the URL).
//
//go:embed demo.yaml
var Config []byte
