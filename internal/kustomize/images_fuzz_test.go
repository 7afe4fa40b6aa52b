package kustomize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	k8syaml "sigs.k8s.io/yaml"
)

// FuzzSetImages checks the byte-preserving image edit as a round trip: on
// any kustomization and image, an edit that succeeds changes only image
// fields (the document without images: and imageTags: parses the same,
// the entries of other images read the same), reads the image back as
// given, touches only image lines, and a second edit changes nothing.
func FuzzSetImages(f *testing.F) {
	befores, _ := filepath.Glob("testdata/images/*/before.yaml")
	for _, p := range befores {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(raw), "ghcr.io/my-org/my-api-service", "", "1.1.0", "")
		f.Add(string(raw), "nginx", "registry.example.com/nginx", "", "sha256:0123")
	}
	for _, src := range []string{
		"resources:\n- ../../base\n",
		"images: []\n",
		"images:\n",
		"images: [{name: a, newTag: \"1\"}] # flow\nnamePrefix: x-\n",
		"# c\nimages:\n  - name: a\n    newTag: v1 # keep\n\n  - {name: b, digest: sha256:1}\nimageTags:\n- name: c\n  newTag: v2\n",
		"images:\r\n- name: a\r\n  newTag: v1\r\n",
		"images:\n- name: a\n  newTag: 'true'\n  newName: \"q\"\n",
	} {
		f.Add(src, "a", "", "2", "")
		f.Add(src, "b", "n", "", "sha256:2")
		f.Add(src, "c", "", "yes", "")
	}
	f.Fuzz(func(t *testing.T, src, name, newName, newTag, digest string) {
		var before map[string]any
		if err := k8syaml.Unmarshal([]byte(src), &before); err != nil || before == nil {
			return
		}
		img := Image{Name: name, NewName: newName, NewTag: newTag, Digest: digest}
		out, _, err := SetImages([]byte(src), []Image{img})
		if err != nil {
			return
		}
		var after map[string]any
		if err := k8syaml.Unmarshal(out, &after); err != nil {
			t.Fatalf("the edited file does not parse: %v\n%s", err, out)
		}
		for _, m := range []map[string]any{before, after} {
			delete(m, "images")
			delete(m, "imageTags")
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("the edit changed more than images (-before +after):\n%s\nbefore:\n%s\nafter:\n%s", diff, src, out)
		}

		others := func(doc []byte) []Image {
			all, err := ReadImages(doc)
			if err != nil {
				t.Fatalf("ReadImages: %v\n%s", err, doc)
			}
			var keep []Image
			for _, i := range all {
				if i.Name != name {
					keep = append(keep, i)
				}
			}
			return keep
		}
		if diff := cmp.Diff(others([]byte(src)), others(out)); diff != "" {
			t.Errorf("the edit changed other images (-before +after):\n%s", diff)
		}
		got, _ := ReadImages(out)
		found := false
		for _, g := range got {
			if g.Name == name {
				if g != img {
					t.Errorf("image reads back as %+v, want %+v", g, img)
				}
				found = true
				break
			}
		}
		if !found {
			t.Errorf("image %q not in the edited file:\n%s", name, out)
		}
		// A file whose last line has no line break gets one when an
		// entry is appended after it: not a changed line.
		terminated := func(s string) string {
			if strings.HasSuffix(s, "\n") {
				return s
			}
			return s + "\n"
		}
		for _, line := range changedLines(terminated(src), terminated(string(out))) {
			if !imageLine.MatchString(line) {
				t.Errorf("the edit touched a line that is not an image value: %q\nbefore:\n%s\nafter:\n%s", line, src, out)
			}
		}
		again, changes, err := SetImages(out, []Image{img})
		if err != nil || len(changes) != 0 || string(again) != string(out) {
			t.Errorf("a second edit: changes %v, err %v, output\n%s\nwant none of\n%s", changes, err, again, out)
		}
	})
}
