package httpload

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/loadd/loadd/generators"
)

// seedWorkload is the seed's whole Locust workload as one closed-model scenario.
const seedWorkload = `
kind: http
target: phoenix
users: 1000
spawn_rate: 10/s
think_time: between(1s, 5s)
user_classes:
  - {name: high_volume, weight: 1, think_time: "between(500ms, 2s)"}
  - {name: normal, weight: 5, think_time: "between(2s, 8s)"}
  - name: admin
    weight: 0.1
    think_time: between(30s, 60s)
    auth: {username: admin, password: admin-password, extra: {tenant_id: admin-tenant}}
    tasks:
      - {name: admin_dashboard, get: /admin/dashboard}
      - {name: audit_logs, get: /admin/audit/logs, query: {limit: 100, days: 1}}
feeders:
  mrn: {range: {from: 1000, to: 9999}}
tasks:
  - {name: list_encounters, weight: 10, get: /encounters, query: {page: 1, page_size: 20, status: active},
     capture: {encounter_ids: "$.items[*].id"}}
  - {name: view_encounter, weight: 5, get: "/encounters/{{ pick .encounter_ids }}"}
  - {name: create_encounter, weight: 3, post: /encounters,
     json: {patient_mrn: "MRN-{{ .mrn }}", encounter_type: office_visit, chief_complaint: Follow-up visit},
     check: {status: [201], json: {"$.id": exists}, max_latency: 1s}}
  - {name: view_soap_note, weight: 2, get: "/soap/{{ pick .encounter_ids }}"}
  - {name: dashboard_metrics, weight: 2, get: /dashboard/metrics, query: {period: day}}
  - {name: search_patients, weight: 1, get: /patients/search, query: {q: John, limit: 10}}
`

func TestDecodeSeedWorkload(t *testing.T) {
	gs, p := decodeYAML(t, seedWorkload, map[string]*generators.Target{"phoenix": mustTarget(t, "http://127.0.0.1:8080", passwordAuth())})
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := gs.Summary(), "http → phoenix: closed model 1000 users (spawn 10/s), 3 classes, 8 tasks"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	want := []string{"list_encounters", "view_encounter", "create_encounter", "view_soap_note", "dashboard_metrics", "search_patients", "admin_dashboard", "audit_logs"}
	if got := gs.Tasks(); !slices.Equal(got, want) {
		t.Errorf("tasks %v, want %v", got, want)
	}
	b, err := json.Marshal(gs.Public())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "admin-password") || !strings.Contains(string(b), `"password":"\u003csecret\u003e"`) {
		t.Errorf("public config leaks or loses the secret: %s", b)
	}
	s := gs.(*spec)
	admin := s.classes[2]
	if a := admin.target.Auth; a.Username != "admin" || a.Password.Reveal() != "admin-password" || a.TokenURL != "/auth/token" || a.Extra["tenant_id"] != "admin-tenant" {
		t.Errorf("admin auth %+v: want the class's credentials on the target's token URL", a)
	}
	if s.classes[0].target.Auth.Username != "physician" {
		t.Error("a class without auth must log in as the target does")
	}
	create := s.tasks[2]
	if create.static || string(create.ctype) != "application/json" {
		t.Errorf("create_encounter: static %v, content type %q", create.static, create.ctype)
	}
	list := s.tasks[0]
	if !list.static || string(list.uri) != "/encounters?page=1&page_size=20&status=active" {
		t.Errorf("list_encounters: static %v, uri %q: want a pre-rendered request", list.static, list.uri)
	}
}

func TestDecodeOpenDefaults(t *testing.T) {
	gs, p := decodeYAML(t, "kind: http\ntarget: phoenix\nrate: 200/s\n"+okTasks,
		map[string]*generators.Target{"phoenix": mustTarget(t, "https://127.0.0.1/api/", nil)})
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	s := gs.(*spec)
	if s.maxInFlight != 0 || s.sessions != DefaultSessions || s.timeout != DefaultTimeout || s.cfg.CapturePoolSize != DefaultCapturePoolSize {
		t.Errorf("defaults: max_in_flight %d, sessions %d, timeout %s, pool %d", s.maxInFlight, s.sessions, s.timeout, s.cfg.CapturePoolSize)
	}
	if string(s.base) != "https://127.0.0.1/api" || s.addr != "127.0.0.1:443" || !s.isTLS {
		t.Errorf("base %q addr %q tls %v", s.base, s.addr, s.isTLS)
	}
	if got := gs.Summary(); got != "http → phoenix: open model 200/s, 1 tasks, max_in_flight 1000 (default)" {
		t.Errorf("summary %q", got)
	}
}

// FuzzDecode feeds arbitrary YAML to the decoder: it must report problems,
// never panic, and a spec it accepts must describe and marshal itself.
func FuzzDecode(f *testing.F) {
	f.Add(seedWorkload)
	f.Add("kind: http\ntarget: phoenix\nrate: 200/s\n" + okTasks)
	f.Add("kind: http\ntarget: phoenix\nstages: [{ramp: 1m, to: 10/s}, {hold: 1m}]\ntasks: [{name: a, method: PUT, path: '/x/{{ randInt 1 9 }}', body: '{{ uuid }}'}]\n")
	f.Add("kind: http\ntarget: phoenix\nrate: 1/s\nfeeders: {s: {random: [a, 1]}}\ntasks: [{name: a, get: '/{{ .s }}', headers: {X-A: '{{ .s }}'}, check: {status: 2xx}}]\n")
	f.Add("kind: http\nusers: -1\ntasks: {a: b}\n")
	tg := mustTarget(f, "http://127.0.0.1:9", passwordAuth())
	env := map[string]*generators.Target{"phoenix": tg}
	f.Fuzz(func(t *testing.T, src string) {
		var raw map[string]any
		if yaml.Unmarshal([]byte(src), &raw) != nil {
			return
		}
		spec, p := decodeYAMLMap(raw, env)
		if spec == nil {
			if p.Len() == 0 {
				t.Fatal("rejected without a problem")
			}
			return
		}
		_ = spec.Summary()
		_ = spec.Tasks()
		if _, err := json.Marshal(spec.Public()); err != nil {
			t.Fatalf("public config does not marshal: %v", err)
		}
	})
}

// FuzzTemplate compiles arbitrary template text against feeders and a pool
// and renders it: errors are fine, panics and hangs are not.
func FuzzTemplate(f *testing.F) {
	dir := f.TempDir()
	csvFile := filepath.Join(dir, "doctors.csv")
	if err := os.WriteFile(csvFile, []byte("name,id\nHouse,1\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"/encounters/{{ pick .ids }}", "MRN-{{ .mrn }}", "{{ .doc.name }}-{{ .doc.id }}", "{{ uuid }}",
		"{{ randInt 5 1 }}", "{{ if .mrn }}x{{ else }}y{{ end }}", "{{ with .doc }}{{ .name }}{{ end }}",
		"{{ .ids | pick | printf \"%q\" }}", "{{ now.Unix }}", "{{", "{{ range .ids }}{{ end }}", "plain",
	} {
		f.Add(s)
	}
	p := newPool("ids", 8)
	p.add("e-1")
	mrn := &feeder{name: "mrn", lo: 1000, hi: 9999}
	doc := &feeder{name: "doc", columns: []string{"name", "id"}, values: []any{map[string]string{"name": "House", "id": "1"}}}
	sc := &scope{feeders: map[string]*feeder{"mrn": mrn, "doc": doc}, pools: map[string]bool{"ids": true, "empty": true}}
	data := map[string]any{"ids": p, "empty": newPool("empty", 8), "mrn": mrn.value(), "doc": doc.value()}
	f.Fuzz(func(t *testing.T, src string) {
		x, err := compileText(src, sc)
		if err != nil {
			return
		}
		out, err := x.render(nil, data)
		if x.isStatic() && (err != nil || string(out) != src) {
			t.Fatalf("static text %q rendered as %q, %v", src, out, err)
		}
		if len(out) > maxRender {
			t.Fatalf("rendered %d bytes, over the bound", len(out))
		}
	})
}
