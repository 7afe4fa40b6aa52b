package command

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Resolving the command a comment holds, parsed with no names known,
// answers as parsing the comment again with the names would: the promoter
// parses each comment once.
func TestResolve(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Result
	}{
		{name: "every app", body: "/promote", want: promote("", "", "/promote")},
		{name: "help", body: "/promote help", want: Result{Kind: KindCommand, Line: "/promote help",
			Command: Command{Verb: VerbHelp, Line: "/promote help"}}},
		{name: "app in another case", body: "/promote WEB", want: promote("web", "", "/promote WEB")},
		{name: "app and environment", body: "/promote Web to PRODUCTION", want: promote("web", "production", "/promote Web to PRODUCTION")},
		{name: "environment", body: "/promote to staging", want: promote("", "staging", "/promote to staging")},
		{name: "misspelled environment", body: "/promote to prod",
			want: replyOf("/promote to prod", "/promote to production", "There is no environment `prod`. Did you mean `/promote to production`?"+hint)},
		{name: "environment named as an app", body: "/promote production",
			want: replyOf("/promote production", "/promote to production", "Did you mean `/promote to production`?"+hint)},
		{name: "misspelled app before an environment", body: "/promote wbe to production",
			want: replyOf("/promote wbe to production", "/promote web to production", "There is no app `wbe`. Did you mean `/promote web to production`?"+hint)},
		{name: "unknown app", body: "/promote nope",
			want: replyOf("/promote nope", "", "There is no app `nope`. Apps: `my-api-service`, `web`, `worker`."+hint)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := Parse(tt.body, Known{})
			if first.Kind != KindCommand {
				t.Fatalf("Parse(%q, Known{}) = %+v, want a command", tt.body, first)
			}
			if diff := cmp.Diff(tt.want, Resolve(first.Command, known)); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Parse(tt.body, known), Resolve(first.Command, known)); diff != "" {
				t.Errorf("Resolve differs from parsing with the names (-parse +resolve):\n%s", diff)
			}
		})
	}
}

// FuzzResolve: for every comment whose first parse (no names known) is a
// command, resolving that command against names answers exactly as
// parsing the comment with those names does.
func FuzzResolve(f *testing.F) {
	for _, seed := range []struct{ body, apps, envs string }{
		{"/promote", "web,worker", "staging,production"},
		{"/promote web", "web,worker", "staging,production"},
		{"/promote Web to Production", "web", "staging,production"},
		{"/promote to prod", "web", "staging,production"},
		{"/promote production", "web", "staging,production"},
		{"/promote wbe to prodution", "web", "staging,production"},
		{"/promote help", "help", "staging"},
		{"/promote hlep", "hlep", "staging"},
		{"/promote my-api", "my-api-service", "dev,staging,production"},
		{"> quoted\n/promote `web` to `production`.", "web", "production"},
		{"/promote x to to", "x,to", "to"},
		{"/promote api staging", "api", ""},
	} {
		f.Add(seed.body, seed.apps, seed.envs)
	}
	names := func(s string) []string {
		out := []string{}
		for _, n := range strings.Split(s, ",") {
			if n != "" {
				out = append(out, n)
			}
		}
		return out
	}
	f.Fuzz(func(t *testing.T, body, apps, envs string) {
		first := Parse(body, Known{})
		if first.Kind != KindCommand {
			return
		}
		k := Known{Apps: names(apps), Environments: names(envs)}
		if diff := cmp.Diff(Parse(body, k), Resolve(first.Command, k)); diff != "" {
			t.Fatalf("body %q, known %+v: Resolve differs from parsing with the names (-parse +resolve):\n%s", body, k, diff)
		}
	})
}
