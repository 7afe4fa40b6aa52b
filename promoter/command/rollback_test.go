package command

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRollback(t *testing.T) {
	known := Known{Apps: []string{"my-api-service", "my-api-service-production"}, Environments: []string{"staging", "production"}}
	tests := []struct {
		body    string
		want    Command
		suggest string
		reply   bool
	}{
		{body: "/rollback my-api-service", want: Command{Verb: VerbRollback, App: "my-api-service", Point: "previous"}},
		{body: "/rollback my-api-service to previous", want: Command{Verb: VerbRollback, App: "my-api-service", Point: "previous"}},
		{body: "/rollback My-API-Service to #12", want: Command{Verb: VerbRollback, App: "my-api-service", Point: "#12"}},
		{body: "/rollback my-api-service to 3f2a9c1 --force", want: Command{Verb: VerbRollback, App: "my-api-service", Point: "3f2a9c1", Force: true}},
		{body: "/rollback my-api-servce to previous", suggest: "/rollback my-api-service to previous"},
		{body: "/rollback my-api-service to yesterday", reply: true},
		{body: "/rollback", reply: true},
		{body: "/rollbak my-api-service", suggest: "/rollback my-api-service"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			r := Parse(tt.body, known)
			if tt.suggest != "" || tt.reply {
				if r.Kind != KindReply || r.Suggestion != tt.suggest {
					t.Fatalf("Parse = %+v, want a reply suggesting %q", r, tt.suggest)
				}
				return
			}
			if r.Kind != KindCommand {
				t.Fatalf("Parse = %+v, want a command", r)
			}
			got := r.Command
			got.Line = ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
			first := Parse(tt.body, Known{})
			if res := Resolve(first.Command, known); res.Kind != KindCommand || res.Command.App != tt.want.App || res.Command.Point != tt.want.Point {
				t.Errorf("Resolve = %+v", res)
			}
		})
	}
}
