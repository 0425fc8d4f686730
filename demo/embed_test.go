package demo

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// demoConfig is the part of demo.yaml this package can check without the
// loader: the workload's shape, and that every request it describes is one
// the target serves.
type demoConfig struct {
	Targets map[string]struct {
		BaseURL string `yaml:"base_url"`
		Auth    struct {
			Username string            `yaml:"username"`
			Password string            `yaml:"password"`
			Extra    map[string]string `yaml:"extra"`
		} `yaml:"auth"`
	} `yaml:"targets"`
	Scenarios map[string]struct {
		Kind        string `yaml:"kind"`
		Target      string `yaml:"target"`
		UserClasses []struct {
			Name      string     `yaml:"name"`
			Weight    float64    `yaml:"weight"`
			ThinkTime string     `yaml:"think_time"`
			Auth      *struct{}  `yaml:"auth"`
			Tasks     []demoTask `yaml:"tasks"`
		} `yaml:"user_classes"`
		Tasks []demoTask `yaml:"tasks"`
	} `yaml:"scenarios"`
	SLAs []map[string]any `yaml:"slas"`
}

type demoTask struct {
	Name   string            `yaml:"name"`
	Weight float64           `yaml:"weight"`
	Get    string            `yaml:"get"`
	Post   string            `yaml:"post"`
	Query  map[string]string `yaml:"query"`
	JSON   map[string]string `yaml:"json"`
	Check  struct {
		Status []int `yaml:"status"`
	} `yaml:"check"`
}

func TestConfigIsTheSeedWorkload(t *testing.T) {
	var c demoConfig
	if err := yaml.Unmarshal(Config, &c); err != nil {
		t.Fatalf("demo.yaml: %v", err)
	}
	api := c.Scenarios["api"]
	var classes []string
	for _, uc := range api.UserClasses {
		classes = append(classes, uc.Name+" "+uc.ThinkTime+" "+jsonString(uc.Weight))
	}
	wantClasses := []string{"normal 2s..8s 5", "high_volume 500ms..2s 1", "admin 30s..60s 0.1"}
	if !slices.Equal(classes, wantClasses) {
		t.Errorf("user classes %q, want %q", classes, wantClasses)
	}
	var tasks []string
	for _, tk := range api.Tasks {
		tasks = append(tasks, tk.Name+" "+jsonString(tk.Weight))
	}
	wantTasks := []string{"list_encounters 10", "view_encounter 5", "create_encounter 3", "view_soap_note 2", "dashboard_metrics 2", "search_patients 1"}
	if !slices.Equal(tasks, wantTasks) {
		t.Errorf("tasks %q, want %q", tasks, wantTasks)
	}
	if admin := api.UserClasses[2]; admin.Auth == nil || len(admin.Tasks) != 2 {
		t.Errorf("admin class needs its own login and its two tasks: %+v", admin)
	}
	if len(c.Scenarios["api_open"].Tasks) != 6 || len(c.SLAs) != 2 {
		t.Errorf("want an open-model scenario with the six tasks and an SLA per scenario")
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var templateRE = regexp.MustCompile(`\{\{[^}]*\}\}`)

// Every task of demo.yaml, run against the target with its templates filled
// in by hand, gets the status its check expects (200 when none), logged in
// as the config logs in.
func TestConfigRequestsServedByTarget(t *testing.T) {
	var c demoConfig
	if err := yaml.Unmarshal(Config, &c); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Options{})
	auth := c.Targets["phoenix"].Auth
	user := f.login(auth.Username, auth.Password)
	admin := f.login("admin", "admin-password")
	names := RouteNames()
	run := func(tk demoTask, tok string) {
		t.Helper()
		if !slices.Contains(names, tk.Name) {
			t.Errorf("task %s has no route of that name: the target's stats would not line up", tk.Name)
		}
		method, path := "GET", tk.Get
		if tk.Post != "" {
			method, path = "POST", tk.Post
		}
		path = templateRE.ReplaceAllString(path, "enc-000001")
		if len(tk.Query) > 0 {
			q := url.Values{}
			for k, v := range tk.Query {
				q.Set(k, v)
			}
			path += "?" + q.Encode()
		}
		var body any
		if tk.JSON != nil {
			m := map[string]string{}
			for k, v := range tk.JSON {
				m[k] = templateRE.ReplaceAllString(v, "1234")
			}
			body = m
		}
		want := http.StatusOK
		if len(tk.Check.Status) > 0 {
			want = tk.Check.Status[0]
		}
		if code, b := f.do(method, path, tok, body); code != want {
			t.Errorf("task %s: %s %s: %d %s, want %d", tk.Name, method, path, code, strings.TrimSpace(string(b)), want)
		}
	}
	for name, sc := range c.Scenarios {
		if sc.Target != "phoenix" || sc.Kind != "http" {
			t.Errorf("scenario %s: kind %q target %q", name, sc.Kind, sc.Target)
		}
		for _, tk := range sc.Tasks {
			run(tk, user)
		}
		for _, uc := range sc.UserClasses {
			for _, tk := range uc.Tasks {
				run(tk, admin)
			}
		}
	}
}
