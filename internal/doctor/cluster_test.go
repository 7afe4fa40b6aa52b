package doctor_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"

	"github.com/promobot/promobot/internal/doctor"
	"github.com/promobot/promobot/test/kube"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestCheckCluster(t *testing.T) {
	c, err := kube.Start(context.Background(), kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	nobody := rest.CopyConfig(c.Config)
	nobody.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	tests := []struct {
		name       string
		config     *rest.Config
		want       []brief
		found, fix string
	}{
		{name: "admin", config: c.Config, want: []brief{{"cluster prod", doctor.OK}, {"cluster prod rbac", doctor.OK}}},
		{
			name: "no rights", config: nobody,
			want:  []brief{{"cluster prod", doctor.OK}, {"cluster prod rbac", doctor.Fail}},
			found: "may not get, create, patch deployments in apps", fix: "bind promobot's identity",
		},
		{
			name: "unreachable", config: &rest.Config{Host: "https://" + closedPort(t)},
			want:  []brief{{"cluster prod", doctor.Fail}},
			found: "unreachable at https://127.0.0.1:", fix: "server address",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := doctor.CheckCluster(context.Background(), doctor.Cluster{Name: "prod", Config: tt.config, Namespace: "apps"})
			if diff := cmp.Diff(tt.want, briefs(got)); diff != "" {
				t.Fatalf("checks (-want +got):\n%s\n%+v", diff, got)
			}
			for _, ch := range got {
				if ch.Status != doctor.OK && (!strings.Contains(ch.Found, tt.found) || !strings.Contains(ch.Fix, tt.fix)) {
					t.Errorf("%s: found %q fix %q; want %q and %q", ch.Name, ch.Found, ch.Fix, tt.found, tt.fix)
				}
			}
		})
	}
}
