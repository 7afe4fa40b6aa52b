package checkout_test

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/checkout"
)

// TestFetch: a fetched tarball is unpacked into a directory the caller
// owns; a failed request, a broken archive and one over the process's
// limits are errors naming the checkout, and leave nothing on disk.
func TestFetch(t *testing.T) {
	files := []entry{{name: "r-1/a", body: "0123456789"}, {name: "r-1/b/c", body: "x"}}
	refused := errors.New("503 Service Unavailable")
	tests := []struct {
		name     string
		open     func(context.Context) (io.ReadCloser, error)
		limits   checkout.Options
		want     []string
		wantErr  string
		tooLarge bool
	}{
		{name: "unpacked", open: serve(t, files), want: []string{"a: 0123456789", "b/c: x"}},
		{name: "request failed", open: func(context.Context) (io.ReadCloser, error) { return nil, refused },
			wantErr: "acme/gitops@1a2b3c4 tarball: 503 Service Unavailable"},
		{name: "not a tarball", open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(&emptyBody{}), nil },
			wantErr: "acme/gitops@1a2b3c4 tarball: gunzip: EOF"},
		{name: "over the process's limits", open: serve(t, files), limits: checkout.Options{MaxEntries: 1},
			wantErr: "acme/gitops@1a2b3c4 tarball: untar: more than 1 entries: repository too large", tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			checkout.SetLimits(tt.limits)
			t.Cleanup(func() { checkout.SetLimits(checkout.Options{}) })
			dir, err := checkout.Fetch(context.Background(), "acme/gitops@1a2b3c4", tt.open)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || errors.Is(err, checkout.ErrTooLarge) != tt.tooLarge {
					t.Fatalf("err = %v, want %q (too large: %v)", err, tt.wantErr, tt.tooLarge)
				}
				if left, _ := os.ReadDir(tmp); len(left) != 0 {
					t.Errorf("left on disk: %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tree(t, dir)); diff != "" {
				t.Errorf("checkout (-want +got):\n%s", diff)
			}
		})
	}
}

// serve opens a tarball of entries, as GitHub's tarball link would.
func serve(t *testing.T, entries []entry) func(context.Context) (io.ReadCloser, error) {
	return func(context.Context) (io.ReadCloser, error) { return io.NopCloser(tarball(t, entries)), nil }
}

// emptyBody is a response body with nothing in it.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
