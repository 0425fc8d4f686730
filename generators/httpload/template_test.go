package httpload

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func testScope() (*scope, map[string]any) {
	p := newPool("ids", 4)
	mrn := &feeder{name: "mrn", lo: 1000, hi: 1000}
	doc := &feeder{name: "doc", columns: []string{"name", "id"}, values: []any{map[string]string{"name": "House", "id": "7"}}}
	status := &feeder{name: "status", values: []any{"active"}}
	sc := &scope{feeders: map[string]*feeder{"mrn": mrn, "doc": doc, "status": status}, pools: map[string]bool{"ids": true}}
	data := map[string]any{"ids": p, "mrn": mrn.value(), "doc": doc.value(), "status": status.value()}
	return sc, data
}

func TestTemplates(t *testing.T) {
	sc, data := testScope()
	data["ids"].(*pool).add("e-9")
	for _, tc := range []struct {
		src, want string
		feeders   []string
		pools     []string
	}{
		{"/encounters", "/encounters", nil, nil},
		{"/encounters/{{ pick .ids }}", "/encounters/e-9", nil, []string{"ids"}},
		{"/encounters/{{ .ids | pick }}", "/encounters/e-9", nil, []string{"ids"}},
		{"MRN-{{ .mrn }}", "MRN-1000", []string{"mrn"}, nil},
		{"{{ .doc.name }}#{{ .doc.id }}/{{ $.status }}", "House#7/active", []string{"doc", "status"}, nil},
		{"{{ if eq .status \"active\" }}a{{ else }}b{{ end }}", "a", []string{"status"}, nil},
		{"{{ with .doc }}{{ .name }}{{ end }}", "House", []string{"doc"}, nil},
		{"{{ randInt 3 3 }}", "3", nil, nil},
	} {
		x, err := compileText(tc.src, sc)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got, err := x.render([]byte(">"), data)
		if err != nil || string(got) != ">"+tc.want {
			t.Errorf("%s rendered %q, %v; want %q", tc.src, got, err, tc.want)
		}
		if strings.Join(x.feeders, ",") != strings.Join(tc.feeders, ",") || strings.Join(x.pools, ",") != strings.Join(tc.pools, ",") {
			t.Errorf("%s uses feeders %v pools %v, want %v %v", tc.src, x.feeders, x.pools, tc.feeders, tc.pools)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	sc, _ := testScope()
	for src, want := range map[string]string{
		"{{ .nope }}":                          ".nope: no feeder has this name and no task captures into it",
		"{{ pick .nope }}":                     `pick .nope: no task captures into "nope"`,
		"{{ pick }}":                           "pick takes one capture pool, e.g. {{ pick .encounter_ids }}",
		"{{ .ids }}":                           ".ids is a capture pool: use {{ pick .ids }}",
		"{{ .mrn.x }}":                         ".mrn.x: feeder mrn has no fields",
		"{{ .doc.age }}":                       `.doc.age: feeder doc has no column "age" (columns: name, id)`,
		"{{ range .ids }}x{{ end }}":           "invalid template: range is not supported in request templates",
		"{{ template \"x\" }}":                 "invalid template: {{template}} is not supported",
		"{{ if }}":                             "invalid template: missing value for if",
		"a {{ .mrn }} {{":                      "invalid template: unclosed action",
		"{{ printf \"%d\" .mrn }}{{ nope 1 }}": `invalid template: function "nope" not defined`,
	} {
		_, err := compileText(src, sc)
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", src, err, want)
		}
	}
}

func TestTemplateRuntimeErrors(t *testing.T) {
	sc, data := testScope()
	x, err := compileText("/e/{{ pick .ids }}", sc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.render(nil, data); !errors.Is(err, errEmptyPool) {
		t.Errorf("pick from an empty pool: %v, want errEmptyPool", err)
	}
	big, err := compileText(`{{ printf "%0900000d" 1 }}{{ printf "%0900000d" 1 }}`, sc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := big.render(nil, data); !errors.Is(err, errTooLong) {
		t.Errorf("2 × 900 kB: %v, want errTooLong", err)
	}
}

func TestUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		u := uuid()
		if !re.MatchString(u) || seen[u] {
			t.Fatalf("uuid %q: not a fresh version-4 UUID", u)
		}
		seen[u] = true
	}
}

func TestFeederSequentialAndCSVRows(t *testing.T) {
	f := &feeder{lo: 5, hi: 7, sequential: true}
	var got []any
	for range 4 {
		got = append(got, f.value())
	}
	if want := []any{int64(5), int64(6), int64(7), int64(5)}; !equalAny(got, want) {
		t.Errorf("sequential range gave %v, want %v", got, want)
	}
	r := &feeder{lo: 1, hi: 3}
	for range 1000 {
		if v := r.value().(int64); v < 1 || v > 3 {
			t.Fatalf("range 1..3 gave %d", v)
		}
	}
}

func equalAny(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPoolRing(t *testing.T) {
	p := newPool("ids", 3)
	if _, ok := p.pick(); ok {
		t.Fatal("empty pool picked a value")
	}
	for _, v := range []string{"a", "b", "c", "d", "e"} {
		p.add(v)
	}
	if p.size() != 3 {
		t.Errorf("size %d, want the bound 3", p.size())
	}
	seen := map[string]bool{}
	for range 300 {
		v, _ := p.pick()
		seen[v] = true
	}
	if len(seen) != 3 || seen["a"] || seen["b"] {
		t.Errorf("picked %v, want only the 3 newest values c, d, e", seen)
	}
}

func TestRenderEscaping(t *testing.T) {
	sc, data := testScope()
	data["status"] = "a b&c/é"
	path, _ := compileText("/s/{{ .status }}", sc)
	q, _ := compileText("{{ .status }}", sc)
	tk := &task{path: path, query: []param{{key: []byte("q x"), val: q}}}
	got, err := tk.renderURI(nil, data)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/s/a%20b&c/%C3%A9?q+x=a+b%26c%2F%C3%A9"; string(got) != want {
		t.Errorf("uri %q, want %q", got, want)
	}
	if got := appendJSONString(nil, []byte("a\"b\\c\n\x01é")); string(got) != `"a\"b\\c\n\u0001é"` {
		t.Errorf("json string %s", got)
	}
}
