package e2e

// The alerting half of the end-to-end stack: Debian's Alertmanager routing
// every alert to a webhook receiver run inside the test, and a Prometheus
// that scrapes loadd every second, evaluates the compressed shipped rules
// every second and sends its alerts to that Alertmanager.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadd/loadd/internal/tooltest"
)

// notification is one alert as Alertmanager delivered it to the webhook.
type notification struct {
	At          time.Time
	Status      string // "firing" or "resolved"
	Labels      map[string]string
	Annotations map[string]string
}

func (n notification) String() string {
	return fmt.Sprintf("%s %s %v", n.Status, n.Labels["alertname"], n.Labels)
}

// webhook is an Alertmanager webhook receiver that records every alert of
// every notification it gets.
type webhook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []notification
}

// startWebhook starts the receiver on 127.0.0.1; it stops when the test ends.
func startWebhook(t testing.TB) *webhook {
	t.Helper()
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.srv.Close)
	return w
}

// URL is where Alertmanager posts.
func (w *webhook) URL() string { return w.srv.URL + "/alerts" }

func (w *webhook) serve(rw http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []struct {
			Status      string            `json:"status"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range msg.Alerts {
		w.got = append(w.got, notification{At: now, Status: a.Status, Labels: a.Labels, Annotations: a.Annotations})
	}
}

// since returns the alerts delivered at or after t0.
func (w *webhook) since(t0 time.Time) []notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []notification
	for _, n := range w.got {
		if !n.At.Before(t0) {
			out = append(out, n)
		}
	}
	return out
}

// wait waits until an alert delivered at or after t0 has status and every
// label of match, and returns the first such alert.
func (w *webhook) wait(t testing.TB, t0 time.Time, timeout time.Duration, status string, match map[string]string) notification {
	t.Helper()
	var found notification
	Eventually(t, timeout, func() error {
		got := w.since(t0)
		for _, n := range got {
			if n.Status == status && labelsMatch(n.Labels, match) {
				found = n
				return nil
			}
		}
		return fmt.Errorf("no %s alert %v delivered; got %v", status, match, got)
	})
	return found
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// startAlertmanager starts Debian's Alertmanager on a free loopback port,
// without clustering, routing every alert in a group of its own to hook
// (group_wait 1s, group_interval 2s, resolved alerts sent too), and waits
// until it is ready. It returns its address.
func startAlertmanager(t testing.TB, hook string) string {
	t.Helper()
	bin := tooltest.Path(t, "prometheus-alertmanager", "alertmanager")
	cfg := WriteFile(t, "alertmanager.yml", fmt.Sprintf(`route:
  receiver: webhook
  group_by: ['...']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: %s
        send_resolved: true
`, hook))
	addr := FreeAddr(t)
	Start(t, bin, "--config.file="+cfg, "--storage.path="+t.TempDir(),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	WaitHTTP(t, "http://"+addr+"/-/ready", 30*time.Second)
	return addr
}

// alertingConfig is a prometheus.yml: scrape and evaluate every second,
// load rules, scrape loadd at loaddAddr as job "loadd" and send alerts to
// the Alertmanager at amAddr (none when empty).
func alertingConfig(loaddAddr, amAddr string, rules []string) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "  - '%s'\n", r)
	}
	if amAddr != "" {
		fmt.Fprintf(&b, "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['%s']\n", amAddr)
	}
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: loadd\n    static_configs:\n      - targets: ['%s']\n", loaddAddr)
	return b.String()
}

// waitRules waits until prom has loaded want rules and evaluated each at
// least once without error.
func waitRules(t testing.TB, prom *Prometheus, want int) {
	t.Helper()
	Eventually(t, 30*time.Second, func() error {
		var r struct {
			Data struct {
				Groups []struct {
					Name  string `json:"name"`
					Rules []struct {
						Name           string `json:"name"`
						Health         string `json:"health"`
						LastError      string `json:"lastError"`
						LastEvaluation string `json:"lastEvaluation"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := pollJSON(prom.URL+"/api/v1/rules", &r); err != nil {
			return err
		}
		n := 0
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				if rule.Health == "err" {
					t.Fatalf("rule %s of %s fails: %s", rule.Name, g.Name, rule.LastError)
				}
				if rule.Health != "ok" {
					return fmt.Errorf("rule %s of %s not evaluated yet", rule.Name, g.Name)
				}
				n++
			}
		}
		if n != want {
			return fmt.Errorf("%d rules loaded and evaluated, want %d", n, want)
		}
		return nil
	})
}

// waitAlertmanagerFound waits until prom has discovered the Alertmanager.
func waitAlertmanagerFound(t testing.TB, prom *Prometheus, amAddr string) {
	t.Helper()
	Eventually(t, 20*time.Second, func() error {
		var r struct {
			Data struct {
				Active []struct {
					URL string `json:"url"`
				} `json:"activeAlertmanagers"`
			} `json:"data"`
		}
		if err := pollJSON(prom.URL+"/api/v1/alertmanagers", &r); err != nil {
			return err
		}
		if len(r.Data.Active) != 1 || !strings.Contains(r.Data.Active[0].URL, amAddr) {
			return fmt.Errorf("active Alertmanagers: %+v", r.Data.Active)
		}
		return nil
	})
}

// pollJSON is GetJSON returning its error, for polling.
func pollJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// firingAlerts returns the alerts prom has firing right now, as "name{labels}".
func firingAlerts(t testing.TB, prom *Prometheus) []string {
	t.Helper()
	var out []string
	for _, s := range prom.Query(t, `ALERTS{alertstate="firing"}`) {
		out = append(out, s.Metric.String())
	}
	return out
}
