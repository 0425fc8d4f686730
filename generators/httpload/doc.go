// Package httpload is the generator of kind "http": it sends templated
// HTTP requests to a target, either at an arrival rate (open model, paced
// by schedule.Open) or as Locust-style virtual users with think time
// (closed model, schedule.Closed), and records every outcome through the
// exporter's task handles.
//
// # Requests
//
// A task is a method and path (get: /x, or method: + path:), with
// optional query, headers, and a json (any YAML value) or raw body. Every
// string in them may be a Go text/template, compiled when the config is
// loaded, with these fields and functions:
//
//   - .name of a feeder: a fresh value per request (the same value in every
//     template of that request). A csv feeder without column gives the row,
//     so .doctor.name and .doctor.id come from one row.
//   - pick .pool: a random value captured earlier into a capture pool.
//   - randInt a b (inclusive), uuid, now.
//
// Captures take JSON-path (RFC 9535) matches from a response into a named
// pool: a bounded ring (capture_pool_size, default 10000) shared by the
// scenario. Before the first arrival each pool is primed by running, once,
// the first task that fills it. A request whose template picks from a pool
// that is still empty is not sent and fails with reason "assertion": the
// data the scenario depends on is missing.
//
// # Checks and failure reasons
//
// A response whose status is not in check.status (default: any 2xx) fails
// with reason "status". A failed JSON-path assertion (exists, absent,
// {equals: v}), body_contains or max_latency fails with reason
// "assertion". A 401 (when 401 is not an expected status and the target
// has auth) invalidates the session's token, logs in afresh and retries
// the request once; a second 401 fails with reason "auth". Transport
// errors are classified by generators.Classify.
//
// # Engine
//
// The open model spreads requests over a small pool of sessions (logged
// in before the first arrival); each closed-model user logs in on its first
// step and keeps its own token and cookie jar. Cookies are kept by name
// per identity (a target is one origin).
//
// HTTP/1.1 to http:// targets goes through plainTransport: fasthttp's
// request writer and response parser over a keep-alive pool of its own,
// with timeouts kept by a watchdog (no per-request allocation for static
// tasks); to https:// targets through a fasthttp HostClient; http2: true
// uses net/http with HTTP/2 (h2c prior knowledge for http:// targets). Latency is measured from an
// arrival's intended start (open model) or from the start of a user's step
// (closed model). Every request carries a fresh W3C traceparent whose
// trace ID becomes the latency histogram's exemplar.
package httpload
