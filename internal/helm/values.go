package helm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/promobot/promobot/internal/checkout"
)

// sources are the repositories value files are read from.
type sources struct {
	repo     *checkout.Repo
	chartDir string // resolved, repository-relative
	refs     refRepos
	env      map[string]string // the build environment, for envsubst
}

// refRepos are the opened repositories of an Application's `ref:` sources.
type refRepos map[string]*checkout.Repo

func openRefs(dirs map[string]string) (refRepos, error) {
	refs := refRepos{}
	names := make([]string, 0, len(dirs))
	for name := range dirs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r, err := checkout.Open(dirs[name])
		if err != nil {
			refs.close()
			return nil, fmt.Errorf("ref source %s: %w", name, err)
		}
		refs[name] = r
	}
	return refs, nil
}

func (r refRepos) close() {
	for _, repo := range r {
		repo.Close()
	}
}

// locate returns the repository and the repository-relative name of a
// value file or file parameter as the Application writes it: relative to
// the chart directory, relative to the repository root when it starts
// with "/" (as Argo CD reads it), or "$<ref>/<path>" in the repository of
// a ref source; the build environment is substituted into the path first.
// A name that leaves its repository, or a URL, is refused.
func (s *sources) locate(name string) (*checkout.Repo, string, error) {
	if ref, rest, ok := strings.Cut(filepath.ToSlash(name), "/"); ok && strings.HasPrefix(ref, "$") {
		repo, ok := s.refs[strings.TrimPrefix(ref, "$")]
		if !ok {
			return nil, "", fmt.Errorf("value file %s: no ref source named %s", name, strings.TrimPrefix(ref, "$"))
		}
		return local(repo, name, envsubst(rest, s.env))
	}
	name = envsubst(name, s.env)
	if strings.Contains(name, "://") {
		return nil, "", fmt.Errorf("value file %s: %w: promobot reads value files from the repository only", name, ErrRefused)
	}
	slashed := filepath.ToSlash(name)
	if path.IsAbs(slashed) {
		return local(s.repo, name, strings.TrimLeft(slashed, "/"))
	}
	return local(s.repo, name, path.Join(s.chartDir, slashed))
}

// envsubst substitutes the build environment's variables into s as Argo
// CD does (os.Expand; unset variables are empty, $$ is a "$").
func envsubst(s string, env map[string]string) string {
	return os.Expand(s, func(name string) string {
		if name == "$" {
			return "$"
		}
		return env[name]
	})
}

// local checks that rel (repository-relative, slash-separated) stays in
// repo, links included, and returns its real name.
func local(repo *checkout.Repo, name, rel string) (*checkout.Repo, string, error) {
	clean := path.Clean(rel)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, "", fmt.Errorf("value file %s: %w", name, refused(&checkout.EscapeError{Path: clean}))
	}
	real, err := repo.Resolve(clean)
	if err != nil {
		return nil, "", fmt.Errorf("value file %s: %w", name, refused(err))
	}
	return repo, real, nil
}

// read reads a value file or file parameter, refusing one larger than
// helm's limit for a chart file (loader.MaxDecompressedFileSize).
func (s *sources) read(name string) ([]byte, error) {
	repo, real, err := s.locate(name)
	if err != nil {
		return nil, err
	}
	if info, err := repo.Stat(real); err == nil && info.Size() > loader.MaxDecompressedFileSize {
		return nil, fmt.Errorf("value file %s: %w: larger than %d bytes", name, ErrRefused, loader.MaxDecompressedFileSize)
	}
	data, err := repo.ReadFile(real)
	if err != nil {
		return nil, fmt.Errorf("value file %s: %w", name, err)
	}
	return data, nil
}

// values merges the values of opts as helm's values.Options.MergeValues
// merges the flags Argo CD gives `helm template`: the value files, then
// Values (or ValuesObject), then --set, --set-string and --set-file.
func values(s *sources, opts Options) (map[string]any, error) {
	base := map[string]any{}
	for _, f := range opts.ValueFiles {
		data, err := s.read(f)
		if errors.Is(err, fs.ErrNotExist) && opts.IgnoreMissingValueFiles {
			continue
		}
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%w: value file %s: %w", ErrRender, f, err)
		}
		base = mergeMaps(base, m)
	}
	inline, err := inlineValues(opts)
	if err != nil {
		return nil, err
	}
	base = mergeMaps(base, inline)
	for _, force := range []bool{false, true} {
		for _, p := range opts.Parameters {
			if p.ForceString != force {
				continue
			}
			parse := strvals.ParseInto
			if force {
				parse = strvals.ParseIntoString
			}
			if err := parse(p.Name+"="+escapeCommas(envsubst(p.Value, opts.Env)), base); err != nil {
				return nil, fmt.Errorf("%w: parameter %s: %w", ErrRender, p.Name, err)
			}
		}
	}
	for _, p := range opts.FileParameters {
		reader := func(rs []rune) (any, error) {
			data, err := s.read(string(rs))
			return string(data), err
		}
		if err := strvals.ParseIntoFile(p.Name+"="+p.Path, base, reader); err != nil {
			return nil, fmt.Errorf("file parameter %s: %w", p.Name, err)
		}
	}
	return base, nil
}

// inlineValues returns spec.source.helm.valuesObject, else values.
func inlineValues(opts Options) (map[string]any, error) {
	if opts.ValuesObject != nil {
		return opts.ValuesObject, nil
	}
	m := map[string]any{}
	if strings.TrimSpace(opts.Values) == "" {
		return m, nil
	}
	if err := yaml.Unmarshal([]byte(opts.Values), &m); err != nil {
		return nil, fmt.Errorf("%w: values: %w", ErrRender, err)
	}
	return m, nil
}

// escapeCommas escapes the commas of a parameter's value unless it is a
// helm list ("{a,b}"), as Argo CD does before passing it to --set, so
// "a,b" is one value rather than two assignments.
func escapeCommas(v string) string {
	if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == ',' && (i == 0 || v[i-1] != '\\') {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// mergeMaps merges b into a copy of a, b winning, maps merged key by key:
// helm's own merge of values flags (pkg/cli/values).
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v, ok := v.(map[string]any); ok {
			if bv, ok := out[k]; ok {
				if bv, ok := bv.(map[string]any); ok {
					out[k] = mergeMaps(bv, v)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}
