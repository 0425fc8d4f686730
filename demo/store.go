package demo

import (
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Roles of the built-in users.
const (
	roleClinician = "clinician"
	roleAdmin     = "admin"
)

// identity is who a bearer token belongs to.
type identity struct {
	User   string
	Role   string
	Tenant string
}

type tokenEntry struct {
	who     identity
	expires time.Time
}

// tokenStore holds live access tokens, bounded: when full, expired tokens
// are swept, then arbitrary ones evicted (their users get 401 and log in
// again, as real clients must).
type tokenStore struct {
	max int

	mu        sync.RWMutex
	m         map[string]tokenEntry
	lastSweep time.Time
}

func newTokenStore(max int) *tokenStore {
	return &tokenStore{max: max, m: map[string]tokenEntry{}}
}

// issue stores a new random token for who, valid until expires.
func (s *tokenStore) issue(who identity, now, expires time.Time) string {
	tok := rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Sweep expired tokens at most once per minute, and whenever full.
	if len(s.m) >= s.max || now.Sub(s.lastSweep) > time.Minute {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
		s.lastSweep = now
	}
	for k := range s.m {
		if len(s.m) < s.max {
			break
		}
		delete(s.m, k)
	}
	s.m[tok] = tokenEntry{who: who, expires: expires}
	return tok
}

// lookup returns the identity of a token that has not expired at now.
func (s *tokenStore) lookup(tok string, now time.Time) (identity, bool) {
	s.mu.RLock()
	e, ok := s.m[tok]
	s.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return identity{}, false
	}
	return e.who, true
}

// live returns the number of tokens held (some may have expired).
func (s *tokenStore) live() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// Encounter statuses and types.
var (
	encounterStatuses = []string{"active", "closed", "pending"}
	encounterTypes    = []string{"office_visit", "telehealth", "follow_up", "emergency", "inpatient"}
)

// encounter is one patient encounter. Encounters never change once stored.
type encounter struct {
	ID             string    `json:"id"`
	PatientMRN     string    `json:"patient_mrn"`
	EncounterType  string    `json:"encounter_type"`
	ChiefComplaint string    `json:"chief_complaint"`
	Status         string    `json:"status"`
	Provider       string    `json:"provider"`
	CreatedAt      time.Time `json:"created_at"`
}

// encounterStore is a bounded, newest-first store: a ring of encounters
// plus an index by ID and a count per status, so a page of one status
// scans only as far as the page reaches.
type encounterStore struct {
	mu       sync.RWMutex
	ring     []*encounter // ring[(head-1) mod cap] is the newest
	head     int
	n        int
	byID     map[string]*encounter
	byStatus map[string]int
	seq      uint64
}

func newEncounterStore(max int) *encounterStore {
	return &encounterStore{ring: make([]*encounter, max), byID: map[string]*encounter{}, byStatus: map[string]int{}}
}

var complaints = []string{"Follow-up visit", "Chest pain", "Headache", "Annual physical", "Shortness of breath", "Back pain"}

// seed adds n deterministic encounters created over the day before now.
func (s *encounterStore) seed(n int, now time.Time) {
	for i := range n {
		s.add(encounter{
			PatientMRN:     fmt.Sprintf("MRN-%04d", 1000+i%9000),
			EncounterType:  encounterTypes[i%len(encounterTypes)],
			ChiefComplaint: complaints[i%len(complaints)],
			Status:         encounterStatuses[i%len(encounterStatuses)],
			CreatedAt:      now.Add(-time.Duration(n-i) * 24 * time.Hour / time.Duration(n)),
		})
	}
}

// add stores e with a fresh ID, evicting the oldest encounter when full.
func (s *encounterStore) add(e encounter) *encounter {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	e.ID = fmt.Sprintf("enc-%06d", s.seq)
	if e.Provider == "" {
		e.Provider = fmt.Sprintf("dr-%02d", s.seq%20)
	}
	if old := s.ring[s.head]; old != nil {
		delete(s.byID, old.ID)
		s.byStatus[old.Status]--
	} else {
		s.n++
	}
	p := &e
	s.ring[s.head] = p
	s.head = (s.head + 1) % len(s.ring)
	s.byID[e.ID] = p
	s.byStatus[e.Status]++
	return p
}

func (s *encounterStore) get(id string) (*encounter, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.byID[id]
	return e, ok
}

// list returns page (from 1) of size newest-first encounters with status
// (all when ""), and how many there are in total.
func (s *encounterStore) list(status string, page, size int) ([]*encounter, int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	total := s.n
	if status != "" {
		total = s.byStatus[status]
	}
	skip := (page - 1) * size
	items := make([]*encounter, 0, min(size, max(total-skip, 0)))
	if skip >= total {
		return items, total
	}
	for i := 1; i <= s.n && len(items) < size; i++ {
		e := s.ring[(s.head-i+len(s.ring))%len(s.ring)]
		if status != "" && e.Status != status {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		items = append(items, e)
	}
	return items, total
}

// counts returns the number of encounters, in total and per status.
func (s *encounterStore) counts() (int, map[string]int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	by := make(map[string]int, len(s.byStatus))
	for k, v := range s.byStatus {
		by[k] = v
	}
	return s.n, by
}

// patient is a searchable patient record.
type patient struct {
	MRN  string `json:"mrn"`
	Name string `json:"name"`
	Born string `json:"date_of_birth"`
	key  string // lower-case name and MRN, for search
}

// seedPatients makes 400 deterministic patients from name lists.
func seedPatients() []patient {
	first := []string{"John", "Mary", "Ahmed", "Li", "Sofia", "James", "Aisha", "Carlos", "Emma", "Johnny"}
	last := []string{"Smith", "Johnson", "Garcia", "Chen", "Okafor", "Müller", "Rossi", "Nguyen", "Kowalski", "Silva",
		"Brown", "Dubois", "Tanaka", "Haddad", "Jensen", "Novak", "Costa", "Walsh", "Ivanova", "Patel",
		"Lopez", "Kim", "Singh", "Jones", "Ali", "Martin", "Evans", "Khan", "Moreau", "Sato",
		"Olsen", "Rahman", "Fischer", "Clarke", "Mendes", "Park", "Hughes", "Ward", "Reyes", "Becker"}
	out := make([]patient, 0, len(first)*len(last))
	for i, l := range last {
		for j, f := range first {
			n := i*len(first) + j
			p := patient{
				MRN:  fmt.Sprintf("MRN-%04d", 1000+n),
				Name: f + " " + l,
				Born: fmt.Sprintf("%d-%02d-%02d", 1940+n%60, 1+n%12, 1+n%28),
			}
			p.key = strings.ToLower(p.Name + "\x00" + p.MRN)
			out = append(out, p)
		}
	}
	return out
}

// searchPatients returns up to limit patients whose name or MRN contains q
// (case-insensitive), and how many match in all.
func searchPatients(all []patient, q string, limit int) ([]patient, int) {
	q = strings.ToLower(q)
	items := make([]patient, 0, limit)
	total := 0
	for _, p := range all {
		if strings.Contains(p.key, q) {
			total++
			if len(items) < limit {
				items = append(items, p)
			}
		}
	}
	return items, total
}

// auditCap is how many audit entries are kept.
const auditCap = 1000

// auditEntry is one audited action.
type auditEntry struct {
	Time   time.Time `json:"time"`
	User   string    `json:"user"`
	Tenant string    `json:"tenant_id,omitempty"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

// auditLog keeps the most recent entries in a ring.
type auditLog struct {
	mu   sync.Mutex
	ring []auditEntry
	next int
	full bool
}

func newAuditLog(n int) *auditLog { return &auditLog{ring: make([]auditEntry, n)} }

func (a *auditLog) add(e auditEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ring[a.next] = e
	a.next = (a.next + 1) % len(a.ring)
	a.full = a.full || a.next == 0
}

// recent returns up to limit entries not older than since, newest first.
func (a *auditLog) recent(since time.Time, limit int) []auditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.next
	if a.full {
		n = len(a.ring)
	}
	out := make([]auditEntry, 0, min(limit, n))
	for i := 1; i <= n && len(out) < limit; i++ {
		e := a.ring[(a.next-i+len(a.ring))%len(a.ring)]
		if e.Time.Before(since) {
			break
		}
		out = append(out, e)
	}
	return out
}
