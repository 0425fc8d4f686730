package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// JUnit XML, as Jenkins, GitLab and GitHub test reporters read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Class   string        `xml:"classname,attr"`
	Name    string        `xml:"name,attr"`
	Time    string        `xml:"time,attr"`
	Failure *junitProblem `xml:"failure,omitempty"`
	Error   *junitProblem `xml:"error,omitempty"`
	Out     string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// WriteJUnit writes the run as a JUnit test suite: one test case per SLA
// objective (class "sla.<SLA name>"; a breach is a failure whose message
// names the SLA and the figures), one per scenario for load delivery
// (class "delivery"), and one error case when the run was interrupted.
func WriteJUnit(w io.Writer, r *Run) error {
	dur := r.End.Sub(r.Start)
	s := junitSuite{
		Name: "loadd run " + r.Name, Time: seconds(dur), Timestamp: r.Start.UTC().Format(time.RFC3339),
		Properties: []junitProperty{
			{"run_id", r.ID}, {"schedule", r.Name}, {"result", r.Result},
			{"planned_seconds", seconds(r.Planned)}, {"valid", strconv.FormatBool(r.Verdict.Valid)},
		},
	}
	for _, c := range r.Verdict.Checks {
		tc := junitCase{Class: "sla." + c.SLA, Name: c.Objective.String(), Time: seconds(dur), Out: c.Message}
		if !c.Passed {
			tc.Failure = &junitProblem{Message: c.Message, Type: "SLABreach", Text: c.Message}
		}
		s.Cases = append(s.Cases, tc)
	}
	for _, d := range r.Deliveries {
		tc := junitCase{Class: "delivery", Name: d.Scenario + ": load delivered", Time: seconds(dur)}
		for _, why := range r.Verdict.Invalid {
			if strings.HasPrefix(why, d.Scenario+":") {
				tc.Failure = &junitProblem{Message: why, Type: "LoadNotDelivered", Text: why}
			}
		}
		if tc.Failure == nil {
			tc.Out = fmt.Sprintf("completed %d of %.0f arrivals asked for, %d dropped", d.Completed, d.Expected, d.Dropped)
		}
		s.Cases = append(s.Cases, tc)
	}
	if r.Interrupted {
		msg := fmt.Sprintf("run interrupted after %s of %s: the verdict covers a partial run", dur.Round(time.Second), r.Planned)
		s.Cases = append(s.Cases, junitCase{Class: "run", Name: "run completed", Time: seconds(dur),
			Error: &junitProblem{Message: msg, Type: "Interrupted", Text: msg}})
	}
	for _, c := range s.Cases {
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
		if c.Error != nil {
			s.Errors++
		}
	}
	doc := junitSuites{Name: "loadd", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
