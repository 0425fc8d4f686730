package config

import (
	"strings"
	"testing"
)

type testTask struct {
	Name   string  `yaml:"name"`
	Weight float64 `yaml:"weight"`
}

type testScenario struct {
	Rate  Rate       `yaml:"rate"`
	Tasks []testTask `yaml:"tasks"`
}

type testFile struct {
	Scenarios map[string]testScenario `yaml:"scenarios"`
}

func TestLoadReportsPathAndLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "unknown key",
			yaml: "scenarios:\n  api:\n    rate: 5/s\n    burst: 3\n",
			want: []string{`line 4: scenarios.api.burst: unknown key "burst"`},
		},
		{
			name: "wrong type in list",
			yaml: "scenarios:\n  api:\n    rate: 5/s\n    tasks:\n      - {name: a, weight: 1}\n      - {name: b, weight: heavy}\n",
			want: []string{"line 6: scenarios.api.tasks[1].weight:"},
		},
		{
			name: "bad rate",
			yaml: "scenarios:\n  api:\n    rate: -5/s\n",
			want: []string{"line 3: scenarios.api.rate:", "must be positive"},
		},
		{
			name: "malformed yaml",
			yaml: "scenarios:\n  api:\n    rate: [5/s\n",
			want: []string{"invalid YAML"},
		},
		{
			name: "duplicate key",
			yaml: "scenarios:\n  api:\n    rate: 5/s\n    rate: 6/s\n",
			want: []string{"line 4", "already defined"},
		},
		{
			name: "several problems at once",
			yaml: "scenarios:\n  api:\n    rate: 0/s\n    nope: 1\n",
			want: []string{"line 3: scenarios.api.rate", `line 4: scenarios.api.nope: unknown key`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f testFile
			_, err := Load(Source{File: "x.yaml", Data: []byte(c.yaml)}, &f)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nlacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "x.yaml: ") {
				t.Errorf("error does not name the file: %s", err)
			}
		})
	}
}

func TestLoadOverrides(t *testing.T) {
	y := "scenarios:\n  api:\n    rate: 5/s\n    tasks: [{name: a, weight: 1}]\n"
	var f testFile
	_, err := Load(Source{
		Data:      []byte(y),
		Environ:   func() []string { return []string{"LOADD_SCENARIOS__API__RATE=7/s", "OTHER=1"} },
		Overrides: map[string]any{},
	}, &f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Scenarios["api"].Rate != 7 {
		t.Errorf("env override: rate = %v, want 7", f.Scenarios["api"].Rate)
	}
	f = testFile{}
	_, err = Load(Source{
		Data:      []byte(y),
		Environ:   func() []string { return []string{"LOADD_SCENARIOS__API__RATE=7/s"} },
		Overrides: map[string]any{"scenarios.api.rate": "9/s"},
	}, &f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Scenarios["api"].Rate != 9 {
		t.Errorf("flag override must win over env: rate = %v, want 9", f.Scenarios["api"].Rate)
	}
}

func TestDocumentLine(t *testing.T) {
	var f testFile
	doc, err := Load(Source{Data: []byte("scenarios:\n  api:\n    rate: 5/s\n    tasks:\n      - name: a\n        weight: 1\n")}, &f)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"scenarios.api":                 2,
		"scenarios.api.tasks[0]":        5,
		"scenarios.api.tasks[0].weight": 6,
		"scenarios.api.tasks[0].nosuch": 5,
		"scenarios.api.tasks[3]":        4,
	} {
		if got := doc.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("scenarios:\n  api:\n    rate: 5/s\n    tasks: [{name: a, weight: 1}]\n")
	f.Add("scenarios: {api: {rate: [1, 2]}}")
	f.Add("&a [*a]")
	f.Add("scenarios:\n  ? [x]\n  : 1\n")
	f.Fuzz(func(t *testing.T, y string) {
		var tf testFile
		_, err := Load(Source{File: "f.yaml", Data: []byte(y)}, &tf)
		if err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}
