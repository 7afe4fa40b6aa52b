package prbody

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/test/kit"
)

var (
	tagBump = Promotion{
		App: "my-api-service", From: "staging", To: "production",
		Images:   []Image{{Name: "ghcr.io/acme/api", From: Ref{NewTag: "1.2.3"}, To: Ref{NewTag: "1.3.0"}}},
		SourcePR: 12, SourceCommit: "4f1c2a9e8d7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a",
		RequestedBy: "alice", RepoURL: "https://github.com/acme/gitops",
	}
	several = Promotion{
		App: "shop", From: "qa", To: "staging",
		Images: []Image{
			{Name: "shop/web", From: Ref{NewName: "ghcr.io/acme/web", NewTag: "2.0.0"}, To: Ref{NewName: "ghcr.io/acme/web", NewTag: "2.1.0"}},
			{Name: "worker", From: Ref{NewTag: "1"}, To: Ref{NewName: "ghcr.io/acme/worker", NewTag: "1"}},
			{Name: "cache", To: Ref{Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
			{Name: "api", From: Ref{NewTag: "3.0", Digest: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, To: Ref{NewTag: "3.1", Digest: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}},
		},
		SourceCommit: "0a1b2c3d4e5f", Auto: true,
	}
)

func TestTitle(t *testing.T) {
	long := tagBump
	long.App = strings.Repeat("a", 300)
	tests := []struct {
		name string
		p    Promotion
		want string
	}{
		{name: "tag bump", p: tagBump, want: "Promote my-api-service to production: ghcr.io/acme/api 1.2.3 → 1.3.0"},
		{name: "several images", p: several, want: "Promote shop to staging: ghcr.io/acme/web 2.0.0 → 2.1.0 (+3 more images)"},
		{name: "new name", p: Promotion{App: "x", To: "prod", Images: []Image{several.Images[1]}}, want: "Promote x to prod: worker worker:1 → ghcr.io/acme/worker:1"},
		{name: "image the target lacks", p: Promotion{App: "x", To: "prod", Images: []Image{several.Images[2]}}, want: "Promote x to prod: cache (new) → sha256:0123456789ab"},
		{name: "tag and digest", p: Promotion{App: "x", To: "prod", Images: []Image{several.Images[3], several.Images[2]}}, want: "Promote x to prod: api 3.0@sha256:aaaaaaaaaaaa → 3.1@sha256:bbbbbbbbbbbb (+1 more image)"},
		{name: "no images", p: Promotion{App: "x", To: "prod"}, want: "Promote x to prod"},
		{name: "too long", p: long, want: "Promote " + strings.Repeat("a", 247) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Title(tt.p); got != tt.want {
				t.Errorf("Title = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBody(t *testing.T) {
	hostile := Promotion{App: "x", From: "a", To: "b", RequestedBy: "mallory",
		Images: []Image{{Name: "evil`|name", From: Ref{NewTag: "1"}, To: Ref{NewTag: "2 --> <script>"}},
			{Name: "a\\|b\n\n# heading", To: Ref{NewTag: "1"}},
			{Name: `<!-- promobot:promotion {"v":1,"app":"forged","from":"a","to":"b","images":[]} -->`, To: Ref{NewTag: "1"}}}}
	tests := []struct {
		name   string
		p      Promotion
		golden string
	}{
		{name: "tag bump by comment", p: tagBump, golden: "tag-bump.md"},
		{name: "several images, automatic", p: several, golden: "several-auto.md"},
		{name: "hostile values", p: hostile, golden: "hostile.md"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := Body(tt.p)
			kit.Golden(t, filepath.Join("testdata", tt.golden), body)
			got, err := ParsePromotionBlock(body)
			if err != nil {
				t.Fatalf("ParsePromotionBlock: %v", err)
			}
			want := tt.p
			want.RepoURL = ""
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePromotionBlock(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Promotion
		err  string
	}{
		{name: "no block", body: "Bumps images.", err: ErrNoBlock.Error()},
		{name: "not closed", body: `<!-- promobot:promotion {"v":1`, err: "promotion block is not closed"},
		{name: "damaged JSON", body: `<!-- promobot:promotion {"v":1,"app": -->`, err: "promotion block decode: unexpected EOF"},
		{name: "future version", body: `<!-- promobot:promotion {"v":2,"app":"x"} -->`, err: "promotion block version 2: want 1"},
		{name: "unknown fields are ignored", body: "edited by hand\n\n<!-- promobot:promotion {\"v\":1,\"app\":\"x\",\"from\":\"a\",\"to\":\"b\",\"images\":null,\"later\":true} -->\n", want: Promotion{App: "x", From: "a", To: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePromotionBlock(tt.body)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				if tt.name == "no block" && !errors.Is(err, ErrNoBlock) {
					t.Errorf("error is not ErrNoBlock")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
