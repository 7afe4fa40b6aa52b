package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/test/kit"
)

func TestFieldManagerFor(t *testing.T) {
	long := strings.Repeat("a", 120)
	tests := []struct {
		name, repo, app string
		want            string
	}{
		{name: "short", repo: "acme/gitops", app: "api-staging", want: "promobot/acme/gitops/api-staging"},
		{name: "no repository", app: "api", want: "promobot/api"},
		{name: "too long", repo: "acme/" + long, app: "api-staging",
			want: "promobot/acme/" + long[:97] + "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cluster.FieldManagerFor(tt.repo, tt.app)
			if len(got) > 128 {
				t.Errorf("%q is %d characters, more than 128", got, len(got))
			}
			if tt.name == "too long" {
				// Cut to 128 characters, ending in 16 hex digits of a hash.
				if !strings.HasPrefix(got, tt.want) || len(got) != 128 {
					t.Errorf("FieldManagerFor = %q", got)
				}
				if other := cluster.FieldManagerFor(tt.repo, tt.app+"x"); other == got {
					t.Errorf("two apps share the bounded field manager %q", got)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FieldManagerFor (-want +got):\n%s", diff)
			}
		})
	}
}

// managers lists the live object's field managers as "name/operation".
func managers(t *testing.T, ns, name string) []string {
	t.Helper()
	live, ok := get(t, configMaps, ns, name)
	if !ok {
		t.Fatalf("ConfigMap %s/%s not found", ns, name)
	}
	var out []string
	for _, mf := range live.GetManagedFields() {
		out = append(out, mf.Manager+"/"+string(mf.Operation))
	}
	return out
}

const settingsRender = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  LOG_LEVEL: %s
`

// TestLegacyFieldManagerTakenOver: objects an app applied with the shared
// "promobot" manager are taken over by the app's own manager on its next
// apply, even when the render changes the fields the old manager set, with
// no conflict.
func TestLegacyFieldManagerTakenOver(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	legacy := opts(ns)
	legacy.FieldManager = cluster.LegacyFieldManager
	first, err := c.Apply(ctx, render(t, fmt.Sprintf(settingsRender, "info"), ns), cluster.Inventory{}, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"promobot/Apply"}, managers(t, ns, "settings")); diff != "" {
		t.Fatalf("managers after the legacy apply (-want +got):\n%s", diff)
	}

	res, err := c.Apply(ctx, render(t, fmt.Sprintf(settingsRender, "debug"), ns), first.Inventory, opts(ns))
	if err != nil {
		t.Fatalf("apply with the app's own manager: %v", err)
	}
	if diff := cmp.Diff("1 configured", res.ChangeSet.Summary()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"promobot/acme/gitops/api-staging/Apply"}, managers(t, ns, "settings")); diff != "" {
		t.Errorf("managers after the takeover (-want +got):\n%s", diff)
	}
	cm, err := kc.Client.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil || cm.Data["LOG_LEVEL"] != "debug" {
		t.Errorf("live ConfigMap: %v %v", err, cm.Data)
	}
}

// TestAnotherAppsObjectIsRefused: an app that renders an object another
// app owns is refused before anything is applied, and the status names the
// owner; the owner's object, labels and fields stay as they were.
func TestAnotherAppsObjectIsRefused(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	b := cluster.Options{App: "team-b", Repo: "acme/b", Namespace: ns, Prune: true}
	if _, err := c.Apply(ctx, render(t, fmt.Sprintf(settingsRender, "info"), ns), cluster.Inventory{}, b); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		opts cluster.Options
	}{
		{name: "another repository", opts: cluster.Options{App: "team-a", Repo: "acme/a", Namespace: ns, Prune: true}},
		{name: "another app of the same repository", opts: cluster.Options{App: "team-b-2", Repo: "acme/b", Namespace: ns, Prune: true}},
		{name: "same app name in another repository", opts: cluster.Options{App: "team-b", Repo: "evil/b", Namespace: ns, Prune: true}},
		{name: "with force", opts: cluster.Options{App: "team-a", Repo: "acme/a", Namespace: ns, Prune: true, Force: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			thief := fmt.Sprintf(settingsRender, "stolen") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: thief-" + tt.opts.App + "\n"
			res, err := c.Apply(ctx, render(t, thief, ns), cluster.Inventory{}, tt.opts)
			var oe *cluster.OwnershipError
			if !errors.As(err, &oe) {
				t.Fatalf("apply over another app's object: %v, want an *OwnershipError", err)
			}
			if diff := cmp.Diff("ConfigMap/"+ns+"/settings belongs to app team-b of acme/b", err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if len(res.ChangeSet.Changes) != 0 || len(res.Inventory.Objects) != 0 {
				t.Errorf("refused apply: changes %v, inventory %v", res.ChangeSet.Changes, res.Inventory.Objects)
			}
			if _, ok := get(t, configMaps, ns, "thief-"+tt.opts.App); ok {
				t.Error("the refused app's other object was applied")
			}
			cm, err := kc.Client.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cm.Data["LOG_LEVEL"] != "info" || cm.Labels[cluster.LabelApp] != "team-b" || cm.Labels[cluster.LabelRepo] != "acme.b" {
				t.Errorf("the owner's object changed: data %v labels %v", cm.Data, cm.Labels)
			}
		})
	}
	// The owner itself still applies it.
	if _, err := c.Apply(ctx, render(t, fmt.Sprintf(settingsRender, "warn"), ns), cluster.Inventory{}, b); err != nil {
		t.Errorf("the owner's re-apply: %v", err)
	}
}

// TestPermitRefusesTheWholeRender: one object the project does not allow
// fails the app before anything of it is applied.
func TestPermitRefusesTheWholeRender(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	c := newCluster(t, kc.Config)
	o := opts(ns)
	o.Permit = func(r cluster.ObjectRef) error {
		if r.Namespace == "kube-system" {
			return errors.New("namespace kube-system is not allowed for acme/gitops (project default)")
		}
		if r.Namespace == "" {
			return fmt.Errorf("cluster-scoped kind %s is not allowed for acme/gitops (project default)", r.Kind)
		}
		return nil
	}
	objs := apiRender + `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: promobot-test-escalate
rules: []
`
	res, err := c.Apply(ctx, render(t, objs, ns), cluster.Inventory{}, o)
	var npe *cluster.NotPermittedError
	if !errors.As(err, &npe) {
		t.Fatalf("apply: %v, want a *NotPermittedError", err)
	}
	want := "ConfigMap/kube-system/x: namespace kube-system is not allowed for acme/gitops (project default); " +
		"ClusterRole/promobot-test-escalate: cluster-scoped kind ClusterRole is not allowed for acme/gitops (project default)"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if len(res.ChangeSet.Changes) != 0 {
		t.Errorf("changes: %v", res.ChangeSet.Changes)
	}
	if _, ok := get(t, configMaps, ns, "api-settings"); ok {
		t.Error("an allowed object of the refused render was applied")
	}
	if _, ok := get(t, configMaps, "kube-system", "x"); ok {
		t.Error("the refused object was applied")
	}
}

// manyConfigMaps renders ConfigMaps named cm-0 … cm-(n-1).
func manyConfigMaps(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n", i)
	}
	return b.String()
}

func TestMassPruneGuard(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, kc.Config)
	tests := []struct {
		name          string
		before, after int
		allow         bool
		wantErr       string
		wantLeft      int // ConfigMaps left in the cluster
	}{
		{name: "cut to one of ten is refused", before: 10, after: 1, wantLeft: 10,
			wantErr: `prune refused: would delete 9 of 10 objects; add a line "promobot: allow-mass-prune" to the commit message or set prune.allowMass in .promobot.yaml to allow it`},
		{name: "allowed", before: 10, after: 1, allow: true, wantLeft: 1},
		{name: "exactly half is not a mass prune", before: 4, after: 2, wantLeft: 2},
		{name: "small apps are not guarded", before: 3, after: 1, wantLeft: 1},
		{name: "three of four", before: 4, after: 1, wantLeft: 4,
			wantErr: `prune refused: would delete 3 of 4 objects; add a line "promobot: allow-mass-prune" to the commit message or set prune.allowMass in .promobot.yaml to allow it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := kc.Namespace(t)
			o := opts(ns)
			o.Prune, o.AllowMassPrune = true, tt.allow
			first, err := c.Apply(ctx, render(t, manyConfigMaps(tt.before), ns), cluster.Inventory{}, o)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.Apply(ctx, render(t, manyConfigMaps(tt.after), ns), first.Inventory, o)
			if diff := cmp.Diff(tt.wantErr, errString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tt.wantErr != "" {
				var pre *cluster.PruneRefusedError
				if !errors.As(err, &pre) {
					t.Errorf("error %T is not a *PruneRefusedError", err)
				}
				if diff := cmp.Diff(first.Inventory, res.Inventory); diff != "" {
					t.Errorf("a refused prune must keep the whole inventory (-want +got):\n%s", diff)
				}
				if res.PruneSkipped != tt.wantErr {
					t.Errorf("PruneSkipped = %q", res.PruneSkipped)
				}
			}
			list, err := kc.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: cluster.LabelApp + "=api-staging"})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Items) != tt.wantLeft {
				t.Errorf("%d ConfigMaps left, want %d", len(list.Items), tt.wantLeft)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestKubeconfigContentRefusesHostAccess: kubeconfig content (not the
// operator's own file) may not make promobot run commands, call auth
// providers or read files on its host, in any of its users.
func TestKubeconfigContentRefusesHostAccess(t *testing.T) {
	base, err := clientcmd.LoadFromFile(kc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(c *clientcmdapi.Config)
		wantErr string
	}{
		{name: "inline credentials", edit: func(c *clientcmdapi.Config) {}},
		{
			name: "exec plugin",
			edit: func(c *clientcmdapi.Config) {
				c.AuthInfos["promobot-test"].Exec = &clientcmdapi.ExecConfig{Command: "/bin/sh", Args: []string{"-c", "cat /etc/promobot/private-key.pem"}, APIVersion: "client.authentication.k8s.io/v1"}
			},
			wantErr: `cluster credentials kubeconfig content: refused: user "promobot-test" runs a command (exec "/bin/sh"); put credentials inline (token, client-certificate-data, certificate-authority-data)`,
		},
		{
			name: "token file in a user of another context",
			edit: func(c *clientcmdapi.Config) {
				c.AuthInfos["other"] = &clientcmdapi.AuthInfo{TokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token"}
			},
			wantErr: `cluster credentials kubeconfig content: refused: user "other" reads a token file; put credentials inline (token, client-certificate-data, certificate-authority-data)`,
		},
		{
			name: "auth provider and files",
			edit: func(c *clientcmdapi.Config) {
				c.AuthInfos["promobot-test"].AuthProvider = &clientcmdapi.AuthProviderConfig{Name: "oidc"}
				c.Clusters["promobot-test"].CertificateAuthority = "/etc/shadow"
			},
			wantErr: `cluster credentials kubeconfig content: refused: user "promobot-test" uses the auth provider "oidc", cluster "promobot-test" reads a certificate authority file; put credentials inline (token, client-certificate-data, certificate-authority-data)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base.DeepCopy()
			tt.edit(c)
			raw, err := clientcmd.Write(*c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cluster.RESTConfigFor(cluster.Credentials{Kubeconfig: raw})
			if diff := cmp.Diff(tt.wantErr, errString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOwnershipWithoutListRights: where the applier may get but not list a
// kind, another app's object is still found and refused.
func TestOwnershipWithoutListRights(t *testing.T) {
	ctx := context.Background()
	ns := kc.Namespace(t)
	admin := newCluster(t, kc.Config)
	b := cluster.Options{App: "team-b", Repo: "acme/b", Namespace: ns}
	if _, err := admin.Apply(ctx, render(t, fmt.Sprintf(settingsRender, "info"), ns), cluster.Inventory{}, b); err != nil {
		t.Fatal(err)
	}
	const user = "promobot-no-list"
	if _, err := kc.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "no-list"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "patch", "update"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "no-list"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "no-list"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := kc.UserConfig(user)
	if err != nil {
		t.Fatal(err)
	}
	limited := newCluster(t, cfg)
	// The authorizer learns of the new binding a moment later: wait until
	// it answers the user's get.
	kit.Eventually(t, 10*time.Second, "the authorizer to allow "+user+" to get configmaps", func() (bool, string) {
		review, err := kc.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: "get", Resource: "configmaps",
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return false, err.Error()
		}
		return review.Status.Allowed, fmt.Sprintf("allowed %v: %s", review.Status.Allowed, review.Status.Reason)
	})
	_, err = limited.Apply(ctx, render(t, fmt.Sprintf(settingsRender, "stolen"), ns), cluster.Inventory{}, cluster.Options{App: "team-a", Repo: "acme/a", Namespace: ns})
	if diff := cmp.Diff("ConfigMap/"+ns+"/settings belongs to app team-b of acme/b", errString(err)); diff != "" {
		t.Errorf("apply without list rights (-want +got):\n%s", diff)
	}
}
