package checkout_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/checkout"
)

type entry struct {
	name, body, link string
	typ              byte
}

func tarball(t *testing.T, entries []entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.link, Size: int64(len(e.body))}
		if e.typ == tar.TypeXGlobalHeader {
			h = &tar.Header{Name: e.name, Typeflag: e.typ, PAXRecords: map[string]string{"comment": "abc1234"}}
		}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(e.body))
		}
	}
	_ = tw.Close()
	_ = gz.Close()
	return &buf
}

// tree lists dir's files and links as "path" or "path -> target".
func tree(t *testing.T, dir string) []string {
	var out []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, rel+" -> "+l)
		case info.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			out = append(out, rel+": "+string(b))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestUnpack(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		want    []string
		wantErr string
	}{
		{name: "github layout", entries: []entry{
			{name: "my-org-cluster-config-abc1234/", typ: tar.TypeDir},
			{name: "my-org-cluster-config-abc1234/apps/app.yaml", body: "kind: Application"},
			{name: "my-org-cluster-config-abc1234/kustomize/base/kustomization.yaml", body: "resources: []"},
		}, want: []string{"apps/app.yaml: kind: Application", "kustomize/base/kustomization.yaml: resources: []"}},
		{name: "pax header and hard link dropped", entries: []entry{
			{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
			{name: "r-1/a.yaml", body: "a"},
			{name: "r-1/b.yaml", link: "r-1/a.yaml", typ: tar.TypeLink},
		}, want: []string{"a.yaml: a"}},
		{name: "relative link inside kept", entries: []entry{
			{name: "r-1/base/x.yaml", body: "x"},
			{name: "r-1/overlay/x.yaml", link: "../base/x.yaml", typ: tar.TypeSymlink},
		}, want: []string{"base/x.yaml: x", "overlay/x.yaml -> ../base/x.yaml"}},
		{name: "links leaving the checkout dropped", entries: []entry{
			{name: "r-1/passwd", link: "/etc/passwd", typ: tar.TypeSymlink},
			{name: "r-1/up", link: "../../etc", typ: tar.TypeSymlink},
			{name: "r-1/ok.yaml", body: "ok"},
		}, want: []string{"ok.yaml: ok"}},
		{name: "entry escaping refused", entries: []entry{
			{name: "r-1/../../evil.yaml", body: "x"},
		}, wantErr: "escapes the checkout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := checkout.Unpack(tarball(t, tt.entries))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if dir != "" {
					t.Errorf("a failed unpack returned %s", dir)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			if diff := cmp.Diff(tt.want, tree(t, dir)); diff != "" {
				t.Errorf("checkout (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := checkout.Unpack(strings.NewReader("not gzip")); err == nil || !strings.Contains(err.Error(), "gunzip") {
		t.Errorf("not a tarball: %v", err)
	}
}
