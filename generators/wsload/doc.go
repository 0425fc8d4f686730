// Package wsload is the WebSocket generator (kind: websocket): it holds a
// standing population of sessions against a target and measures them.
//
// A scenario keeps `sessions` open, opening them at `ramp` per second; a
// session that drops is reopened after an exponential backoff with jitter,
// so a target restart does not become a reconnect storm. Each session
// connects (ws:// or wss://, headers, subprotocols), authenticates (a bearer
// token on the upgrade request, or a first message), sends a subscribe
// message, and then every `message_every` sends a message whose reply is
// matched by a correlation ID (JSON path) — or, without one, a ping whose
// pong is timed.
//
// Cost per session is kept small on purpose: one reader goroutine per
// session and nothing else; writes (messages, pings), pong deadlines and
// lifetimes are driven by one shared scheduler (a heap with one entry per
// session) and a few shared writer goroutines; read and write buffers are
// 1 KB and write buffers come from a shared, initially empty sync.Pool.
//
// Templates (auth message, subscribe, message) are Go text/template strings
// with the fields
//
//	{{ .Token }}    the bearer token from the target's auth ("" without auth)
//	{{ .Session }}  the session's slot number (stable across reconnects)
//	{{ .Seq }}      the message's number within the session
//	{{ .ID }}       the message's correlation ID (message template only)
//
// and the function `json`, which renders a value as a JSON literal.
package wsload
