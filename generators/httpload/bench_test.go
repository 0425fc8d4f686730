package httpload

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/loadd/loadd/generators"
)

// fastServer serves a tiny fixed JSON response on loopback, as the
// benchmark target does.
func fastServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"items":[{"id":"e-1"},{"id":"e-2"}]}`)
	}}
	go s.Serve(ln) //nolint:errcheck // ends with Shutdown
	b.Cleanup(func() { _ = s.Shutdown() })
	return "http://" + ln.Addr().String()
}

const benchConfig = `
kind: http
target: phoenix
rate: 1/s
feeders:
  mrn: {range: {from: 1000, to: 9999}}
tasks:
  - {name: static, get: /encounters, query: {page: 1, status: active}, headers: {X-Client: loadd}}
  - {name: capture, get: /encounters, capture: {ids: "$.items[*].id"}}
  - {name: templated, get: "/encounters/{{ pick .ids }}", query: {mrn: "{{ .mrn }}"}}
  - {name: json_body, post: /encounters, json: {patient_mrn: "MRN-{{ .mrn }}", encounter_type: office_visit}}
`

func benchScenario(b *testing.B) (*scenario, *identity) {
	sc, _ := build(b, benchConfig, mustTarget(b, fastServer(b), nil), generators.Deps{})
	b.Cleanup(sc.transport.close)
	sc.pools["ids"].add("e-1")
	return sc, sc.newIdentity(sc.spec.target)
}

func benchTask(sc *scenario, name string) *task {
	for _, t := range sc.spec.tasks {
		if t.name == name {
			return t
		}
	}
	panic("no task " + name)
}

// BenchmarkExec is one full request (render, send over a kept-alive
// loopback connection, check, record metrics with an exemplar attempt).
func BenchmarkExec(b *testing.B) {
	for _, name := range []string{"static", "templated", "json_body", "capture"} {
		b.Run(name, func(b *testing.B) {
			sc, id := benchScenario(b)
			t := benchTask(sc, name)
			ctx := context.Background()
			sc.exec(ctx, t, id, time.Now())
			b.ReportAllocs()
			for b.Loop() {
				sc.exec(ctx, t, id, time.Now())
			}
		})
	}
}

// BenchmarkExecParallel runs the static request from many goroutines, as
// the open model does.
func BenchmarkExecParallel(b *testing.B) {
	sc, id := benchScenario(b)
	t := benchTask(sc, "static")
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sc.exec(ctx, t, id, time.Now())
		}
	})
}

// BenchmarkNetHTTP is the same static GET through net/http, for a ratio.
func BenchmarkNetHTTP(b *testing.B) {
	url := fastServer(b) + "/encounters?page=1&status=active"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkPrepare renders a request without sending it.
func BenchmarkPrepare(b *testing.B) {
	for _, name := range []string{"static", "templated", "json_body"} {
		b.Run(name, func(b *testing.B) {
			sc, _ := benchScenario(b)
			t := benchTask(sc, name)
			c := sc.newCall()
			b.ReportAllocs()
			for b.Loop() {
				if err := sc.prepare(c, t); err != nil {
					b.Fatal(err)
				}
				c.req.Reset()
			}
		})
	}
}
