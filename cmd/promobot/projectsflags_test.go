package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/promobot/promobot/internal/gitops"
)

// TestProjectsFlags: --projects-file and --namespace reach the applier's
// cluster resolver, and a bad projects file stops promobot at start with
// the problem named.
func TestProjectsFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kubeconfig := write("kubeconfig", "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: https://edge.invalid}}]\n"+
		"users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n")
	good := write("good.yaml", "clusters:\n  - {name: edge, kubeconfig: "+kubeconfig+"}\nprojects:\n  - name: a\n    repos: [acme/*]\n    destinations: [{cluster: edge, namespace: '*'}]\n")
	tests := []struct {
		name    string
		args    []string
		wantErr string
		// app's destination and the resulting operator cluster or error
		app  gitops.App
		want string
	}{
		{name: "projects file", args: []string{"--kubeconfig", kubeconfig, "--projects-file", good, "--namespace", "promobot"},
			app: gitops.App{DestName: "edge", DestNamespace: "team"}, want: "edge"},
		{name: "own namespace from the flag", args: []string{"--kubeconfig", kubeconfig, "--projects-file", good, "--namespace", "promobot"},
			app: gitops.App{DestName: "edge", DestNamespace: "promobot"}, want: "cluster edge: destination namespace promobot (promobot's own) is not allowed for acme/x (project a)"},
		{name: "default project", args: []string{"--kubeconfig", kubeconfig, "--namespace", "promobot"},
			app:  gitops.App{Server: "https://kubernetes.default.svc", DestNamespace: "kube-system"},
			want: "cluster https://kubernetes.default.svc: destination namespace kube-system is not allowed for acme/x (project default)"},
		{name: "invalid projects file", args: []string{"--projects-file", write("bad.yaml", "projects:\n  - name: a\n")},
			wantErr: "--projects-file: projects file " + filepath.Join(dir, "bad.yaml") + ": projects[0].repos: no repository"},
		{name: "missing kubeconfig", args: []string{"--projects-file", write("missing.yaml", "clusters:\n  - {name: edge, kubeconfig: /nonexistent}\nprojects:\n  - {name: a, repos: ['*']}\n")},
			wantErr: "--projects-file: cluster edge: cluster credentials kubeconfig /nonexistent: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f applierFlags
			fl := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			f.register(fl)
			if err := fl.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			r, err := f.resolver(slog.New(slog.NewTextHandler(io.Discard, nil)))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("resolver error = %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if d, err := r.For("acme/x", tt.app, gitops.DefaultConfig()); err != nil {
				got = err.Error()
			} else {
				got = d.ID.Name
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("For (-want +got):\n%s", diff)
			}
		})
	}
}
