package githubapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// zeroSHA is what GitHub sends as "before"/"after" for a created/deleted ref.
const zeroSHA = "0000000000000000000000000000000000000000"

// emptyTreeSHA is git's well-known SHA-1 of the empty tree.
const emptyTreeSHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// gitRepo is a bare repository on disk driven through the git CLI, so every
// object and ref the API shows is git's own.
type gitRepo struct {
	dir    string // the bare repository
	tmpDir string // scratch space for temporary index files
}

// identity is an author or committer line.
type identity struct {
	Name  string
	Email string
	When  time.Time
}

// gitCommit is a parsed commit object.
type gitCommit struct {
	SHA       string
	Tree      string
	Parents   []string
	Author    identity
	Committer identity
	Message   string
}

// treeEntry is one line of `git ls-tree -l`.
type treeEntry struct {
	Mode string
	Type string
	SHA  string
	Size int64 // -1 for trees and submodules
	Path string
}

// fileChange is one file of a diff between two commits.
type fileChange struct {
	Status    string // git's letter: A, D, M, T, R
	Path      string
	OldPath   string // for renames
	OldSHA    string
	NewSHA    string
	Additions int
	Deletions int
	Binary    bool
	Patch     string
}

var errNotFound = errors.New("not found")

func gitEnv(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=promobot-local",
		"GIT_AUTHOR_EMAIL=noreply@localhost",
		"GIT_COMMITTER_NAME=promobot-local",
		"GIT_COMMITTER_EMAIL=noreply@localhost",
	}
	return append(env, extra...)
}

// run runs git against the bare repository and returns stdout.
func (g *gitRepo) run(ctx context.Context, stdin []byte, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir=" + g.dir}, args...)...)
	cmd.Env = gitEnv(env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func initBare(ctx context.Context, dir, tmpDir, branch string) (*gitRepo, error) {
	cmd := exec.CommandContext(ctx, "git", "init", "--quiet", "--bare", "--initial-branch="+branch, dir)
	cmd.Env = gitEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git init %s: %w: %s", dir, err, out)
	}
	g := &gitRepo{dir: dir, tmpDir: tmpDir}
	// Allow `git clone` of the bare repository over HTTP and keep objects
	// loose-friendly for tests that inspect them.
	if _, err := g.run(ctx, nil, nil, "config", "http.uploadpack", "true"); err != nil {
		return nil, err
	}
	return g, nil
}

// resolve returns the SHA a revision names, peeled to the wanted type
// ("commit", "tree" or "" for any object), or errNotFound.
func (g *gitRepo) resolve(ctx context.Context, rev, typ string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", errNotFound
	}
	spec := rev
	if typ != "" {
		spec += "^{" + typ + "}"
	}
	out, err := g.run(ctx, nil, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", spec)
	if err != nil {
		return "", errNotFound
	}
	return strings.TrimSpace(string(out)), nil
}

// resolveRef resolves a user-facing ref as GitHub does: a full SHA, a branch,
// a tag, or a fully qualified ref.
func (g *gitRepo) resolveRef(ctx context.Context, ref, typ string) (string, error) {
	if isSHA(ref) {
		return g.resolve(ctx, ref, typ)
	}
	for _, candidate := range []string{"refs/heads/" + ref, "refs/tags/" + ref, ref} {
		if !strings.HasPrefix(candidate, "refs/") {
			continue
		}
		if sha, err := g.resolve(ctx, candidate, typ); err == nil {
			return sha, nil
		}
	}
	if len(ref) >= 7 && len(ref) < 40 && isHex(ref) {
		return g.resolve(ctx, ref, typ)
	}
	return "", errNotFound
}

// refSHA returns the SHA a fully qualified ref points at, or "" when absent.
func (g *gitRepo) refSHA(ctx context.Context, ref string) string {
	out, err := g.run(ctx, nil, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", ref)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// objectType returns blob, tree, commit or tag, or errNotFound.
func (g *gitRepo) objectType(ctx context.Context, sha string) (string, error) {
	if !isSHA(sha) {
		return "", errNotFound
	}
	out, err := g.run(ctx, nil, nil, "cat-file", "-t", sha)
	if err != nil {
		return "", errNotFound
	}
	return strings.TrimSpace(string(out)), nil
}

func (g *gitRepo) catFile(ctx context.Context, typ, sha string) ([]byte, error) {
	return g.run(ctx, nil, nil, "cat-file", typ, sha)
}

func (g *gitRepo) hashObject(ctx context.Context, content []byte) (string, error) {
	out, err := g.run(ctx, content, nil, "hash-object", "-w", "--stdin")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// commitTree writes a commit object. The message is stored verbatim with a
// trailing newline, as GitHub does.
func (g *gitRepo) commitTree(ctx context.Context, tree string, parents []string, author, committer identity, message string) (string, error) {
	args := []string{"commit-tree", tree}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	args = append(args, "-F", "-")
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	env := []string{
		"GIT_AUTHOR_NAME=" + author.Name, "GIT_AUTHOR_EMAIL=" + author.Email,
		"GIT_AUTHOR_DATE=" + gitDate(author.When),
		"GIT_COMMITTER_NAME=" + committer.Name, "GIT_COMMITTER_EMAIL=" + committer.Email,
		"GIT_COMMITTER_DATE=" + gitDate(committer.When),
	}
	out, err := g.run(ctx, []byte(message), env, args...)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func gitDate(t time.Time) string {
	_, off := t.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("@%d %c%02d%02d", t.Unix(), sign, off/3600, (off%3600)/60)
}

// updateRef moves ref to sha; when old is non-empty the update only happens
// if ref still points at old (zeroSHA: ref must not exist).
func (g *gitRepo) updateRef(ctx context.Context, ref, sha, old string) error {
	args := []string{"update-ref", ref, sha}
	if old != "" {
		args = append(args, old)
	}
	_, err := g.run(ctx, nil, nil, args...)
	return err
}

func (g *gitRepo) deleteRef(ctx context.Context, ref string) error {
	_, err := g.run(ctx, nil, nil, "update-ref", "-d", ref)
	return err
}

// refs lists refs under prefix (e.g. "refs/heads/") as name → SHA, sorted.
func (g *gitRepo) refs(ctx context.Context, prefix string) ([][2]string, error) {
	out, err := g.run(ctx, nil, nil, "for-each-ref", "--format=%(refname) %(objectname)", "--sort=refname", prefix)
	if err != nil {
		return nil, err
	}
	var refs [][2]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, sha, ok := strings.Cut(line, " ")
		if ok {
			refs = append(refs, [2]string{name, sha})
		}
	}
	return refs, nil
}

func (g *gitRepo) readCommit(ctx context.Context, sha string) (*gitCommit, error) {
	if t, err := g.objectType(ctx, sha); err != nil || t != "commit" {
		return nil, errNotFound
	}
	raw, err := g.catFile(ctx, "commit", sha)
	if err != nil {
		return nil, err
	}
	c := &gitCommit{SHA: sha}
	head, msg, _ := strings.Cut(string(raw), "\n\n")
	c.Message = strings.TrimSuffix(msg, "\n")
	for _, line := range strings.Split(head, "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "tree":
			c.Tree = val
		case "parent":
			c.Parents = append(c.Parents, val)
		case "author":
			c.Author = parseIdentity(val)
		case "committer":
			c.Committer = parseIdentity(val)
		}
	}
	return c, nil
}

// parseIdentity parses "Name <email> 1700000000 +0100".
func parseIdentity(s string) identity {
	var id identity
	lt, gt := strings.Index(s, "<"), strings.LastIndex(s, ">")
	if lt < 0 || gt < lt {
		return id
	}
	id.Name = strings.TrimSpace(s[:lt])
	id.Email = s[lt+1 : gt]
	fields := strings.Fields(s[gt+1:])
	if len(fields) >= 1 {
		if sec, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			id.When = time.Unix(sec, 0).UTC()
		}
	}
	return id
}

// lsTree lists a tree; recursive includes subtrees and their contents.
func (g *gitRepo) lsTree(ctx context.Context, tree string, recursive bool) ([]treeEntry, error) {
	args := []string{"ls-tree", "-z", "-l"}
	if recursive {
		args = append(args, "-r", "-t")
	}
	out, err := g.run(ctx, nil, nil, append(args, tree)...)
	if err != nil {
		return nil, err
	}
	var entries []treeEntry
	for _, rec := range strings.Split(string(out), "\x00") {
		if rec == "" {
			continue
		}
		meta, path, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		f := strings.Fields(meta)
		if len(f) != 4 {
			continue
		}
		size := int64(-1)
		if n, err := strconv.ParseInt(f[3], 10, 64); err == nil {
			size = n
		}
		entries = append(entries, treeEntry{Mode: f[0], Type: f[1], SHA: f[2], Size: size, Path: path})
	}
	return entries, nil
}

// entryAt returns the tree entry at path inside tree ("" is the tree itself).
func (g *gitRepo) entryAt(ctx context.Context, tree, path string) (treeEntry, error) {
	path = strings.Trim(path, "/")
	if path == "" {
		return treeEntry{Mode: "040000", Type: "tree", SHA: tree, Size: -1}, nil
	}
	out, err := g.run(ctx, nil, nil, "ls-tree", "-z", "-l", tree, "--", path)
	if err != nil {
		return treeEntry{}, err
	}
	rec := strings.TrimSuffix(string(out), "\x00")
	meta, p, ok := strings.Cut(rec, "\t")
	if !ok || p != path {
		return treeEntry{}, errNotFound
	}
	f := strings.Fields(meta)
	size := int64(-1)
	if n, err := strconv.ParseInt(f[3], 10, 64); err == nil {
		size = n
	}
	return treeEntry{Mode: f[0], Type: f[1], SHA: f[2], Size: size, Path: p}, nil
}

// indexEdit is one change to a tree built through a temporary index.
type indexEdit struct {
	Path   string
	Mode   string // 100644, 100755, 120000, 160000 or 040000
	SHA    string // "" deletes Path (a file or a whole directory)
	IsTree bool
}

// writeTree applies edits on top of base ("" for an empty tree) and writes the
// resulting tree object, using a throw-away index file.
func (g *gitRepo) writeTree(ctx context.Context, base string, edits []indexEdit) (string, error) {
	f, err := os.CreateTemp(g.tmpDir, "index-*")
	if err != nil {
		return "", fmt.Errorf("temporary index: %w", err)
	}
	index := f.Name()
	f.Close()
	os.Remove(index) // git wants to create it itself
	defer os.Remove(index)
	defer os.Remove(index + ".lock")
	env := []string{"GIT_INDEX_FILE=" + index}

	if base != "" {
		if _, err := g.run(ctx, nil, env, "read-tree", base); err != nil {
			return "", err
		}
	} else if _, err := g.run(ctx, nil, env, "read-tree", "--empty"); err != nil {
		return "", err
	}

	var batch bytes.Buffer
	flush := func() error {
		if batch.Len() == 0 {
			return nil
		}
		_, err := g.run(ctx, batch.Bytes(), env, "update-index", "--add", "--replace", "-z", "--index-info")
		batch.Reset()
		return err
	}
	remove := func(path string) error {
		if err := flush(); err != nil {
			return err
		}
		out, err := g.run(ctx, nil, env, "ls-files", "-z", "--cached", "--", ":(literal)"+path)
		if err != nil {
			return err
		}
		var rm bytes.Buffer
		for _, p := range strings.Split(string(out), "\x00") {
			if p == path || strings.HasPrefix(p, path+"/") {
				fmt.Fprintf(&rm, "0 %s\t%s\x00", zeroSHA, p)
			}
		}
		if rm.Len() == 0 {
			return nil
		}
		_, err = g.run(ctx, rm.Bytes(), env, "update-index", "-z", "--index-info")
		return err
	}
	for _, e := range edits {
		switch {
		case e.SHA == "":
			if err := remove(e.Path); err != nil {
				return "", err
			}
		case e.IsTree:
			if err := remove(e.Path); err != nil {
				return "", err
			}
			if _, err := g.run(ctx, nil, env, "read-tree", "--prefix="+e.Path+"/", e.SHA); err != nil {
				return "", err
			}
		default:
			fmt.Fprintf(&batch, "%s %s\t%s\x00", e.Mode, e.SHA, e.Path)
		}
	}
	if err := flush(); err != nil {
		return "", err
	}
	out, err := g.run(ctx, nil, env, "write-tree")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// importDir writes the files of dir (as `git add -A` sees them) as a tree.
func (g *gitRepo) importDir(ctx context.Context, dir string) (string, error) {
	f, err := os.CreateTemp(g.tmpDir, "index-*")
	if err != nil {
		return "", fmt.Errorf("temporary index: %w", err)
	}
	index := f.Name()
	f.Close()
	os.Remove(index)
	defer os.Remove(index)
	env := []string{"GIT_INDEX_FILE=" + index, "GIT_WORK_TREE=" + dir}
	if _, err := g.run(ctx, nil, env, "--work-tree="+dir, "add", "-A", "--", ":/"); err != nil {
		return "", err
	}
	out, err := g.run(ctx, nil, env, "write-tree")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// mergeTree merges two commits without a work tree. conflict reports whether
// the merge has conflicts (the tree is then unusable).
func (g *gitRepo) mergeTree(ctx context.Context, ours, theirs string) (tree string, conflict bool, err error) {
	out, err := g.run(ctx, nil, nil, "merge-tree", "--write-tree", "--no-messages", ours, theirs)
	var exit *exec.ExitError
	if err != nil && errors.As(err, &exit) && exit.ExitCode() == 1 {
		return strings.SplitN(string(out), "\n", 2)[0], true, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), false, nil
}

// replay copies the commits of head that onto lacks, oldest first, onto
// onto (as a rebase merge does: authors and messages kept, committer
// set), without a work tree. It returns the last copy, or conflict when a
// commit does not apply.
func (g *gitRepo) replay(ctx context.Context, onto, head string, committer identity) (string, bool, error) {
	shas, err := g.revList(ctx, head, onto)
	if err != nil {
		return "", false, err
	}
	tip := onto
	for _, sha := range shas {
		c, err := g.readCommit(ctx, sha)
		if err != nil {
			return "", false, err
		}
		if len(c.Parents) != 1 {
			return "", true, nil // merge commits are not rebased
		}
		tree, conflict, err := g.pick(ctx, tip, c, committer)
		if err != nil || conflict {
			return "", conflict, err
		}
		if tip, err = g.commitTree(ctx, tree, []string{tip}, c.Author, committer, c.Message); err != nil {
			return "", false, err
		}
	}
	return tip, false, nil
}

// pick applies c's change (from its parent) to onto's tree: a three-way
// merge whose base is c's parent. git merge-tree before 2.40 takes no
// --merge-base, so the merge runs between stand-in commits of the two
// trees that share a root holding the parent's tree.
func (g *gitRepo) pick(ctx context.Context, onto string, c *gitCommit, id identity) (string, bool, error) {
	treeOf := func(rev string) (string, error) { return g.resolve(ctx, rev, "tree") }
	baseTree, err := treeOf(c.Parents[0])
	if err != nil {
		return "", false, err
	}
	ontoTree, err := treeOf(onto)
	if err != nil {
		return "", false, err
	}
	root, err := g.commitTree(ctx, baseTree, nil, id, id, "base")
	if err != nil {
		return "", false, err
	}
	ours, err := g.commitTree(ctx, ontoTree, []string{root}, id, id, "ours")
	if err != nil {
		return "", false, err
	}
	theirs, err := g.commitTree(ctx, c.Tree, []string{root}, id, id, "theirs")
	if err != nil {
		return "", false, err
	}
	return g.mergeTree(ctx, ours, theirs)
}

// mergeBase returns the best common ancestor of a and b, or "".
func (g *gitRepo) mergeBase(ctx context.Context, a, b string) string {
	out, err := g.run(ctx, nil, nil, "merge-base", a, b)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// isAncestor reports whether a is an ancestor of (or equal to) b.
func (g *gitRepo) isAncestor(ctx context.Context, a, b string) bool {
	_, err := g.run(ctx, nil, nil, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// revList returns the commits reachable from include but not from any of
// exclude, oldest first.
func (g *gitRepo) revList(ctx context.Context, include string, exclude ...string) ([]string, error) {
	args := []string{"rev-list", "--reverse", "--topo-order", include}
	for _, e := range exclude {
		if e != "" {
			args = append(args, "^"+e)
		}
	}
	out, err := g.run(ctx, nil, nil, args...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// changedPaths lists the files a commit changed relative to its first parent
// (or all files for a root commit), without rename detection, as a push
// webhook reports them.
func (g *gitRepo) changedPaths(ctx context.Context, c *gitCommit) (added, removed, modified []string, err error) {
	args := []string{"diff-tree", "-r", "-z", "--no-renames", "--name-status"}
	if len(c.Parents) == 0 {
		args = append(args, "--root", c.SHA)
	} else {
		args = append(args, c.Parents[0], c.SHA)
	}
	out, err := g.run(ctx, nil, nil, args...)
	if err != nil {
		return nil, nil, nil, err
	}
	fields := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	added, removed, modified = []string{}, []string{}, []string{}
	for i := 0; i+1 < len(fields); i += 2 {
		switch fields[i][:1] {
		case "A":
			added = append(added, fields[i+1])
		case "D":
			removed = append(removed, fields[i+1])
		default:
			modified = append(modified, fields[i+1])
		}
	}
	return added, removed, modified, nil
}

// diff returns the file changes from a to b (commits or trees) with rename
// detection, line counts and per-file patches, as compare and PR files show.
func (g *gitRepo) diff(ctx context.Context, a, b string) ([]fileChange, error) {
	if a == "" {
		a = emptyTreeSHA
	}
	raw, err := g.run(ctx, nil, nil, "diff", "--no-color", "--no-ext-diff", "-z", "-M", "--raw", "--numstat", "--abbrev=40", a, b)
	if err != nil {
		return nil, err
	}
	changes, err := parseRawNumstat(raw)
	if err != nil {
		return nil, err
	}
	patch, err := g.run(ctx, nil, nil, "diff", "--no-color", "--no-ext-diff", "-M", "--full-index", a, b)
	if err != nil {
		return nil, err
	}
	patches := splitPatch(patch)
	for i := range changes {
		if p, ok := patches[changes[i].Path]; ok {
			changes[i].Patch = p
		}
	}
	return changes, nil
}

// parseRawNumstat parses `git diff -z --raw --numstat` output.
func parseRawNumstat(raw []byte) ([]fileChange, error) {
	fields := strings.Split(string(raw), "\x00")
	var changes []fileChange
	byPath := map[string]int{}
	i := 0
	for i < len(fields) {
		f := fields[i]
		if f == "" {
			i++
			continue
		}
		if strings.HasPrefix(f, ":") {
			meta := strings.Fields(f)
			if len(meta) < 5 {
				return nil, fmt.Errorf("diff raw line %q", f)
			}
			c := fileChange{OldSHA: meta[2], NewSHA: meta[3], Status: meta[4][:1]}
			if c.Status == "R" || c.Status == "C" {
				if i+2 >= len(fields) {
					return nil, fmt.Errorf("diff raw rename %q", f)
				}
				c.OldPath, c.Path = fields[i+1], fields[i+2]
				i += 3
			} else {
				if i+1 >= len(fields) {
					return nil, fmt.Errorf("diff raw line %q", f)
				}
				c.Path = fields[i+1]
				i += 2
			}
			byPath[c.Path] = len(changes)
			changes = append(changes, c)
			continue
		}
		// numstat: "add\tdel\tpath" or "add\tdel\t" followed by old and new path.
		parts := strings.SplitN(f, "\t", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("diff numstat line %q", f)
		}
		path := parts[2]
		next := i + 1
		if path == "" && i+2 < len(fields) {
			path = fields[i+2]
			next = i + 3
		}
		if idx, ok := byPath[path]; ok {
			if parts[0] == "-" {
				changes[idx].Binary = true
			} else {
				changes[idx].Additions, _ = strconv.Atoi(parts[0])
				changes[idx].Deletions, _ = strconv.Atoi(parts[1])
			}
		}
		i = next
	}
	return changes, nil
}

// splitPatch splits a unified diff into per-file hunks keyed by the new path,
// keeping only the part GitHub shows in "patch" (from the first @@ on).
func splitPatch(patch []byte) map[string]string {
	out := map[string]string{}
	for _, section := range strings.Split("\n"+string(patch), "\ndiff --git ")[1:] {
		lines := strings.SplitAfter(section, "\n")
		path := ""
		for _, l := range lines {
			if strings.HasPrefix(l, "+++ b/") {
				path = strings.TrimSuffix(strings.TrimPrefix(l, "+++ b/"), "\n")
			} else if strings.HasPrefix(l, "+++ /dev/null") {
				for _, m := range lines {
					if strings.HasPrefix(m, "--- a/") {
						path = strings.TrimSuffix(strings.TrimPrefix(m, "--- a/"), "\n")
					}
				}
			} else if strings.HasPrefix(l, "rename to ") && path == "" {
				path = strings.TrimSuffix(strings.TrimPrefix(l, "rename to "), "\n")
			}
		}
		idx := strings.Index(section, "\n@@")
		if path == "" || idx < 0 {
			continue
		}
		out[path] = strings.TrimSuffix(section[idx+1:], "\n")
	}
	return out
}

// archive streams a gzipped tarball of commit, every path under prefix.
func (g *gitRepo) archive(ctx context.Context, w io.Writer, commit, prefix string) error {
	cmd := exec.CommandContext(ctx, "git", "--git-dir="+g.dir, "archive", "--format=tar.gz", "--prefix="+prefix, commit)
	cmd.Env = gitEnv()
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git archive %s: %w: %s", commit, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func isSHA(s string) bool { return len(s) == 40 && isHex(s) }

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}
