package gitops

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// The repository work goes through go-git: the bot's image has no git.
// The cache is a bare repository; changes are written as tree objects, never
// checked out.

// change is what a job does under its path: files (name → content) replace
// the directory, or, when nil, the directory is removed.
type change struct {
	rel   string
	files map[string][]byte
}

// pushAuth returns the credential that authenticates fetches and pushes of
// an HTTP(S) repository with the merge request token, so that they need no
// credential of their own: GitHub takes it as the password of
// x-access-token, GitLab of oauth2. A repository URL that carries
// credentials, or is not HTTP(S), keeps them.
func pushAuth(cfg Config) transport.AuthMethod {
	mr := cfg.MergeRequest
	if mr == nil || mr.Token == "" {
		return nil
	}
	u, err := url.Parse(cfg.Repository)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Host == "" {
		return nil
	}
	user := "x-access-token"
	if mr.Provider == ProviderGitLab {
		user = "oauth2"
	}
	return &githttp.BasicAuth{Username: user, Password: mr.Token}
}

// open returns the cache repository in dir, created (bare, with the
// repository as origin) on first use. A cache an earlier version made with
// the git CLI (a clone with a work tree) is used as it is.
func (d *Driver) open(dir string) (*git.Repository, error) {
	r, err := git.PlainOpen(dir)
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create cache %s: %w", dir, err)
	}
	if r, err = git.PlainInit(dir, true); err != nil {
		return nil, fmt.Errorf("create cache %s: %w", dir, err)
	}
	if _, err := r.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{d.cfg.Repository}}); err != nil {
		return nil, fmt.Errorf("create cache %s: %w", dir, err)
	}
	return r, nil
}

// fetch opens the cache in dir and brings every remote branch into
// refs/remotes/origin/, pruning those gone.
func (d *Driver) fetch(ctx context.Context, dir string) (*git.Repository, error) {
	r, err := d.open(dir)
	if err != nil {
		return nil, err
	}
	err = r.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*"},
		Tags:       git.NoTags,
		Prune:      true,
		Force:      true,
		Auth:       d.auth,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return r, nil
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		// No branch at all: forget those seen before.
		refs, err := r.References()
		if err != nil {
			return nil, err
		}
		err = refs.ForEach(func(ref *plumbing.Reference) error {
			if strings.HasPrefix(ref.Name().String(), "refs/remotes/origin/") {
				return r.Storer.RemoveReference(ref.Name())
			}
			return nil
		})
		return r, err
	}
	return nil, d.gitErr(ctx, "fetch "+redact(d.cfg.Repository), err)
}

// push sets branch on the remote to commit (deletes it when commit is
// zero); force allows a non-fast-forward update. A push that changes
// nothing is no error.
func (d *Driver) push(ctx context.Context, r *git.Repository, commit plumbing.Hash, branch string, force bool) error {
	spec := commit.String() + ":refs/heads/" + branch
	switch {
	case commit.IsZero():
		spec = ":refs/heads/" + branch
	case force:
		spec = "+" + spec
	}
	err := r.PushContext(ctx, &git.PushOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{config.RefSpec(spec)}, Auth: d.auth})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return d.gitErr(ctx, "push "+branch+" to "+redact(d.cfg.Repository), err)
}

// resolve returns the commit rev names: a full commit id or a reference.
func resolve(r *git.Repository, rev string) (plumbing.Hash, bool) {
	h := plumbing.NewHash(rev)
	if !gitSHA.MatchString(rev) {
		ref, err := r.Reference(plumbing.ReferenceName(rev), true)
		if err != nil {
			return plumbing.ZeroHash, false
		}
		h = ref.Hash()
	}
	if _, err := r.CommitObject(h); err != nil {
		return plumbing.ZeroHash, false
	}
	return h, true
}

// isAncestor reports whether commit a is an ancestor of (or is) b, as git
// merge-base --is-ancestor does.
func isAncestor(r *git.Repository, a, b plumbing.Hash) (bool, error) {
	ca, err := r.CommitObject(a)
	if err != nil {
		return false, fmt.Errorf("commit %s: %w", short(a.String()), err)
	}
	cb, err := r.CommitObject(b)
	if err != nil {
		return false, fmt.Errorf("commit %s: %w", short(b.String()), err)
	}
	return ca.IsAncestor(cb)
}

// commitChange writes c on top of parent (zero: an empty tree) as a commit
// by the configured author. It returns the zero hash when the tree would
// not change.
func (d *Driver) commitChange(r *git.Repository, parent plumbing.Hash, c change, msg string) (plumbing.Hash, error) {
	s := r.Storer
	var base *object.Tree
	var parents []plumbing.Hash
	if !parent.IsZero() {
		pc, err := r.CommitObject(parent)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("commit %s: %w", short(parent.String()), err)
		}
		if base, err = pc.Tree(); err != nil {
			return plumbing.ZeroHash, err
		}
		parents = []plumbing.Hash{parent}
	}
	root, err := writeTree(s, base, strings.Split(c.rel, "/"), c.files)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write %s: %w", c.rel, err)
	}
	if root.IsZero() {
		if root, err = storeTree(s, nil); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	if base == nil {
		empty, err := storeTree(s, nil)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if root == empty {
			return plumbing.ZeroHash, nil
		}
	} else if root == base.Hash {
		return plumbing.ZeroHash, nil
	}
	sig := object.Signature{Name: d.cfg.AuthorName, Email: d.cfg.AuthorEmail, When: time.Now()}
	cm := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: root, ParentHashes: parents}
	obj := s.NewEncodedObject()
	if err := cm.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// writeTree stores base with the directory at path replaced by files (or
// removed when files is nil) and returns its hash; zero when it is empty.
func writeTree(s storer.EncodedObjectStorer, base *object.Tree, path []string, files map[string][]byte) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	var sub *object.Tree
	if base != nil {
		for _, e := range base.Entries {
			if e.Name != path[0] {
				entries = append(entries, e)
				continue
			}
			if e.Mode == filemode.Dir && len(path) > 1 {
				t, err := base.Tree(e.Name)
				if err != nil {
					return plumbing.ZeroHash, err
				}
				sub = t
			}
		}
	}
	var h plumbing.Hash
	var err error
	switch {
	case len(path) > 1:
		h, err = writeTree(s, sub, path[1:], files)
	case files != nil:
		h, err = writeFiles(s, files)
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !h.IsZero() {
		entries = append(entries, object.TreeEntry{Name: path[0], Mode: filemode.Dir, Hash: h})
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	return storeTree(s, entries)
}

// writeFiles stores a directory of regular files.
func writeFiles(s storer.EncodedObjectStorer, files map[string][]byte) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	for name, content := range files {
		obj := s.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, err := obj.Writer()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if _, err := w.Write(content); err != nil {
			return plumbing.ZeroHash, err
		}
		if err := w.Close(); err != nil {
			return plumbing.ZeroHash, err
		}
		h, err := s.SetEncodedObject(obj)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	return storeTree(s, entries)
}

// storeTree stores a tree of entries in git's order: by name, a directory
// sorting as if its name ended in "/".
func storeTree(s storer.EncodedObjectStorer, entries []object.TreeEntry) (plumbing.Hash, error) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(entries, func(a, b object.TreeEntry) int { return strings.Compare(key(a), key(b)) })
	obj := s.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// gitErr wraps a go-git failure of op: the context's error when it ended,
// else go-git's, with any credential in its text hidden.
func (d *Driver) gitErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	return fmt.Errorf("%s: %w", op, redactedError{err})
}

// redactedError shows err's text without credentials and one line long.
type redactedError struct{ err error }

func (e redactedError) Error() string { return sanitize(redact(e.err.Error()), 400) }
func (e redactedError) Unwrap() error { return e.err }
