package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// route is one API endpoint. Its name keys faults and stats and matches the
// task name the demo config gives the request (loadd's task label).
type route struct {
	name    string
	pattern string
	role    string // "" public, roleClinician any user, roleAdmin admins only
	handle  func(t *Target, w http.ResponseWriter, r *http.Request, who identity)
}

// routes is the API. Every route but auth_token needs a bearer token.
var routes = []route{
	{"auth_token", "POST /auth/token", "", (*Target).handleToken},
	{"list_encounters", "GET /encounters", roleClinician, (*Target).handleListEncounters},
	{"create_encounter", "POST /encounters", roleClinician, (*Target).handleCreateEncounter},
	{"view_encounter", "GET /encounters/{id}", roleClinician, (*Target).handleGetEncounter},
	{"view_soap_note", "GET /soap/{id}", roleClinician, (*Target).handleSOAP},
	{"dashboard_metrics", "GET /dashboard/metrics", roleClinician, (*Target).handleDashboard},
	{"search_patients", "GET /patients/search", roleClinician, (*Target).handleSearch},
	{"admin_dashboard", "GET /admin/dashboard", roleAdmin, (*Target).handleAdminDashboard},
	{"audit_logs", "GET /admin/audit/logs", roleAdmin, (*Target).handleAuditLogs},
}

// RouteNames returns the names of the API routes, the keys of Stats and of
// the fault table (besides AllRoutes).
func RouteNames() []string { return routeNames() }

func routeNames() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.name
	}
	return out
}

// maxBody bounds request bodies.
const maxBody = 64 << 10

// authorize checks the bearer token against the route's role; on failure it
// writes 401 or 403 and returns false.
func (t *Target) authorize(w http.ResponseWriter, r *http.Request, role string) (identity, bool) {
	if role == "" {
		return identity{}, true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token")
		return identity{}, false
	}
	who, ok := t.tokens.lookup(tok, t.now())
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid or expired token")
		return identity{}, false
	}
	if role == roleAdmin && who.Role != roleAdmin {
		writeError(w, http.StatusForbidden, "admin role required")
		return identity{}, false
	}
	return who, true
}

type tokenRequest struct {
	GrantType string `json:"grant_type"`
	Username  string `json:"username"`
	Password  string `json:"password"`
	TenantID  string `json:"tenant_id"`
}

func (t *Target) handleToken(w http.ResponseWriter, r *http.Request, _ identity) {
	var req tokenRequest // lenient: clients may add scope, client_id…
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	if req.GrantType != "password" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	role, ok := t.checkPassword(req.Username, req.Password)
	now := t.now()
	if !ok {
		t.audit.add(auditEntry{Time: now, User: req.Username, Tenant: req.TenantID, Action: "login_failed"})
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_grant"})
		return
	}
	who := identity{User: req.Username, Role: role, Tenant: req.TenantID}
	tok := t.tokens.issue(who, now, now.Add(t.opts.TokenTTL))
	t.audit.add(auditEntry{Time: now, User: who.User, Tenant: who.Tenant, Action: "login"})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(math.Ceil(t.opts.TokenTTL.Seconds())),
	})
}

// checkPassword returns the role of a built-in user whose password matches.
func (t *Target) checkPassword(user, password string) (string, bool) {
	switch user {
	case "physician":
		return roleClinician, password == t.opts.PhysicianPassword
	case "admin":
		return roleAdmin, password == t.opts.AdminPassword
	}
	return "", false
}

func (t *Target) handleListEncounters(w http.ResponseWriter, r *http.Request, _ identity) {
	q := r.URL.Query()
	page, err1 := intParam(q.Get("page"), "page", 1, 1, math.MaxInt32)
	size, err2 := intParam(q.Get("page_size"), "page_size", 20, 1, 100)
	status := q.Get("status")
	var err3 error
	if status != "" && !slices.Contains(encounterStatuses, status) {
		err3 = fmt.Errorf("status: %q must be one of %s", status, strings.Join(encounterStatuses, ", "))
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	items, total := t.encounters.list(status, page, size)
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "page": page, "page_size": size, "total": total})
}

type createEncounter struct {
	PatientMRN     string `json:"patient_mrn"`
	EncounterType  string `json:"encounter_type"`
	ChiefComplaint string `json:"chief_complaint"`
	Status         string `json:"status"`
}

func (c createEncounter) validate() error {
	var errs []error
	if c.PatientMRN == "" || len(c.PatientMRN) > 64 {
		errs = append(errs, errors.New("patient_mrn: required, at most 64 characters"))
	}
	if !slices.Contains(encounterTypes, c.EncounterType) {
		errs = append(errs, fmt.Errorf("encounter_type: %q must be one of %s", c.EncounterType, strings.Join(encounterTypes, ", ")))
	}
	if c.ChiefComplaint == "" || len(c.ChiefComplaint) > 500 {
		errs = append(errs, errors.New("chief_complaint: required, at most 500 characters"))
	}
	if c.Status != "" && !slices.Contains(encounterStatuses, c.Status) {
		errs = append(errs, fmt.Errorf("status: %q must be one of %s", c.Status, strings.Join(encounterStatuses, ", ")))
	}
	return errors.Join(errs...)
}

func (t *Target) handleCreateEncounter(w http.ResponseWriter, r *http.Request, who identity) {
	var req createEncounter
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := req.validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Status == "" {
		req.Status = "active"
	}
	now := t.now()
	e := t.encounters.add(encounter{
		PatientMRN: req.PatientMRN, EncounterType: req.EncounterType, ChiefComplaint: req.ChiefComplaint,
		Status: req.Status, Provider: who.User, CreatedAt: now,
	})
	t.audit.add(auditEntry{Time: now, User: who.User, Tenant: who.Tenant, Action: "create_encounter", Detail: e.ID})
	w.Header().Set("Location", "/encounters/"+e.ID)
	writeJSON(w, http.StatusCreated, e)
}

func (t *Target) handleGetEncounter(w http.ResponseWriter, r *http.Request, _ identity) {
	e, ok := t.encounters.get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such encounter")
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (t *Target) handleSOAP(w http.ResponseWriter, r *http.Request, _ identity) {
	e, ok := t.encounters.get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such encounter")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"encounter_id": e.ID,
		"subjective":   "Patient reports: " + strings.ToLower(e.ChiefComplaint) + ".",
		"objective":    "Vitals within normal limits.",
		"assessment":   "Stable; " + strings.ReplaceAll(e.EncounterType, "_", " ") + ".",
		"plan":         "Continue current management; follow up in 2 weeks.",
		"signed_by":    e.Provider,
		"created_at":   e.CreatedAt,
	})
}

// periods are the windows /dashboard/metrics reports on.
var periods = map[string]time.Duration{"day": 24 * time.Hour, "week": 7 * 24 * time.Hour, "month": 30 * 24 * time.Hour}

func (t *Target) handleDashboard(w http.ResponseWriter, r *http.Request, _ identity) {
	period := r.URL.Query().Get("period")
	if period == "" {
		period = "day"
	}
	if _, ok := periods[period]; !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("period: %q must be day, week or month", period))
		return
	}
	total, byStatus := t.encounters.counts()
	writeJSON(w, http.StatusOK, map[string]any{
		"period":            period,
		"encounters_total":  total,
		"encounters_status": byStatus,
		"active_sessions":   t.tokens.live(),
	})
}

func (t *Target) handleSearch(w http.ResponseWriter, r *http.Request, _ identity) {
	q := r.URL.Query()
	text := q.Get("q")
	limit, err := intParam(q.Get("limit"), "limit", 10, 1, 100)
	if text == "" {
		err = errors.Join(err, errors.New("q: required"))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	items, total := searchPatients(t.patients, text, limit)
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "total": total})
}

func (t *Target) handleAdminDashboard(w http.ResponseWriter, _ *http.Request, _ identity) {
	total, byStatus := t.encounters.counts()
	writeJSON(w, http.StatusOK, map[string]any{
		"uptime_seconds":    int(t.now().Sub(t.start).Seconds()),
		"active_sessions":   t.tokens.live(),
		"encounters_total":  total,
		"encounters_status": byStatus,
		"requests":          t.Stats(),
	})
}

func (t *Target) handleAuditLogs(w http.ResponseWriter, r *http.Request, _ identity) {
	q := r.URL.Query()
	limit, err1 := intParam(q.Get("limit"), "limit", 100, 1, auditCap)
	days, err2 := intParam(q.Get("days"), "days", 1, 1, 90)
	if err := errors.Join(err1, err2); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	items := t.audit.recent(t.now().Add(-time.Duration(days)*24*time.Hour), limit)
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "days": days})
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(s, name string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return def, fmt.Errorf("%s: %q must be an integer from %d to %d", name, s, lo, hi)
	}
	return v, nil
}

// readBody reads a bounded request body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return b, nil
}

// decodeJSON decodes a bounded JSON body strictly into v.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
