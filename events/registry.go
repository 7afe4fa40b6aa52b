package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Installation is what promobot knows of one installation of the App.
type Installation struct {
	ID      int64  `json:"id"`
	Account string `json:"account"`
}

// RepoInstallation maps a repository to the installation serving it.
type RepoInstallation struct {
	Owner          string `json:"owner"`
	Repo           string `json:"repo"`
	InstallationID int64  `json:"installation_id"`
}

// Registry records which installations and repositories promobot serves,
// from installation and installation_repositories deliveries. It is safe
// for concurrent use.
type Registry struct {
	kv jetstream.KeyValue
}

// Registry opens the installations bucket.
func (b *Bus) Registry(ctx context.Context) (*Registry, error) {
	kv, err := b.KeyValue(ctx, BucketInstallations)
	if err != nil {
		return nil, err
	}
	return &Registry{kv: kv}, nil
}

func installationKey(id int64) string { return KVKey("installation", fmt.Sprint(id)) }
func repoKey(owner, repo string) string {
	return KVKey("repo", owner, repo)
}

// PutInstallation records an installation. Idempotent.
func (r *Registry) PutInstallation(ctx context.Context, in Installation) error {
	raw, _ := json.Marshal(in)
	if _, err := r.kv.Put(ctx, installationKey(in.ID), raw); err != nil {
		return fmt.Errorf("installation %d record: %w", in.ID, err)
	}
	return nil
}

// DeleteInstallation forgets an installation. Repositories are removed
// separately with RemoveRepo. Idempotent.
func (r *Registry) DeleteInstallation(ctx context.Context, id int64) error {
	if err := r.kv.Delete(ctx, installationKey(id)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("installation %d forget: %w", id, err)
	}
	return nil
}

// AddRepo records that installation id serves owner/repo. Idempotent.
func (r *Registry) AddRepo(ctx context.Context, ri RepoInstallation) error {
	raw, _ := json.Marshal(ri)
	if _, err := r.kv.Put(ctx, repoKey(ri.Owner, ri.Repo), raw); err != nil {
		return fmt.Errorf("%s/%s record installation: %w", ri.Owner, ri.Repo, err)
	}
	return nil
}

// RemoveRepo forgets owner/repo. Idempotent.
func (r *Registry) RemoveRepo(ctx context.Context, owner, repo string) error {
	if err := r.kv.Delete(ctx, repoKey(owner, repo)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%s/%s forget installation: %w", owner, repo, err)
	}
	return nil
}

// ErrNotInstalled is returned by Repo for a repository no installation serves.
var ErrNotInstalled = errors.New("repository not installed")

// Repo returns the installation serving owner/repo, or ErrNotInstalled.
func (r *Registry) Repo(ctx context.Context, owner, repo string) (RepoInstallation, error) {
	var ri RepoInstallation
	e, err := r.kv.Get(ctx, repoKey(owner, repo))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ri, fmt.Errorf("%s/%s: %w", owner, repo, ErrNotInstalled)
	}
	if err != nil {
		return ri, fmt.Errorf("%s/%s read installation: %w", owner, repo, err)
	}
	if err := json.Unmarshal(e.Value(), &ri); err != nil {
		return ri, fmt.Errorf("%s/%s decode installation: %w", owner, repo, err)
	}
	return ri, nil
}

// Repos lists every repository promobot serves.
func (r *Registry) Repos(ctx context.Context) ([]RepoInstallation, error) {
	lister, err := r.kv.ListKeysFiltered(ctx, "repo.>")
	if err != nil {
		return nil, fmt.Errorf("installations list: %w", err)
	}
	var out []RepoInstallation
	for k := range lister.Keys() {
		e, err := r.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var ri RepoInstallation
		if json.Unmarshal(e.Value(), &ri) == nil {
			out = append(out, ri)
		}
	}
	return out, nil
}
