package command

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFreeze(t *testing.T) {
	known := Known{Apps: []string{"my-api-service"}, Environments: []string{"staging", "production"}}
	tests := []struct {
		body    string
		want    Command
		reply   string
		suggest string
	}{
		{body: "/freeze production incident 42: db failover", want: Command{Verb: VerbFreeze, Env: "production", Reason: "incident 42: db failover"}},
		{body: "/FREEZE Production", want: Command{Verb: VerbFreeze, Env: "production"}},
		{body: "/freeze", want: Command{Verb: VerbFreeze}},
		{body: "/freeze everything is on fire", want: Command{Verb: VerbFreeze, Reason: "everything is on fire"}},
		{body: "/unfreeze production", want: Command{Verb: VerbUnfreeze, Env: "production"}},
		{body: "/unfreeze", want: Command{Verb: VerbUnfreeze}},
		{body: "/freeze prodution hotfix", suggest: "/freeze production hotfix"},
		{body: "/unfreeze qa", reply: "There is no environment `qa`"},
		{body: "/frezee production", suggest: "/freeze production"},
		{body: "/unfrezee production", suggest: "/unfreeze production"},
		{body: "> /freeze production", want: Command{}},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			r := Parse(tt.body, known)
			switch {
			case tt.suggest != "" || tt.reply != "":
				if r.Kind != KindReply || r.Suggestion != tt.suggest {
					t.Fatalf("Parse = %+v, want a reply suggesting %q", r, tt.suggest)
				}
				if tt.reply != "" && !strings.Contains(r.Reply, tt.reply) {
					t.Errorf("reply %q lacks %q", r.Reply, tt.reply)
				}
			case tt.want == Command{}:
				if r.Kind != KindIgnore {
					t.Errorf("Parse = %+v, want nothing", r)
				}
			default:
				if r.Kind != KindCommand {
					t.Fatalf("Parse = %+v, want a command", r)
				}
				got := r.Command
				got.Line = ""
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("command (-want +got):\n%s", diff)
				}
				// Parsed with no names known, then resolved: the same.
				first := Parse(tt.body, Known{})
				if res := Resolve(first.Command, known); res.Kind != KindCommand || res.Command.Env != tt.want.Env || res.Command.Reason != tt.want.Reason {
					t.Errorf("Resolve = %+v, want %+v", res, tt.want)
				}
			}
		})
	}
}
