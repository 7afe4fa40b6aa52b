package cluster_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/applier/cluster"
)

// TestIgnoreDifferences: a hand edit of an ignored field is not drift and
// self-heal (force, RespectIgnoreDifferences) keeps it while taking back
// the other edits; a sync without RespectIgnoreDifferences overwrites it,
// as Argo CD does.
func TestIgnoreDifferences(t *testing.T) {
	replicas := cluster.IgnoreDifference{Group: "apps", Kind: "Deployment", JSONPointers: []string{"/spec/replicas"}}
	tests := []struct {
		name       string
		ignore     []cluster.IgnoreDifference
		wantFields []string
		wantHealed int32 // replicas after self-heal
	}{
		{name: "nothing ignored", wantFields: []string{".spec.replicas", ".spec.template.spec.containers[0].image"}, wantHealed: 1},
		{name: "jsonPointers", ignore: []cluster.IgnoreDifference{replicas}, wantFields: []string{".spec.template.spec.containers[0].image"}, wantHealed: 5},
		{name: "jsonPointers of this object only", ignore: []cluster.IgnoreDifference{{Group: "apps", Kind: "Deployment", Name: "api", Namespace: "NS", JSONPointers: []string{"/spec/replicas"}}},
			wantFields: []string{".spec.template.spec.containers[0].image"}, wantHealed: 5},
		{name: "glob kind", ignore: []cluster.IgnoreDifference{{Group: "apps", Kind: "*", JSONPointers: []string{"/spec/replicas"}}},
			wantFields: []string{".spec.template.spec.containers[0].image"}, wantHealed: 5},
		{name: "another group", ignore: []cluster.IgnoreDifference{{Kind: "Deployment", JSONPointers: []string{"/spec/replicas"}}},
			wantFields: []string{".spec.replicas", ".spec.template.spec.containers[0].image"}, wantHealed: 1},
		{name: "another name", ignore: []cluster.IgnoreDifference{{Group: "apps", Kind: "Deployment", Name: "web", JSONPointers: []string{"/spec/replicas"}}},
			wantFields: []string{".spec.replicas", ".spec.template.spec.containers[0].image"}, wantHealed: 1},
		{name: "managedFieldsManagers", ignore: []cluster.IgnoreDifference{{Group: "apps", Kind: "Deployment", ManagedFieldsManagers: []string{"kubectl-scale"}}},
			wantFields: []string{".spec.template.spec.containers[0].image"}, wantHealed: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ns := kc.Namespace(t)
			c := newCluster(t, kc.Config)
			objs := render(t, apiRender, ns)
			o := opts(ns)
			for _, d := range tt.ignore {
				if d.Namespace == "NS" {
					d.Namespace = ns
				}
				o.IgnoreDifferences = append(o.IgnoreDifferences, d)
			}
			if _, err := c.Apply(ctx, objs, cluster.Inventory{}, o); err != nil {
				t.Fatal(err)
			}
			// An autoscaler's scale, and a hand edit of the image.
			edit(t, ns, "kubectl-scale", func(replicas *int32, image *string) { *replicas = 5 })
			edit(t, ns, "kubectl-edit", func(replicas *int32, image *string) { *image = "ghcr.io/acme/api:hotfix" })

			drift, err := c.Drift(ctx, objs, o)
			if err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, d := range drift {
				fields = append(fields, d.Fields...)
			}
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("drift (-want +got):\n%s", diff)
			}

			heal := o
			heal.Force = true
			heal.SyncOptions.RespectIgnoreDifferences = true
			if _, err := c.Apply(ctx, objs, cluster.Inventory{}, heal); err != nil {
				t.Fatal(err)
			}
			gotReplicas, gotImage := read(t, ns)
			if gotReplicas != tt.wantHealed || gotImage != "ghcr.io/acme/api:1.0.0" {
				t.Errorf("after self-heal: replicas %d, image %s; want %d, ghcr.io/acme/api:1.0.0", gotReplicas, gotImage, tt.wantHealed)
			}
			if drift, err := c.Drift(ctx, objs, o); err != nil || len(drift) != 0 {
				t.Errorf("drift after self-heal: %v, %v", drift, err)
			}

			sync := o
			sync.Force = true
			if _, err := c.Apply(ctx, objs, cluster.Inventory{}, sync); err != nil {
				t.Fatal(err)
			}
			if gotReplicas, _ := read(t, ns); gotReplicas != 1 {
				t.Errorf("a sync without RespectIgnoreDifferences left replicas at %d, want the render's 1", gotReplicas)
			}
		})
	}
}

// edit changes the api Deployment as field manager does with an update.
func edit(t *testing.T, ns, manager string, change func(replicas *int32, image *string)) {
	t.Helper()
	ctx := context.Background()
	d, err := kc.Client.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	change(d.Spec.Replicas, &d.Spec.Template.Spec.Containers[0].Image)
	if _, err := kc.Client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: manager}); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, ns string) (int32, string) {
	t.Helper()
	d, err := kc.Client.AppsV1().Deployments(ns).Get(context.Background(), "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image
}
