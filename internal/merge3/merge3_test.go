package merge3

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMerge(t *testing.T) {
	tests := []struct {
		name               string
		base, theirs, ours string
		want               string
		conflicts          []string
	}{
		{
			name:   "a changed line is carried; the target's own lines stay",
			base:   "spec:\n  replicas: 2\n  template:\n    image: a\n",
			theirs: "spec:\n  replicas: 3\n  template:\n    image: a\n",
			ours:   "# production\nspec:\n  replicas: 2\n  template:\n    image: a\n    resources: {limits: {cpu: 2}}\n",
			want:   "# production\nspec:\n  replicas: 3\n  template:\n    image: a\n    resources: {limits: {cpu: 2}}\n",
		},
		{
			name:      "the target changed the same line",
			base:      "spec:\n  replicas: 2\n",
			theirs:    "spec:\n  replicas: 3\n",
			ours:      "spec:\n  replicas: 10\n",
			want:      "spec:\n  replicas: 10\n",
			conflicts: []string{"line 2\n-  replicas: 2\n+  replicas: 3"},
		},
		{
			name:   "an added line goes between the same neighbours",
			base:   "data:\n  a: \"1\"\n  c: \"3\"\n",
			theirs: "data:\n  a: \"1\"\n  b: \"2\"\n  c: \"3\"\n",
			ours:   "data:\n  a: \"1\"\n  c: \"3\"\n  prod-only: \"x\"\n",
			want:   "data:\n  a: \"1\"\n  b: \"2\"\n  c: \"3\"\n  prod-only: \"x\"\n",
		},
		{
			name:      "an added line where the target added its own",
			base:      "data:\n  a: \"1\"\n  c: \"3\"\n",
			theirs:    "data:\n  a: \"1\"\n  b: \"2\"\n  c: \"3\"\n",
			ours:      "data:\n  a: \"1\"\n  z: \"9\"\n  c: \"3\"\n",
			want:      "data:\n  a: \"1\"\n  z: \"9\"\n  c: \"3\"\n",
			conflicts: []string{"lines added after line 2\n+  b: \"2\""},
		},
		{
			name:   "a removed line",
			base:   "a\nb\nc\n",
			theirs: "a\nc\n",
			ours:   "a\nb\nc\nd\n",
			want:   "a\nc\nd\n",
		},
		{
			name:   "appended at the end",
			base:   "a\nb\n",
			theirs: "a\nb\nc\n",
			ours:   "x\na\nb\n",
			want:   "x\na\nb\nc\n",
		},
		{
			name:   "the target already has the change",
			base:   "a: 1\n",
			theirs: "a: 2\n",
			ours:   "a: 2\n",
			want:   "a: 2\n",
		},
		{
			name:   "no change in the source",
			base:   "a: 1\n",
			theirs: "a: 1\n",
			ours:   "a: 5\n",
			want:   "a: 5\n",
		},
		{
			name:   "the target's CRLF line ends are kept and given to added lines",
			base:   "a\nb\n",
			theirs: "a\nB\nb2\n",
			ours:   "a\r\nb\r\n",
			want:   "a\r\nB\r\nb2\r\n",
		},
		{
			name:   "a last line without a line end",
			base:   "a\nb",
			theirs: "a\nb\nc",
			ours:   "a\nb",
			want:   "a\nb\nc",
		},
		{
			name:      "both conflicts are reported and nothing is merged",
			base:      "a: 1\nb: 1\nc: 1\nd: 1\n",
			theirs:    "a: 2\nb: 1\nc: 1\nd: 2\n",
			ours:      "a: 9\nb: 1\nc: 1\nd: 1\n",
			want:      "a: 9\nb: 1\nc: 1\nd: 1\n",
			conflicts: []string{"line 1\n-a: 1\n+a: 2"},
		},
		{
			name:      "a new file the target already has otherwise",
			base:      "",
			theirs:    "a\n",
			ours:      "b\n",
			want:      "b\n",
			conflicts: []string{"lines added after line 0\n+a"},
		},
		{
			name:   "a new file",
			base:   "",
			theirs: "a\n",
			ours:   "",
			want:   "a\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, conflicts := Merge([]byte(tt.base), []byte(tt.theirs), []byte(tt.ours))
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("merged (-want +got):\n%s", diff)
			}
			var cs []string
			for _, c := range conflicts {
				cs = append(cs, c.String())
			}
			if diff := cmp.Diff(tt.conflicts, cs); diff != "" {
				t.Errorf("conflicts (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzMerge: carried onto an unchanged target, a change gives the
// source's new file; carried onto any target, a merge either changes
// nothing and names conflicts, or names none; and a target that already
// is the new file stays as it is.
func FuzzMerge(f *testing.F) {
	f.Add("spec:\n  replicas: 2\n", "spec:\n  replicas: 3\n", "# p\nspec:\n  replicas: 2\n")
	f.Add("a\nb\nc\n", "a\nc\nd\n", "a\nb\nc\nd\n")
	f.Add("", "x\n", "")
	f.Fuzz(func(t *testing.T, base, theirs, ours string) {
		if strings.Contains(base+theirs+ours, "\r") {
			return
		}
		got, conflicts := Merge([]byte(base), []byte(theirs), []byte(base))
		if len(conflicts) > 0 || string(got) != theirs {
			t.Fatalf("onto the base itself: %q, %v; want %q", got, conflicts, theirs)
		}
		got, conflicts = Merge([]byte(base), []byte(theirs), []byte(ours))
		if len(conflicts) > 0 && string(got) != ours {
			t.Fatalf("a conflicting merge changed the target: %q", got)
		}
		if got, conflicts := Merge([]byte(base), []byte(theirs), []byte(theirs)); len(conflicts) > 0 || !bytes.Equal(got, []byte(theirs)) {
			t.Fatalf("onto the new file itself: %q, %v", got, conflicts)
		}
	})
}

func TestMergeSome(t *testing.T) {
	base := "images:\n  - name: api\n    newTag: 1.4.0\nreplicas:\n  - name: api\n    count: 2\n"
	theirs := "images:\n  - name: api\n    newTag: 1.5.0\nreplicas:\n  - name: api\n    count: 3\n"
	onlyImages := func(h Hunk) Verdict {
		if h.BaseStart < 3 {
			return Carry
		}
		return Skip
	}
	tests := []struct {
		name, ours string
		filter     Filter
		want       string
		conflicts  int
	}{
		{name: "only the carried hunk", filter: onlyImages,
			ours: "images:\n  - name: api\n    newTag: 1.4.0\nreplicas:\n  - name: api\n    count: 10\n",
			want: "images:\n  - name: api\n    newTag: 1.5.0\nreplicas:\n  - name: api\n    count: 10\n"},
		{name: "the carried hunk is already there", filter: onlyImages,
			ours: "images:\n  - name: api\n    newTag: 1.5.0\nreplicas:\n  - name: api\n    count: 10\n",
			want: "images:\n  - name: api\n    newTag: 1.5.0\nreplicas:\n  - name: api\n    count: 10\n"},
		{name: "a refused hunk is a conflict", filter: func(Hunk) Verdict { return Refuse },
			ours: base, want: base, conflicts: 2},
		{name: "the same line elsewhere is not taken for the change", filter: onlyImages,
			ours: "images:\n  - name: api\n    newTag: 1.3.0\n  - name: web\n    newTag: 1.5.0\n",
			want: "images:\n  - name: api\n    newTag: 1.3.0\n  - name: web\n    newTag: 1.5.0\n", conflicts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, conflicts := MergeSome([]byte(base), []byte(theirs), []byte(tt.ours), tt.filter)
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("merged (-want +got):\n%s", diff)
			}
			if len(conflicts) != tt.conflicts {
				t.Errorf("conflicts %v, want %d", conflicts, tt.conflicts)
			}
		})
	}
}
