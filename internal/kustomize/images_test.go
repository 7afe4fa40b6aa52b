package kustomize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/kustomize/api/types"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/promobot/promobot/test/kit"
)

// imageLine matches the only lines an image edit may add or remove (an
// image field may be empty: "newTag:").
var imageLine = regexp.MustCompile(`^\s*(- )?\s*(name|newName|newTag|digest):( |$)|^\s*images:\s*(\[|$)|^\s*- \{name: `)

// TestSetImagesGolden edits testdata/images/<case>/before.yaml (or the
// kustomization file in before/) with images.yaml and compares the result
// with after.yaml (or after/) and the reported changes with changes.txt,
// byte for byte. Run with -update to rewrite the golden files.
func TestSetImagesGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata/images")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		dir := filepath.Join("testdata/images", c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			images := readGoldenImages(t, filepath.Join(dir, "images.yaml"))
			var before, got []byte
			var changes []ImageChange
			var afterPath string
			if _, err := os.Stat(filepath.Join(dir, "before.yaml")); err == nil {
				before = mustRead(t, filepath.Join(dir, "before.yaml"))
				got, changes, err = SetImages(before, images)
				if err != nil {
					t.Fatalf("SetImages: %v", err)
				}
				afterPath = filepath.Join(dir, "after.yaml")
			} else {
				// A directory case: the file name is part of what is tested.
				work := t.TempDir()
				name, err := FindKustomization(filepath.Join(dir, "before"))
				if err != nil {
					t.Fatal(err)
				}
				before = mustRead(t, filepath.Join(dir, "before", name))
				writeFile(t, filepath.Join(work, name), string(before))
				file, ch, err := SetImagesInDir(work, images)
				if err != nil {
					t.Fatalf("SetImagesInDir: %v", err)
				}
				if filepath.Base(file) != name {
					t.Errorf("SetImagesInDir edited %s, want %s", file, name)
				}
				got, changes = mustRead(t, file), ch
				afterPath = filepath.Join(dir, "after", name)
			}
			gotChanges := formatChanges(changes)
			changesPath := filepath.Join(dir, "changes.txt")
			kit.Golden(t, afterPath, string(got))
			kit.Golden(t, changesPath, gotChanges)

			// Only image lines changed.
			for _, line := range changedLines(string(before), string(got)) {
				if !imageLine.MatchString(line) {
					t.Errorf("the edit touched a line that is not an image value: %q", line)
				}
			}
			// The result is still a kustomization kustomize accepts, and
			// reads back the images that were set.
			var k types.Kustomization
			if err := k.Unmarshal(got); err != nil {
				t.Errorf("kustomize refuses the edited file: %v", err)
			}
			want := map[string]types.Image{}
			for _, img := range images {
				want[img.Name] = types.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest}
			}
			for _, img := range k.Images {
				if w, ok := want[img.Name]; ok {
					if diff := cmp.Diff(w, img); diff != "" {
						t.Errorf("kustomize reads image %s as (-want +got):\n%s", img.Name, diff)
					}
					delete(want, img.Name)
				}
			}
			if len(want) != 0 {
				t.Errorf("kustomize does not see images %v", want)
			}
			// Setting the same images again changes nothing.
			again, more, err := SetImages(got, images)
			if err != nil {
				t.Fatalf("second SetImages: %v", err)
			}
			if len(more) != 0 || string(again) != string(got) {
				t.Errorf("second SetImages changed %v:\n%s", more, again)
			}
		})
	}
}

func readGoldenImages(t *testing.T, p string) []Image {
	t.Helper()
	var images []Image
	if err := k8syaml.UnmarshalStrict(mustRead(t, p), &images); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return images
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func formatChanges(changes []ImageChange) string {
	var b strings.Builder
	for _, c := range changes {
		from := "(added)"
		if c.From != (Image{}) {
			from = c.From.Reference()
		}
		fmt.Fprintf(&b, "%s: %s -> %s\n", c.Name, from, c.To.Reference())
	}
	return b.String()
}

// changedLines returns the lines removed from a or added in b.
func changedLines(a, b string) []string {
	al, bl := difflib.SplitLines(a), difflib.SplitLines(b)
	var out []string
	for _, op := range difflib.NewMatcher(al, bl).GetOpCodes() {
		if op.Tag == 'e' {
			continue
		}
		out = append(out, al[op.I1:op.I2]...)
		out = append(out, bl[op.J1:op.J2]...)
	}
	for i := range out {
		out[i] = strings.TrimRight(out[i], "\r\n")
	}
	return out
}

func TestReadImages(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Image
	}{
		{name: "block", in: "images:\n- name: a\n  newName: b\n  newTag: \"1.0\"\n  digest: sha256:abc\n",
			want: []Image{{Name: "a", NewName: "b", NewTag: "1.0", Digest: "sha256:abc"}}},
		{name: "flow", in: "images: [{name: a, newTag: v1}, {name: c}]\n",
			want: []Image{{Name: "a", NewTag: "v1"}, {Name: "c"}}},
		{name: "deprecated imageTags after images", in: "imageTags:\n- name: old\n  newTag: \"1\"\nimages:\n- name: new\n  newTag: \"2\"\n",
			want: []Image{{Name: "new", NewTag: "2"}, {Name: "old", NewTag: "1"}}},
		{name: "no images", in: "resources:\n- a.yaml\n", want: nil},
		{name: "empty file", in: "", want: nil},
		{name: "null values", in: "images:\n- name: a\n  newTag: ~\n", want: []Image{{Name: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadImages([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadImages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetImagesErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		images []Image
		want   string
	}{
		{name: "image without a name", in: "images: []\n", images: []Image{{NewTag: "1"}}, want: "an image has no name"},
		{name: "image given twice", in: "images: []\n", images: []Image{{Name: "a", NewTag: "1"}, {Name: "a", NewTag: "2"}}, want: `image "a" given twice`},
		{name: "value spanning lines", in: "images: []\n", images: []Image{{Name: "a", NewTag: "1\n2"}}, want: "spans lines"},
		{name: "not YAML", in: "images: [\n", images: []Image{{Name: "a", NewTag: "1"}}, want: "kustomization parse"},
		{name: "block scalar value", in: "images:\n- name: a\n  newTag: |\n    1.0\n", images: []Image{{Name: "a", NewTag: "2"}}, want: "does not edit"},
		{name: "images not a list", in: "images: nope\n", images: []Image{{Name: "a", NewTag: "2"}}, want: "images is not a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := SetImages([]byte(tt.in), tt.images)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SetImages error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestImageReference(t *testing.T) {
	tests := []struct {
		name string
		img  Image
		want string
	}{
		{name: "tag", img: Image{Name: "api", NewTag: "1.0"}, want: "api:1.0"},
		{name: "new name and digest", img: Image{Name: "api", NewName: "r/api", Digest: "sha256:ab"}, want: "r/api@sha256:ab"},
		{name: "tag and digest", img: Image{Name: "api", NewTag: "1", Digest: "sha256:ab"}, want: "api:1@sha256:ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.img.Reference()); diff != "" {
				t.Errorf("Reference (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPromoteFixture does what a promotion does to the fixture repository:
// bump staging, copy staging's images to production, and render production
// before and after. The only difference a reviewer sees is the image.
func TestPromoteFixture(t *testing.T) {
	repo := t.TempDir()
	if err := os.CopyFS(repo, os.DirFS(fixtureRepo)); err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(repo, "kustomize/overlays/staging")
	production := filepath.Join(repo, "kustomize/overlays/production")
	if _, _, err := SetImagesInDir(staging, []Image{{Name: "ghcr.io/my-org/my-api-service", NewTag: "1.1.0"}}); err != nil {
		t.Fatal(err)
	}
	before, err := Render(context.Background(), repo, "kustomize/overlays/production", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prodBefore := mustRead(t, filepath.Join(production, "kustomization.yaml"))

	images, err := ReadImages(mustRead(t, filepath.Join(staging, "kustomization.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	_, changes, err := SetImagesInDir(production, images)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("ghcr.io/my-org/my-api-service: ghcr.io/my-org/my-api-service:1.0.0 -> ghcr.io/my-org/my-api-service:1.1.0\n", formatChanges(changes)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	prodAfter := mustRead(t, filepath.Join(production, "kustomization.yaml"))
	wantFile := strings.Replace(string(prodBefore), "newTag: 1.0.0 # keep in step", "newTag: 1.1.0 # keep in step", 1)
	if diff := cmp.Diff(wantFile, string(prodAfter)); diff != "" {
		t.Errorf("production kustomization (-want +got):\n%s", diff)
	}

	after, err := Render(context.Background(), repo, "kustomize/overlays/production", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := changedLines(string(before), string(after))
	want := []string{
		"      - image: ghcr.io/my-org/my-api-service:1.0.0",
		"      - image: ghcr.io/my-org/my-api-service:1.1.0",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rendered production diff (-want +got):\n%s", diff)
	}
}
