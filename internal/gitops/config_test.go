package gitops

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func ptr[T any](v T) *T { return &v }

func TestParseConfigExample(t *testing.T) {
	data, err := os.ReadFile("testdata/promobot.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(data)
	if err != nil {
		t.Fatalf("ParseConfig(example): %v", err)
	}
	want := &Config{
		AppsDir: "apps",
		Clusters: map[string]Cluster{
			"https://kubernetes.default.svc":     {InCluster: true},
			"https://staging.k8s.example.com":    {Cluster: "staging"},
			"https://production.k8s.example.com": {Cluster: "production"},
		},
		Apps: map[string]AppOverride{
			"my-api-service-production": {Apply: ptr(false)},
			"legacy-worker":             {Environment: "staging"},
			"old-jobs":                  {AllowMassPrune: true},
		},
		Steps: []PipelineStep{{
			From: "staging", To: "production",
			Gates: Gates{
				RequireHealthy: ptr(true),
				Soak:           Duration(30 * time.Minute),
				Freeze: []FreezeWindow{
					{Cron: "0 18 * * fri", Duration: Duration(62 * time.Hour), Timezone: "Europe/Berlin", Reason: "weekend"},
					{Start: "2025-12-22T00:00", End: "2026-01-05T00:00", Timezone: "Europe/Berlin", Reason: "year-end freeze"},
				},
			},
		}},
		Promoters:     Promoters{Users: []User{{Login: "release-captain", ID: 1234567}}, Teams: []string{"my-org/release-managers"}},
		DriftInterval: Duration(5 * time.Minute),
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(FreezeWindow{})); diff != "" {
		t.Errorf("example config (-want +got):\n%s", diff)
	}
	if got.AllowsMassPrune("legacy-worker") || !got.AllowsMassPrune("old-jobs") || (*Config)(nil).AllowsMassPrune("x") {
		t.Errorf("AllowsMassPrune: legacy-worker %v, old-jobs %v", got.AllowsMassPrune("legacy-worker"), got.AllowsMassPrune("old-jobs"))
	}
	if got.ApplyEnabled("my-api-service-production") || !got.ApplyEnabled("my-api-service-staging") {
		t.Errorf("ApplyEnabled: production should be off, staging on")
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     *Config
		problems []string
	}{
		{name: "empty file", in: "", want: DefaultConfig()},
		{name: "only comments", in: "# nothing yet\n", want: DefaultConfig()},
		{
			name: "defaults kept for unset fields",
			in:   "force: true\nprune:\n  crds: true\n",
			want: &Config{AppsDir: "apps", Force: true, Prune: PruneOptions{CRDs: true}, DriftInterval: Duration(DefaultDriftInterval)},
		},
		{
			name: "days and drift off",
			in:   "driftInterval: 0s\npipeline:\n- from: qa\n  to: prod\n  gates: {soak: 2d}\n",
			want: &Config{AppsDir: "apps", Steps: []PipelineStep{{From: "qa", To: "prod", Gates: Gates{Soak: Duration(48 * time.Hour)}}}},
		},
		{
			name: "destination mapped to an operator cluster",
			in:   "clusters:\n  prod:\n    cluster: production\n",
			want: &Config{AppsDir: "apps", DriftInterval: Duration(DefaultDriftInterval), Clusters: map[string]Cluster{"prod": {Cluster: "production"}}},
		},
		{
			name: "at-prefixed promoters are trimmed",
			in:   "promoters:\n  users: [{login: '@alice', id: 42}]\n  teams: ['@acme/ops']\n",
			want: &Config{AppsDir: "apps", DriftInterval: Duration(DefaultDriftInterval), Promoters: Promoters{Users: []User{{Login: "alice", ID: 42}}, Teams: []string{"acme/ops"}}},
		},
		{
			name: "a promoter without an id is refused",
			in:   "promoters:\n  users: [alice, {login: bob}, {login: carol, id: 7}]\n",
			problems: []string{
				"line 2: promoters.users[0]: alice needs its account id: write {login: alice, id: <id>} (the id is in https://api.github.com/users/alice); a login alone can be registered by someone else after a rename",
				"line 2: promoters.users[1]: bob needs its account id: write {login: bob, id: <id>} (the id is in https://api.github.com/users/bob); a login alone can be registered by someone else after a rename",
			},
		},
		{
			name:     "unknown field in a promoter",
			in:       "promoters:\n  users:\n  - {login: alice, id: 7, team: x}\n",
			problems: []string{`line 3: unknown field "team" in a user (want login and id)`},
		},
		{
			name:     "unknown top-level field with suggestion",
			in:       "appsDir: apps\npipline: []\n",
			problems: []string{`line 2: unknown field "pipline" (did you mean "pipeline"?)`},
		},
		{
			name:     "unknown nested fields all reported",
			in:       "pipeline:\n  - from: staging\n    to: production\n    gates:\n      soke: 30m\n      requireHealty: true\nclusters:\n  https://a.example.com:\n    incluster: true\n",
			problems: []string{`line 5: unknown field "soke" in pipeline[0].gates (did you mean "soak"?)`, `line 6: unknown field "requireHealty" in pipeline[0].gates (did you mean "requireHealthy"?)`, `line 9: unknown field "incluster" in clusters.https://a.example.com (did you mean "inCluster"?)`},
		},
		{
			name:     "unknown field without a close match lists the known ones",
			in:       "render:\n  jsonnet: true\n",
			problems: []string{`line 2: unknown field "jsonnet" in render (known: helm)`},
		},
		{
			name:     "wrong type",
			in:       "force: maybe\n",
			problems: []string{`line 1: "maybe" is not true or false`},
		},
		{
			name:     "bad duration",
			in:       "pipeline:\n- from: a\n  to: b\n  gates:\n    soak: 30 minutes\n",
			problems: []string{`line 5: "30 minutes" is not a duration like 30m, 1h30m or 2d`},
		},
		{
			name:     "duplicate key",
			in:       "force: true\nforce: false\n",
			problems: []string{`line 2: mapping key "force" already defined at line 1`},
		},
		{
			name:     "two documents",
			in:       "force: true\n---\nforce: false\n",
			problems: []string{"only one YAML document is allowed"},
		},
		{
			name: "cluster credentials",
			in:   "clusters:\n  https://a:\n    inCluster: true\n    kubeconfig: {file: /k}\n  https://b: {}\n  https://c:\n    kubeconfigSecret: {namespace: promobot, name: private-key}\n  https://d: {inCluster: true, cluster: prod}\n",
			problems: []string{
				"line 4: clusters.https://a.kubeconfig: a repository cannot name cluster credentials: the operator defines clusters (promobot serve --cluster-kubeconfig or the projects file, --projects-file); map this destination to one with cluster: NAME",
				"line 5: clusters.https://b: set cluster: NAME (one of the operator's clusters) or inCluster: true",
				"line 7: clusters.https://c.kubeconfigSecret: a repository cannot name cluster credentials: the operator defines clusters (promobot serve --cluster-kubeconfig or the projects file, --projects-file); map this destination to one with cluster: NAME",
				"line 8: clusters.https://d: set one of inCluster and cluster, not both",
			},
		},
		{
			name: "pipeline shape",
			in:   "pipeline:\n- {from: staging, to: staging}\n- {from: qa, to: production}\n- {from: qa, to: Prod}\n- {to: dev}\n",
			problems: []string{
				"line 2: pipeline[0]: promotes staging to itself",
				`line 4: pipeline[2].to: "Prod" is not an environment name (lowercase letters, digits and -)`,
				"line 4: pipeline[2].from: qa is already promoted by pipeline[1]; one environment promotes to one next environment",
				"line 5: pipeline[3].from: missing source environment",
			},
		},
		{
			name:     "pipeline cycle",
			in:       "pipeline:\n- {from: a, to: b}\n- {from: b, to: a}\n",
			problems: []string{"line 1: pipeline: environment a promotes back into itself"},
		},
		{
			name: "freeze windows",
			in: "pipeline:\n- from: a\n  to: b\n  gates:\n    freeze:\n" +
				"    - {cron: '0 25 * * *', duration: 1h}\n" +
				"    - {cron: '0 18 * * fri'}\n" +
				"    - {start: '2025-12-24', end: '2025-12-20'}\n" +
				"    - {start: '2025-12-24', end: '2025-12-26', timezone: Mars/Olympus}\n" +
				"    - {cron: '* * * * *', duration: 40d}\n" +
				"    - {reason: nothing}\n",
			problems: []string{
				`line 6: pipeline[0].gates.freeze[0]: cron "0 25 * * *": hour: 25 is outside 0-23`,
				"line 7: pipeline[0].gates.freeze[1]: a cron window needs a duration, e.g. duration: 62h",
				"line 8: pipeline[0].gates.freeze[2]: end 2025-12-20 is not after start 2025-12-24",
				`line 9: pipeline[0].gates.freeze[3]: unknown timezone "Mars/Olympus" (use an IANA name such as Europe/Berlin)`,
				"line 10: pipeline[0].gates.freeze[4]: duration 960h is longer than 744h",
				"line 11: pipeline[0].gates.freeze[5]: set cron and duration, or start and end",
			},
		},
		{
			name: "misc values",
			in:   "appsDir: ../elsewhere\ndriftInterval: 10s\npromoters:\n  users: [not a login]\n  teams: [justateam]\napps:\n  x: {environment: Prod}\n",
			problems: []string{
				`line 1: appsDir: "../elsewhere" is outside the repository`,
				`line 7: apps.x.environment: "Prod" is not an environment name (lowercase letters, digits and -)`,
				`line 4: promoters.users[0]: "not a login" is not a GitHub login`,
				`line 5: promoters.teams[0]: "justateam" is not a team like my-org/release-managers`,
				"line 2: driftInterval: 10s is shorter than 1m (use 0s to turn drift detection off)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tt.in))
			var problems []string
			var ce *ConfigError
			if errors.As(err, &ce) {
				problems = ce.Problems
			} else if err != nil {
				t.Fatalf("error is %T, want *ConfigError: %v", err, err)
			}
			if diff := cmp.Diff(tt.problems, problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(FreezeWindow{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigErrorMessage(t *testing.T) {
	_, err := ParseConfig([]byte("forse: true\nrender: {hlm: true}\n"))
	want := ".promobot.yaml: 2 problems:\n" +
		"  line 1: unknown field \"forse\" (did you mean \"force\"?)\n" +
		"  line 2: unknown field \"hlm\" in render (did you mean \"helm\"?)"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestFreezeWindowActive(t *testing.T) {
	cfg, err := ParseConfig([]byte(`pipeline:
- from: staging
  to: production
  gates:
    freeze:
    - {cron: "0 18 * * fri", duration: 62h, timezone: Europe/Berlin, reason: weekend}
    - {start: "2025-12-22T00:00", end: "2026-01-07T00:00", timezone: Europe/Berlin, reason: year end}
    - {cron: "30 9 1,15 * *", duration: 30m, reason: mid-month}
`))
	if err != nil {
		t.Fatal(err)
	}
	gates := cfg.Steps[0].Gates
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		want string // reason of the active window, "" for none
	}{
		{name: "thursday evening", at: time.Date(2025, 6, 12, 20, 0, 0, 0, berlin), want: ""},
		{name: "friday just before", at: time.Date(2025, 6, 13, 17, 59, 59, 0, berlin), want: ""},
		{name: "friday opening minute", at: time.Date(2025, 6, 13, 18, 0, 0, 0, berlin), want: "weekend"},
		{name: "friday 18:00 in UTC is 16:00", at: time.Date(2025, 6, 13, 16, 30, 0, 0, time.UTC), want: "weekend"},
		{name: "sunday", at: time.Date(2025, 6, 15, 12, 0, 0, 0, berlin), want: "weekend"},
		{name: "monday 07:59", at: time.Date(2025, 6, 16, 7, 59, 0, 0, berlin), want: "weekend"},
		{name: "monday 08:00 reopens", at: time.Date(2025, 6, 16, 8, 0, 0, 0, berlin), want: ""},
		{name: "christmas", at: time.Date(2025, 12, 24, 10, 0, 0, 0, berlin), want: "year end"},
		{name: "end is exclusive", at: time.Date(2026, 1, 7, 0, 0, 0, 0, berlin), want: ""},
		{name: "first of month 09:45 UTC", at: time.Date(2026, 4, 1, 9, 45, 0, 0, time.UTC), want: "mid-month"},
		{name: "second of month 09:45 UTC", at: time.Date(2026, 4, 2, 9, 45, 0, 0, time.UTC), want: ""},
		{name: "fifteenth 09:59 UTC", at: time.Date(2026, 4, 15, 9, 59, 0, 0, time.UTC), want: "mid-month"},
		{name: "fifteenth 10:00 UTC is past the window", at: time.Date(2026, 4, 15, 10, 0, 0, 0, time.UTC), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok := gates.Frozen(tt.at)
			got := ""
			if ok {
				got = w.Reason
			}
			if got != tt.want {
				t.Errorf("Frozen(%s) = %q, want %q", tt.at, got, tt.want)
			}
		})
	}
}

func TestParseCron(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04 Mon", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name    string
		expr    string
		matches []string
		misses  []string
		err     string
	}{
		{name: "every 15 minutes", expr: "*/15 * * * *", matches: []string{"2025-06-13 10:00 Fri", "2025-06-13 10:45 Fri"}, misses: []string{"2025-06-13 10:20 Fri"}},
		{name: "weekday range with names", expr: "0 9-17 * * mon-fri", matches: []string{"2025-06-16 09:00 Mon", "2025-06-20 17:00 Fri"}, misses: []string{"2025-06-21 12:00 Sat", "2025-06-16 18:00 Mon"}},
		{name: "sunday as 7", expr: "0 0 * * 7", matches: []string{"2025-06-15 00:00 Sun"}, misses: []string{"2025-06-14 00:00 Sat"}},
		{name: "day fields OR when both restricted", expr: "0 0 1 * mon", matches: []string{"2025-06-01 00:00 Sun", "2025-06-02 00:00 Mon"}, misses: []string{"2025-06-03 00:00 Tue"}},
		{name: "months", expr: "0 0 * dec *", matches: []string{"2025-12-03 00:00 Wed"}, misses: []string{"2025-11-03 00:00 Mon"}},
		{name: "step from a start", expr: "5/20 * * * *", matches: []string{"2025-06-13 10:05 Fri", "2025-06-13 10:45 Fri"}, misses: []string{"2025-06-13 10:00 Fri"}},
		{name: "four fields", expr: "0 18 * *", err: "want 5 fields (minute hour day-of-month month day-of-week), got 4"},
		{name: "backwards range", expr: "0 18 * * fri-mon", err: `day of week: range "fri-mon" runs backwards`},
		{name: "bad step", expr: "*/0 * * * *", err: `minute: bad step "0"`},
		{name: "not a number", expr: "x * * * *", err: `minute: "x" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseCron(tt.expr)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("parseCron(%q) error = %v, want %q", tt.expr, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.matches {
				if !s.match(at(m)) {
					t.Errorf("%q should match %s", tt.expr, m)
				}
			}
			for _, m := range tt.misses {
				if s.match(at(m)) {
					t.Errorf("%q should not match %s", tt.expr, m)
				}
			}
		})
	}
}

func TestClusterFor(t *testing.T) {
	cfg, err := ParseConfig([]byte("clusters:\n  https://prod.example.com:\n    inCluster: true\n  edge:\n    cluster: edge-eu\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		app  App
		want *Cluster
	}{
		{name: "by server", app: App{Server: "https://prod.example.com"}, want: &Cluster{InCluster: true}},
		{name: "by name", app: App{DestName: "edge"}, want: &Cluster{Cluster: "edge-eu"}},
		{name: "unknown", app: App{Server: "https://other"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := cfg.ClusterFor(tt.app)
			var got *Cluster
			if ok {
				got = &c
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ClusterFor (-want +got):\n%s", diff)
			}
		})
	}
}
