package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/promobot/promobot/applier/cluster"
)

// manyObjects renders n/2 ConfigMaps and n/2 Deployments.
func manyObjects(n int) string {
	var b strings.Builder
	for i := range n / 2 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {k: v%d}\n", i, i)
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d-%d}
spec:
  selector: {matchLabels: {app: d-%d}}
  template:
    metadata: {labels: {app: d-%d}}
    spec: {containers: [{name: c, image: nginx:1.27}]}
`, i, i, i)
	}
	return b.String()
}

func BenchmarkApply100Objects(b *testing.B) {
	ctx := context.Background()
	c, err := cluster.New(kc.Config)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		ns := kc.Namespace(b)
		objs := render(b, manyObjects(100), ns)
		b.StartTimer()
		if _, err := c.Apply(ctx, objs, cluster.Inventory{}, opts(ns)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReapplyUnchanged100Objects(b *testing.B) {
	ctx := context.Background()
	c, err := cluster.New(kc.Config)
	if err != nil {
		b.Fatal(err)
	}
	ns := kc.Namespace(b)
	objs := render(b, manyObjects(100), ns)
	first, err := c.Apply(ctx, objs, cluster.Inventory{}, opts(ns))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := c.Apply(ctx, objs, first.Inventory, opts(ns))
		if err != nil {
			b.Fatal(err)
		}
		if res.ChangeSet.Changed() {
			b.Fatalf("re-apply changed something: %s", res.ChangeSet.Summary())
		}
	}
}
