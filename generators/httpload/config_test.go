package httpload

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loadd/loadd/generators"
)

// problems decodes src against a phoenix target and returns every problem
// as "path: message", sorted.
func problems(t *testing.T, src string) []string {
	t.Helper()
	tg := mustTarget(t, "http://127.0.0.1:9", passwordAuth())
	spec, p := decodeYAML(t, src, map[string]*generators.Target{"phoenix": tg})
	var out []string
	for _, pr := range p.List {
		out = append(out, pr.Path+": "+pr.Msg)
	}
	slices.Sort(out)
	if (spec == nil) != (len(out) > 0) {
		t.Errorf("spec %v with problems %v: want a spec exactly when there is no problem", spec, out)
	}
	return out
}

const okTasks = "tasks: [{name: list, get: /encounters}]\n"

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "doctors.csv")
	if err := os.WriteFile(csvFile, []byte("name,id\nHouse,1\nGrey,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"unknown key", "kind: http\ntarget: phoenix\nrate: 1/s\nrat: 2/s\n" + okTasks,
			[]string{`scenarios.api.rat: unknown key "rat"`}},
		{"wrong type", "kind: http\ntarget: phoenix\nrate: 1/s\nmax_in_flight: many\n" + okTasks,
			[]string{`scenarios.api.max_in_flight: expected 'int', got 'string'`}},
		{"zero rate", "kind: http\ntarget: phoenix\nrate: 0/s\n" + okTasks,
			[]string{`scenarios.api.rate: rate "0/s" must be positive`}},
		{"negative rate", "kind: http\ntarget: phoenix\nrate: -5/s\n" + okTasks,
			[]string{`scenarios.api.rate: rate "-5/s" must be positive`}},
		{"no model", "kind: http\ntarget: phoenix\n" + okTasks,
			[]string{`scenarios.api.rate: give rate (open model, e.g. 200/s) or users (closed model)`}},
		{"both models", "kind: http\ntarget: phoenix\nrate: 1/s\nusers: 3\n" + okTasks,
			[]string{`scenarios.api.users: give rate (open model) or users (closed model), not both`}},
		{"unknown target", "kind: http\ntarget: nowhere\nrate: 1/s\n" + okTasks,
			[]string{`scenarios.api.target: unknown target "nowhere" (targets: phoenix)`}},
		{"no target", "kind: http\nrate: 1/s\n" + okTasks,
			[]string{`scenarios.api.target: required: the name of a target`}},
		{"closed keys in open model", "kind: http\ntarget: phoenix\nrate: 1/s\nspawn_rate: 2/s\nthink_time: 1s\n" + okTasks,
			[]string{
				`scenarios.api.spawn_rate: applies to the closed model (users); the open model (rate) has no users`,
				`scenarios.api.think_time: applies to the closed model (users); the open model (rate) has no users`,
			}},
		{"negative max_in_flight", "kind: http\ntarget: phoenix\nrate: 1/s\nmax_in_flight: -3\n" + okTasks,
			[]string{`scenarios.api.max_in_flight: must be positive`}},
		{"negative max_connections", "kind: http\ntarget: phoenix\nrate: 1/s\nmax_connections: -2\n" + okTasks,
			[]string{`scenarios.api.max_connections: must be positive`}},
		{"max_connections with http2", "kind: http\ntarget: phoenix\nrate: 1/s\nhttp2: true\nmax_connections: 8\n" + okTasks,
			[]string{`scenarios.api.max_connections: applies to HTTP/1.1; HTTP/2 multiplexes requests over one connection`}},
		{"open keys in closed model", "kind: http\ntarget: phoenix\nusers: 3\nthink_time: 1s\nmax_in_flight: 5\n" + okTasks,
			[]string{`scenarios.api.max_in_flight: applies to the open model (rate); closed-model users each have their own session`}},
		{"closed model without think time", "kind: http\ntarget: phoenix\nusers: 3\n" + okTasks,
			[]string{`scenarios.api.think_time: required for the closed model (e.g. between(1s, 5s)), here or in every user class`}},
		{"bad think time", "kind: http\ntarget: phoenix\nusers: 3\nthink_time: between(5s, 1s)\n" + okTasks,
			[]string{`scenarios.api.think_time: think time "between(5s, 1s)": upper bound below lower bound`}},
		{"no tasks", "kind: http\ntarget: phoenix\nrate: 1/s\n",
			[]string{`scenarios.api.tasks: at least one task is required`}},
		{"negative weight", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks:\n- {name: a, get: /a}\n- {name: b, get: /b}\n- {name: c, weight: -1, get: /c}\n",
			[]string{`scenarios.api.tasks[2].weight: must not be negative`}},
		{"weights sum to zero", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks:\n- {name: a, weight: 0, get: /a}\n",
			[]string{`scenarios.api.tasks: task weights sum to zero: give at least one task a positive weight`}},
		{"task without request", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a}]\n",
			[]string{`scenarios.api.tasks[0]: give the request as get, post, put, delete or patch: PATH, or as method and path`}},
		{"two requests", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: /a, post: /a}]\n",
			[]string{`scenarios.api.tasks[0]: give only one of get, post, put, delete, patch, or method with path`}},
		{"method without path", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, method: GET}]\n",
			[]string{`scenarios.api.tasks[0].path: required with method`}},
		{"bad method", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, method: 'GE T', path: /a}]\n",
			[]string{`scenarios.api.tasks[0].method: invalid method "GE T"`}},
		{"relative path", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: encounters}]\n",
			[]string{`scenarios.api.tasks[0].get: must start with /`}},
		{"path with space", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: /a b}]\n",
			[]string{`scenarios.api.tasks[0].get: contains spaces or control characters; percent-encode them`}},
		{"duplicate and missing names", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks:\n- {name: a, get: /a}\n- {name: a, get: /b}\n- {get: /c}\n",
			[]string{`scenarios.api.tasks[1].name: duplicate task name "a"`, `scenarios.api.tasks[2].name: required`}},
		{"template does not parse", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: '/a/{{ .x '}]\n",
			[]string{`scenarios.api.tasks[0].get: invalid template: unclosed action`}},
		{"unknown function", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: '/a/{{ nope }}'}]\n",
			[]string{`scenarios.api.tasks[0].get: invalid template: function "nope" not defined`}},
		{"capture nobody fills", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: '/e/{{ pick .encounter_ids }}'}]\n",
			[]string{`scenarios.api.tasks[0].get: pick .encounter_ids: no task captures into "encounter_ids"`}},
		{"unknown feeder", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, post: /a, json: {mrn: 'MRN-{{ .mrn }}'}}]\n",
			[]string{`scenarios.api.tasks[0].json.mrn: .mrn: no feeder has this name and no task captures into it`}},
		{"pool used without pick", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks:\n- {name: a, get: /a, capture: {ids: $.id}}\n- {name: b, get: '/b/{{ .ids }}'}\n",
			[]string{`scenarios.api.tasks[1].get: .ids is a capture pool: use {{ pick .ids }}`}},
		{"pick a feeder", "kind: http\ntarget: phoenix\nrate: 1/s\nfeeders: {mrn: {range: {from: 1, to: 2}}}\ntasks: [{name: a, get: '/a/{{ pick .mrn }}'}]\n",
			[]string{`scenarios.api.tasks[0].get: pick .mrn: mrn is a feeder, not a capture pool; use {{ .mrn }}`}},
		{"bad capture path", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: /a, capture: {ids: 'items[*'}}]\n",
			[]string{`scenarios.api.tasks[0].capture.ids: invalid JSON path "items[*": jsonpath: unexpected identifier at position 1`}},
		{"bad status", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: /a, check: {status: [200, 700]}}]\n",
			[]string{`scenarios.api.tasks[0].check.status[1]: invalid status "700" (want a code from 100 to 599 or a class such as 2xx)`}},
		{"bad assertion", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: /a, check: {json: {$.id: present}}}]\n",
			[]string{`scenarios.api.tasks[0].check.json.$.id: unknown assertion "present" (want exists, absent or {equals: value})`}},
		{"json and body", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, post: /a, json: {x: 1}, body: x}]\n",
			[]string{`scenarios.api.tasks[0].body: give json or body, not both`}},
		{"query value not scalar", "kind: http\ntarget: phoenix\nrate: 1/s\ntasks: [{name: a, get: /a, query: {q: [1, 2]}}]\n",
			[]string{`scenarios.api.tasks[0].query.q: must be a string or number`}},
		{"feeder with two kinds", "kind: http\ntarget: phoenix\nrate: 1/s\nfeeders: {x: {range: {from: 1, to: 2}, random: [a]}}\n" + okTasks,
			[]string{`scenarios.api.feeders.x: give exactly one of range, csv or random`}},
		{"range upside down", "kind: http\ntarget: phoenix\nrate: 1/s\nfeeders: {x: {range: {from: 9, to: 2, order: shuffled}}}\n" + okTasks,
			[]string{`scenarios.api.feeders.x.range.order: unknown order "shuffled" (want random or sequential)`, `scenarios.api.feeders.x.range.to: must not be below from (9)`}},
		{"csv without file", "kind: http\ntarget: phoenix\nrate: 1/s\nfeeders: {x: {csv: {file: " + filepath.Join(dir, "none.csv") + "}}}\n" + okTasks,
			[]string{`scenarios.api.feeders.x.csv.file: cannot read: open ` + filepath.Join(dir, "none.csv") + `: no such file or directory`}},
		{"csv without column", "kind: http\ntarget: phoenix\nrate: 1/s\nfeeders: {x: {csv: {file: " + csvFile + ", column: surname}}}\n" + okTasks,
			[]string{`scenarios.api.feeders.x.csv.column: no column "surname" in ` + csvFile + ` (columns: [name id])`}},
		{"csv row field", "kind: http\ntarget: phoenix\nrate: 1/s\nfeeders: {doc: {csv: {file: " + csvFile + "}}}\ntasks: [{name: a, get: '/d/{{ .doc.surname }}'}]\n",
			[]string{`scenarios.api.tasks[0].get: .doc.surname: feeder doc has no column "surname" (columns: name, id)`}},
		{"class problems", "kind: http\ntarget: phoenix\nusers: 3\nthink_time: 1s\nuser_classes:\n- {name: a, weight: -1}\n- {name: a, weight: 0}\n" + okTasks,
			[]string{
				`scenarios.api.user_classes: class weights sum to zero: give at least one class a positive weight`,
				`scenarios.api.user_classes[0].weight: must not be negative`,
				`scenarios.api.user_classes[1].name: duplicate class name "a"`,
			}},
		{"class auth", "kind: http\ntarget: phoenix\nusers: 3\nthink_time: 1s\nuser_classes:\n- {name: admin, weight: 1, auth: {kind: magic}}\n" + okTasks,
			[]string{`scenarios.api.user_classes[0].auth.kind: unknown auth kind "magic" (want password or bearer)`}},
		{"class task problem", "kind: http\ntarget: phoenix\nusers: 3\nthink_time: 1s\nuser_classes:\n- {name: admin, weight: 1, tasks: [{name: audit, get: /admin, weight: -2}]}\n" + okTasks,
			[]string{`scenarios.api.user_classes[0].tasks[0].weight: must not be negative`}},
		{"unquoted comma in a flow mapping", "kind: http\ntarget: phoenix\nusers: 3\nuser_classes:\n- {name: a, weight: 1, think_time: between(2s, 8s)}\n" + okTasks,
			[]string{`scenarios.api.user_classes[0].think_time: "between(2s" was cut at a comma: inside {…} quote it, e.g. think_time: "between(2s, 8s)"`}},
		{"wrong kind", "kind: websocket\ntarget: phoenix\nrate: 1/s\n" + okTasks,
			[]string{`scenarios.api.kind: is "websocket", want "http"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, tc.src)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}
