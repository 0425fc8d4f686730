// Package wsload is the WebSocket generator (kind: websocket): it holds a
// standing population of sessions against a target and measures them.
//
// A scenario keeps `sessions` open (this replica's share, times a run's
// scale), opening them at `ramp` per second; a session that drops is
// reopened after an exponential backoff with jitter, so a target restart
// does not become a reconnect storm; `session_lifetime: 10m±1m` closes and
// reopens sessions on purpose. Each session connects (ws:// or wss://,
// headers, subprotocols, optionally from one of several source addresses),
// authenticates (a bearer token on the upgrade request, or a first
// message), sends a subscribe message, and then every `message_every`
// sends a message whose reply is matched by a correlation ID (a JSON path)
// — or, without one, a ping whose pong is timed.
//
//	notifications:
//	  kind: websocket
//	  target: phoenix
//	  path: /ws/notifications
//	  sessions: 10000
//	  ramp: 500/s
//	  message_every: 5s
//	  subscribe: '{"type":"subscribe","topics":["encounters"]}'
//	  message: '{"type":"ping","id":"{{ .ID }}"}'
//	  correlation: $.id
//	  source_addresses: [127.0.0.2-127.0.0.7]
//
// Cost per session is kept small on purpose: one reader goroutine per
// session and nothing else (it is started fresh after the dial, so the
// dial's deep stack is not kept); writes (messages, pings, close frames),
// pong deadlines and lifetimes are driven by one shared scheduler (a heap
// with one entry per session, woken at most every 10 ms) and a few shared
// writer goroutines; JSON replies are parsed by shared matchers; read and
// write buffers are 1 KB and write buffers come from a shared sync.Pool
// without a New function, so an idle session holds none.
//
// Before opening anything, Build and Run compare the sessions with
// RLIMIT_NOFILE (the soft limit raised to the hard one first) and fail with
// a message naming what to raise or to shard.
//
// Metrics go only through exporter.Metrics.WebSocket, with the closed
// reason sets ConnectReasons and DisconnectReasons.
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
