package gitops

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// goGitRepo creates a bare repository with go-git, with README.md
// committed on main, and returns its path.
func goGitRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "platform.git")
	r, err := git.PlainInit(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Storer
	tree, err := writeTree(s, nil, []string{"docs"}, map[string][]byte{"README.md": []byte("platform repo\n")})
	if err != nil {
		t.Fatal(err)
	}
	sig := object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}
	obj := s.NewEncodedObject()
	if err := (&object.Commit{Author: sig, Committer: sig, Message: "init\n", TreeHash: tree}).Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := s.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetReference(plumbing.NewHashReference("refs/heads/main", h)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// goGitFiles lists the files on branch of the bare repository, read with
// go-git; nil when the branch does not exist.
func goGitFiles(t *testing.T, bare, branch string) []string {
	t.Helper()
	r, err := git.PlainOpen(bare)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	files, err := c.Files()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := files.ForEach(func(f *object.File) error { names = append(names, f.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	return names
}

// smartHTTP serves the bare repository at /platform.git with git's smart
// HTTP protocol, implemented by go-git's server: no git binary on either
// side. Requests without want as their Authorization header get 401; both
// kinds are counted.
func smartHTTP(t *testing.T, bare, want string) (repoURL string, authorized, refused *atomic.Int64) {
	t.Helper()
	srv := server.NewServer(server.NewFilesystemLoader(osfs.New(filepath.Dir(bare))))
	ep, err := transport.NewEndpoint("/" + filepath.Base(bare))
	if err != nil {
		t.Fatal(err)
	}
	authorized, refused = &atomic.Int64{}, &atomic.Int64{}
	fail := func(w http.ResponseWriter, err error) {
		t.Errorf("git server: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /platform.git/info/refs", func(w http.ResponseWriter, r *http.Request) {
		service := r.URL.Query().Get("service")
		var ar *packp.AdvRefs
		switch service {
		case transport.UploadPackServiceName:
			s, err := srv.NewUploadPackSession(ep, nil)
			if err == nil {
				ar, err = s.AdvertisedReferencesContext(r.Context())
			}
			if err != nil {
				fail(w, err)
				return
			}
		case transport.ReceivePackServiceName:
			s, err := srv.NewReceivePackSession(ep, nil)
			if err == nil {
				ar, err = s.AdvertisedReferencesContext(r.Context())
			}
			if err != nil {
				fail(w, err)
				return
			}
		default:
			http.Error(w, "dumb HTTP is not served", http.StatusForbidden)
			return
		}
		ar.Prefix = [][]byte{[]byte("# service=" + service), pktline.Flush}
		w.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
		if err := ar.Encode(w); err != nil {
			t.Errorf("encode references: %v", err)
		}
	})
	mux.HandleFunc("POST /platform.git/git-upload-pack", func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeUploadPack(r.Body)
		if err != nil {
			fail(w, err)
			return
		}
		s, err := srv.NewUploadPackSession(ep, nil)
		if err != nil {
			fail(w, err)
			return
		}
		resp, err := s.UploadPack(r.Context(), req)
		if err != nil {
			fail(w, err)
			return
		}
		defer resp.Close()
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		if err := resp.Encode(w); err != nil {
			t.Errorf("encode pack: %v", err)
		}
	})
	mux.HandleFunc("POST /platform.git/git-receive-pack", func(w http.ResponseWriter, r *http.Request) {
		req := packp.NewReferenceUpdateRequest()
		if err := req.Decode(r.Body); err != nil {
			fail(w, err)
			return
		}
		s, err := srv.NewReceivePackSession(ep, nil)
		if err != nil {
			fail(w, err)
			return
		}
		// A refused update is told in the report, not as an HTTP error.
		status, _ := s.ReceivePack(r.Context(), req)
		w.Header().Set("Content-Type", "application/x-git-receive-pack-result")
		if status != nil {
			if err := status.Encode(w); err != nil {
				t.Errorf("encode report: %v", err)
			}
		}
	})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL + "/platform.git", authorized, refused
}

// decodeUploadPack reads an upload-pack request: wants and capabilities up
// to a flush, then "have" lines and "done".
func decodeUploadPack(body io.Reader) (*packp.UploadPackRequest, error) {
	all, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	sc := pktline.NewScanner(bytes.NewReader(all))
	var head bytes.Buffer
	enc := pktline.NewEncoder(&head)
	req := packp.NewUploadPackRequest()
	inHead := true
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case inHead && len(line) == 0:
			inHead = false
			if err := enc.Flush(); err != nil {
				return nil, err
			}
		case inHead:
			if err := enc.Encode(line); err != nil {
				return nil, err
			}
		default:
			if h, ok := strings.CutPrefix(strings.TrimSpace(string(line)), "have "); ok {
				req.Haves = append(req.Haves, plumbing.NewHash(h))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := req.UploadRequest.Decode(&head); err != nil {
		return nil, fmt.Errorf("decode wants: %w", err)
	}
	return req, nil
}

// TestWithoutGitBinary runs both flows with an empty PATH, as in the bot's
// distroless image, against a repository served over smart HTTP by go-git:
// pushing to the branch with the credentials of the repository URL, and
// merge requests with the API token; the server checks the credentials of
// every request.
func TestWithoutGitBinary(t *testing.T) {
	// t.Setenv forbids t.Parallel: PATH is the process's.
	t.Setenv("PATH", "")

	t.Run("branch", func(t *testing.T) {
		bare := goGitRepo(t)
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("bot:s3cret"))
		repoURL, authorized, refused := smartHTTP(t, bare, want)
		d := newDriver(t, strings.Replace(repoURL, "://", "://bot:s3cret@", 1))
		if err := d.Check(); err != nil {
			t.Fatalf("Check without git: %v", err)
		}
		res, err := d.Provision(context.Background(), webJob(12, "orders-api", 3, &recorder{}))
		if err != nil {
			t.Fatalf("Provision: %v", err)
		}
		files := strings.Join(goGitFiles(t, bare, "main"), " ")
		for _, f := range []string{"docs/README.md", "payments/production/web-application/orders-api/kustomization.yaml", "payments/production/web-application/orders-api/deployment-orders-api.yaml"} {
			if !strings.Contains(files, f) {
				t.Errorf("main lacks %s after Provision; has %s", f, files)
			}
		}
		if strings.Contains(res.Outputs["repository"], "s3cret") {
			t.Errorf("outputs show the password: %v", res.Outputs)
		}
		if err := d.Deprovision(context.Background(), webJob(12, "orders-api", 3, &recorder{})); err != nil {
			t.Fatalf("Deprovision: %v", err)
		}
		if got := goGitFiles(t, bare, "main"); len(got) != 1 || got[0] != "docs/README.md" {
			t.Errorf("main after Deprovision = %v, want only docs/README.md", got)
		}
		if authorized.Load() == 0 || refused.Load() != 0 {
			t.Errorf("git requests: %d authorized, %d refused; want all authorized", authorized.Load(), refused.Load())
		}
	})

	t.Run("merge request", func(t *testing.T) {
		bare := goGitRepo(t)
		f := newFakeForge(t, ProviderGitHub, bare)
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+f.token))
		repoURL, authorized, refused := smartHTTP(t, bare, want)
		d := newDriver(t, repoURL, withMR(f))
		if _, err := d.Provision(context.Background(), webJob(12, "orders-api", 3, &recorder{})); err != nil {
			t.Fatalf("Provision: %v", err)
		}
		if files := strings.Join(goGitFiles(t, bare, "idpbot/12-create"), " "); !strings.Contains(files, "orders-api/kustomization.yaml") {
			t.Errorf("branch idpbot/12-create holds %s, want the manifests", files)
		}
		f.merge(1)
		if err := d.Deprovision(context.Background(), webJob(12, "orders-api", 3, &recorder{})); err != nil {
			t.Fatalf("Deprovision: %v", err)
		}
		if got := goGitFiles(t, bare, "idpbot/12-delete"); len(got) != 1 || got[0] != "docs/README.md" {
			t.Errorf("branch idpbot/12-delete = %v, want the removal", got)
		}
		if authorized.Load() == 0 || refused.Load() != 0 {
			t.Errorf("git requests: %d authorized, %d refused; want all authorized", authorized.Load(), refused.Load())
		}
	})
}
