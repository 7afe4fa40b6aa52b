package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
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
// in the installations bucket (events.BucketInstallations), keyed
// installation.<id> and repo.<owner>.<repo>. Record keeps it current from
// installation and installation_repositories deliveries. It is safe for
// concurrent use.
type Registry struct {
	kv jetstream.KeyValue
}

// OpenRegistry opens the installations bucket.
func OpenRegistry(ctx context.Context, bus *events.Bus) (*Registry, error) {
	kv, err := bus.KeyValue(ctx, events.BucketInstallations)
	if err != nil {
		return nil, err
	}
	return &Registry{kv: kv}, nil
}

func installationKey(id int64) string { return events.KVKey("installation", fmt.Sprint(id)) }
func repoKey(owner, repo string) string {
	return events.KVKey("repo", owner, repo)
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

// Record keeps the registry current from one installation or
// installation_repositories delivery; it ignores other deliveries and
// deliveries without an installation. Idempotent: a delivery recorded
// again changes nothing.
//
//   - installation deleted or suspend: its repositories and itself are
//     forgotten;
//   - any other installation action: it and its repositories are recorded;
//   - installation_repositories: the repositories added are recorded, those
//     removed forgotten.
func (r *Registry) Record(ctx context.Context, env ghevent.Envelope) error {
	p, id := env.Payload, env.Installation
	if id == 0 {
		return nil
	}
	switch env.Event {
	case "installation":
		switch env.Action {
		case "deleted", "suspend":
			if err := r.removeRepos(ctx, p.Repositories); err != nil {
				return err
			}
			return r.DeleteInstallation(ctx, id)
		default:
			if err := r.PutInstallation(ctx, Installation{ID: id, Account: p.AccountLogin}); err != nil {
				return err
			}
			return r.addRepos(ctx, id, p.Repositories)
		}
	case "installation_repositories":
		if err := r.addRepos(ctx, id, p.RepositoriesAdded); err != nil {
			return err
		}
		return r.removeRepos(ctx, p.RepositoriesRemoved)
	}
	return nil
}

func (r *Registry) addRepos(ctx context.Context, id int64, fullNames []string) error {
	for _, full := range fullNames {
		if o, n, ok := strings.Cut(full, "/"); ok {
			if err := r.AddRepo(ctx, RepoInstallation{Owner: o, Repo: n, InstallationID: id}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Registry) removeRepos(ctx context.Context, fullNames []string) error {
	for _, full := range fullNames {
		if o, n, ok := strings.Cut(full, "/"); ok {
			if err := r.RemoveRepo(ctx, o, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Recording returns the Handler of installation and
// installation_repositories deliveries that records each in the registry
// (Record), then hands it to next (nil: to no one). Wrap it in
// ghevent.Middleware (ghevent.Route does), which gives it the delivery's
// envelope; recording again what was recorded changes nothing, so it needs
// no ledger.
func (r *Registry) Recording(next events.Handler) events.Handler {
	return func(ctx context.Context, d events.Delivery) error {
		env, ok := ghevent.FromContext(ctx)
		if !ok {
			return events.Permanent(fmt.Errorf("delivery %s: no GitHub envelope to record (the route lacks ghevent.Middleware)", d.Event.ID()))
		}
		if err := r.Record(ctx, env); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		return next(ctx, d)
	}
}

// Stores are what every role of promobot opens on the bus: the apps'
// records, the ledger, the leases, the installation registry and the
// frozen environments.
type Stores struct {
	Records  *Records
	Ledger   *events.Ledger
	Locks    *events.Locker
	Registry *Registry
	Freezes  *Freezes
	Merges   *Merges
}

// OpenStores opens the Stores on bus.
func OpenStores(ctx context.Context, bus *events.Bus) (Stores, error) {
	var s Stores
	var err error
	if s.Records, err = OpenRecords(ctx, bus); err != nil {
		return Stores{}, err
	}
	if s.Ledger, err = bus.Ledger(ctx); err != nil {
		return Stores{}, err
	}
	if s.Locks, err = bus.Locks(ctx); err != nil {
		return Stores{}, err
	}
	if s.Registry, err = OpenRegistry(ctx, bus); err != nil {
		return Stores{}, err
	}
	if s.Freezes, err = OpenFreezes(ctx, bus); err != nil {
		return Stores{}, err
	}
	if s.Merges, err = OpenMerges(ctx, bus); err != nil {
		return Stores{}, err
	}
	return s, nil
}
