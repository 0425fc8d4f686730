package deploy_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// dockerStage is one FROM … stage of a Dockerfile, its instructions with
// continuation lines joined.
type dockerStage struct {
	from  string
	lines []string
}

func parseDockerfile(s string) []dockerStage {
	var stages []dockerStage
	s = strings.ReplaceAll(s, "\\\n", " ")
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f, ok := strings.CutPrefix(line, "FROM "); ok {
			stages = append(stages, dockerStage{from: strings.TrimSpace(f)})
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, strings.Join(strings.Fields(line), " "))
		}
	}
	return stages
}

func (s dockerStage) find(prefix string) []string {
	var out []string
	for _, l := range s.lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// checkDockerfile returns what is wrong with loadd's Dockerfile; goVersion
// is go.mod's go line, which the build image must carry.
func checkDockerfile(s, goVersion string) []string {
	stages := parseDockerfile(s)
	if len(stages) < 2 {
		return []string{"multi-stage build"}
	}
	var bad []string
	expect := func(ok bool, what string) {
		if !ok {
			bad = append(bad, what)
		}
	}
	build, final := stages[0], stages[len(stages)-1]
	expect(strings.HasPrefix(build.from, "golang:"+goVersion), "build stage FROM golang:"+goVersion)
	built := false
	for _, r := range build.find("RUN ") {
		if strings.Contains(r, "CGO_ENABLED=0 go build") && strings.HasSuffix(r, "./cmd/loadd") {
			built = true
		}
	}
	expect(built, "RUN CGO_ENABLED=0 go build … ./cmd/loadd")
	expect(regexp.MustCompile(`^gcr\.io/distroless/static[-\w]*:nonroot$`).MatchString(final.from), "final stage FROM distroless/static…:nonroot")
	expect(strings.Join(final.find("USER "), ",") == "USER nonroot:nonroot", "final USER nonroot")
	expect(len(final.find("COPY --from=")) == 1, "final stage copies the binary from the build")
	expect(strings.Join(final.find("EXPOSE "), ",") == "EXPOSE 9470", "EXPOSE 9470")
	expect(strings.Join(final.find("ENTRYPOINT "), ",") == `ENTRYPOINT ["/usr/local/bin/loadd", "run"]`, "ENTRYPOINT loadd run")
	return bad
}

func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("container/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	goVersion := goModVersion(t)
	checkMutations(t, good, func(s string) []string { return checkDockerfile(s, goVersion) }, []mutation{
		{"shipped", "", "", ""},
		{"cgo", "CGO_ENABLED=0", "CGO_ENABLED=1", "CGO_ENABLED=0"},
		{"root", "static-debian12:nonroot", "static-debian12:latest", "nonroot"},
		{"root user", "USER nonroot:nonroot", "USER root", "USER nonroot"},
		{"port", "EXPOSE 9470", "EXPOSE 8080", "EXPOSE 9470"},
		{"old go", "golang:" + goVersion, "golang:1.20", "golang:"},
		{"other package", "./cmd/loadd", "./demo", "./cmd/loadd"},
		{"single stage", "COPY --from=build", "COPY", "copies"},
	})
}

// mutation is one edit of a shipped file and the problem the checker must
// then report ("" for none).
type mutation struct {
	name, from, to, want string
}

// checkMutations applies each mutation to good (from must occur in it)
// and checks that check reports the problem it should, and only then.
func checkMutations(t *testing.T, good string, check func(string) []string, cases []mutation) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			if tc.from != "" {
				if !strings.Contains(s, tc.from) {
					t.Fatalf("the shipped file lacks %q", tc.from)
				}
				s = strings.Replace(s, tc.from, tc.to, 1)
			}
			bad := check(s)
			switch {
			case tc.want == "" && len(bad) > 0:
				t.Errorf("problems: %v", bad)
			case tc.want != "" && !strings.Contains(strings.Join(bad, "\n"), tc.want):
				t.Errorf("problems %v, want one about %s", bad, tc.want)
			}
		})
	}
}
