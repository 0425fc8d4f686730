package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type encounterPage struct {
	Items    []encounter `json:"items"`
	Page     int         `json:"page"`
	PageSize int         `json:"page_size"`
	Total    int         `json:"total"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestEncounterCreateListGet(t *testing.T) {
	f := newFixture(t, Options{Encounters: 30})
	tok := f.login("physician", "physician-password")

	code, b := f.do("GET", "/encounters?page=1&page_size=20&status=active", tok, nil)
	page := decode[encounterPage](t, b)
	if code != 200 || page.Total != 10 || len(page.Items) != 10 || page.PageSize != 20 {
		t.Fatalf("list active: %d total=%d items=%d, want 200, 10, 10", code, page.Total, len(page.Items))
	}
	for _, e := range page.Items {
		if e.Status != "active" || !strings.HasPrefix(e.ID, "enc-") {
			t.Errorf("item %+v: want status active and an enc- id", e)
		}
	}

	code, b = f.do("POST", "/encounters", tok, map[string]string{
		"patient_mrn": "MRN-4242", "encounter_type": "office_visit", "chief_complaint": "Follow-up visit"})
	created := decode[encounter](t, b)
	if code != http.StatusCreated || created.ID == "" || created.Status != "active" || created.Provider != "physician" {
		t.Fatalf("create: %d %s", code, b)
	}

	code, b = f.do("GET", "/encounters/"+created.ID, tok, nil)
	if got := decode[encounter](t, b); code != 200 || got.PatientMRN != "MRN-4242" {
		t.Errorf("get %s: %d %s", created.ID, code, b)
	}
	if code, b := f.do("GET", "/soap/"+created.ID, tok, nil); code != 200 || !strings.Contains(string(b), "follow-up visit") {
		t.Errorf("soap %s: %d %s", created.ID, code, b)
	}
	for _, p := range []string{"/encounters/enc-nope", "/soap/enc-nope"} {
		if code, _ := f.do("GET", p, tok, nil); code != 404 {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}

	// Newest first: the created one heads page 1 of all encounters.
	_, b = f.do("GET", "/encounters?page_size=5", tok, nil)
	if page := decode[encounterPage](t, b); page.Total != 31 || page.Items[0].ID != created.ID {
		t.Errorf("list all: total %d first %q, want 31 and %s", page.Total, page.Items[0].ID, created.ID)
	}
}

func TestEncounterPagination(t *testing.T) {
	f := newFixture(t, Options{Encounters: 25})
	tok := f.login("physician", "physician-password")
	seen := map[string]bool{}
	for p := 1; p <= 4; p++ {
		_, b := f.do("GET", fmt.Sprintf("/encounters?page=%d&page_size=7", p), tok, nil)
		page := decode[encounterPage](t, b)
		want := min(7, max(25-(p-1)*7, 0))
		if len(page.Items) != want || page.Total != 25 {
			t.Errorf("page %d: %d items total %d, want %d and 25", p, len(page.Items), page.Total, want)
		}
		for _, e := range page.Items {
			if seen[e.ID] {
				t.Errorf("page %d repeats %s", p, e.ID)
			}
			seen[e.ID] = true
		}
	}
	if len(seen) != 25 {
		t.Errorf("pages covered %d encounters, want 25", len(seen))
	}
}

func TestEncounterStoreBounded(t *testing.T) {
	f := newFixture(t, Options{Encounters: 5, MaxEncounters: 5})
	tok := f.login("physician", "physician-password")
	var last string
	for i := range 7 {
		_, b := f.do("POST", "/encounters", tok, map[string]string{
			"patient_mrn": fmt.Sprintf("MRN-%d", i), "encounter_type": "telehealth", "chief_complaint": "x", "status": "closed"})
		last = decode[encounter](t, b).ID
	}
	_, b := f.do("GET", "/encounters", tok, nil)
	if page := decode[encounterPage](t, b); page.Total != 5 || page.Items[0].ID != last {
		t.Errorf("after 7 creates over a cap of 5: total %d first %s, want 5 and %s", page.Total, page.Items[0].ID, last)
	}
	if code, _ := f.do("GET", "/encounters/enc-000001", tok, nil); code != 404 {
		t.Errorf("oldest encounter: %d, want 404 (evicted)", code)
	}
	_, b = f.do("GET", "/encounters?status=closed", tok, nil)
	if page := decode[encounterPage](t, b); page.Total != 5 {
		t.Errorf("closed total %d, want 5 (status counts follow eviction)", page.Total)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, Options{})
	tok := f.login("physician", "physician-password")
	tests := []struct {
		method, path string
		body         any
		want         string
	}{
		{"GET", "/encounters?page=0", nil, `page: "0" must be an integer from 1`},
		{"GET", "/encounters?page_size=1000", nil, `page_size: "1000" must be an integer from 1 to 100`},
		{"GET", "/encounters?status=open", nil, `status: "open" must be one of active, closed, pending`},
		{"POST", "/encounters", map[string]string{"encounter_type": "office_visit", "chief_complaint": "x"}, "patient_mrn: required"},
		{"POST", "/encounters", map[string]string{"patient_mrn": "M", "encounter_type": "spa", "chief_complaint": "x"}, `encounter_type: "spa" must be one of`},
		{"POST", "/encounters", map[string]string{"patient_mrn": "M", "encounter_type": "telehealth", "chief_complaint": "x", "colour": "red"}, `unknown field "colour"`},
		{"GET", "/dashboard/metrics?period=year", nil, `period: "year" must be day, week or month`},
		{"GET", "/patients/search?limit=5", nil, "q: required"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, b := f.do(tc.method, tc.path, tok, tc.body)
			if msg := decode[struct{ Error string }](t, b).Error; code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
				t.Errorf("%d %q, want 400 containing %q", code, msg, tc.want)
			}
		})
	}
}

func TestSearchAndDashboard(t *testing.T) {
	f := newFixture(t, Options{Encounters: 12})
	tok := f.login("physician", "physician-password")
	_, b := f.do("GET", "/patients/search?q=John&limit=10", tok, nil)
	res := decode[struct {
		Items []patient `json:"items"`
		Total int       `json:"total"`
	}](t, b)
	// "John" matches the first names John and Johnny (80 patients) and the
	// surname Johnson (10), two patients being both.
	if len(res.Items) != 10 || res.Total != 88 {
		t.Errorf("search John: %d items, total %d; want 10 and 88", len(res.Items), res.Total)
	}
	for _, p := range res.Items {
		if !strings.Contains(strings.ToLower(p.Name), "john") {
			t.Errorf("search John returned %+v", p)
		}
	}
	_, b = f.do("GET", "/dashboard/metrics?period=day", tok, nil)
	dash := decode[struct {
		Total  int            `json:"encounters_total"`
		Status map[string]int `json:"encounters_status"`
	}](t, b)
	if dash.Total != 12 || dash.Status["active"] != 4 {
		t.Errorf("dashboard %s: want 12 encounters, 4 active", b)
	}
}

func TestTokenStoreBounded(t *testing.T) {
	s := newTokenStore(3)
	now := time.Unix(1000, 0)
	var toks []string
	for range 5 {
		toks = append(toks, s.issue(identity{User: "u"}, now, now.Add(time.Hour)))
	}
	if n := s.live(); n != 3 {
		t.Errorf("%d tokens held, want the cap of 3", n)
	}
	if _, ok := s.lookup(toks[4], now); !ok {
		t.Error("newest token evicted")
	}
	// Expired tokens go first once the store is full.
	later := now.Add(2 * time.Hour)
	fresh := s.issue(identity{User: "v"}, later, later.Add(time.Hour))
	if n := s.live(); n != 1 {
		t.Errorf("%d tokens after sweeping expired ones, want 1", n)
	}
	if who, ok := s.lookup(fresh, later); !ok || who.User != "v" {
		t.Errorf("fresh token lookup = %+v %v", who, ok)
	}
}

// BenchmarkRoutes measures the in-process cost of the busiest routes
// (no network): what the target adds per request on top of net/http.
func BenchmarkRoutes(b *testing.B) {
	tg, err := NewTarget(Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	tok := tg.tokens.issue(identity{User: "physician", Role: roleClinician}, time.Now(), time.Now().Add(time.Hour))
	h := tg.Handler()
	for _, path := range []string{"/encounters?page=1&page_size=20&status=active", "/encounters/enc-000500", "/patients/search?q=John&limit=10"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
