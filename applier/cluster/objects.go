package cluster

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Ownership labels promobot sets on every object it applies. Prune deletes
// only objects that carry all of them with this app's values, so it never
// touches what someone else created, even under a name promobot once used.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelApp       = "promobot.dev/app"
	LabelRepo      = "promobot.dev/repo"

	// ManagedByValue is LabelManagedBy's value.
	ManagedByValue = "promobot"
)

// ObjectRef identifies one Kubernetes object.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String formats the reference as Kind/namespace/name (Kind/name when
// cluster-scoped), the form used in change sets and errors.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// GroupKind returns the object's group and kind.
func (r ObjectRef) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: r.Group, Kind: r.Kind}
}

// key identifies the object regardless of the API version it was read with.
func (r ObjectRef) key() string {
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

func refOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// Inventory is what one app last applied to one cluster. The caller stores it
// (e.g. in a KV bucket) and passes it to the next Apply, which prunes what the
// new render no longer has.
type Inventory struct {
	Objects []ObjectRef `json:"objects"`
}

func newInventory(refs []ObjectRef) Inventory {
	seen := map[string]bool{}
	var out []ObjectRef
	for _, r := range refs {
		if !seen[r.key()] {
			seen[r.key()] = true
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b ObjectRef) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return Inventory{Objects: out}
}

// OwnerLabels returns the ownership labels for an app of a repository
// ("owner/name"), with values made valid as label values.
func OwnerLabels(app, repo string) map[string]string {
	labels := map[string]string{
		LabelManagedBy: ManagedByValue,
		LabelApp:       LabelValue(app),
	}
	if repo != "" {
		labels[LabelRepo] = LabelValue(strings.ReplaceAll(repo, "/", "."))
	}
	return labels
}

// LabelValue turns s into a valid label value (at most 63 characters of
// [A-Za-z0-9._-], starting and ending alphanumeric). Other characters become
// "-"; a value that had to be shortened or changed ends in a hash of s, so
// two different inputs never share a label value.
func LabelValue(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	v := strings.Trim(b.String(), "._-")
	if v == s && len(v) <= 63 {
		return v
	}
	sum := sha256.Sum256([]byte(s))
	suffix := hex.EncodeToString(sum[:])[:10]
	if len(v) > 52 {
		v = strings.TrimRight(v[:52], "._-")
	}
	if v == "" {
		return suffix
	}
	return v + "-" + suffix
}
