package cluster

import (
	"context"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// replace writes u as Argo CD's Replace=true does (kubectl replace, or
// create): the object becomes exactly the render, and fields others set
// are gone. An object already equal to the render (a dry-run replace
// changes nothing) is not written.
func (c *Cluster) replace(ctx context.Context, u *unstructured.Unstructured, opts Options) (Change, error) {
	ref := refOf(u)
	change := Change{Subject: ref.String(), Object: ref}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	err := c.client.Get(ctx, client.ObjectKeyFromObject(u), live)
	if apierrors.IsNotFound(err) {
		if err := c.client.Create(ctx, u.DeepCopy(), client.FieldOwner(opts.FieldManager)); err != nil {
			return change, fmt.Errorf("%s create: %w", ref, err)
		}
		change.Action = Created
		return change, nil
	}
	if err != nil {
		return change, fmt.Errorf("%s get: %w", ref, err)
	}
	obj := u.DeepCopy()
	obj.SetResourceVersion(live.GetResourceVersion())
	dry := obj.DeepCopy()
	if err := c.client.Update(ctx, dry, client.DryRunAll, client.FieldOwner(opts.FieldManager)); err != nil {
		return change, fmt.Errorf("%s replace: %w", ref, err)
	}
	if reflect.DeepEqual(driftView(live), driftView(dry)) {
		change.Action = Unchanged
		return change, nil
	}
	if err := c.client.Update(ctx, obj, client.FieldOwner(opts.FieldManager)); err != nil {
		return change, fmt.Errorf("%s replace: %w", ref, err)
	}
	change.Action = Configured
	return change, nil
}
