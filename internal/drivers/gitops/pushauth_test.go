package gitops

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// gitHTTPServer serves the bare repository over HTTP with git's own
// http-backend, accepting only requests that carry want as their
// Authorization header (401 otherwise), and counts both.
func gitHTTPServer(t *testing.T, bare, want string) (repoURL string, authorized, refused *atomic.Int64) {
	t.Helper()
	backend := filepath.Join(strings.TrimSpace(run(t, "", "git", "--exec-path")), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git-http-backend is not installed with git: %v", err)
	}
	gitIn(t, bare, "config", "http.receivepack", "true")
	authorized, refused = &atomic.Int64{}, &atomic.Int64{}
	cgiHandler := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(bare), "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		cgiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(bare), authorized, refused
}

// TestMergeRequestTokenPushesOverHTTP: with merge requests configured and
// an HTTP(S) repository URL without credentials, git fetches and pushes
// with the API token (GitHub as x-access-token, GitLab as oauth2), which
// never shows in an error; without the token the push is refused.
func TestMergeRequestTokenPushesOverHTTP(t *testing.T) {
	t.Parallel()
	for provider, user := range map[string]string{ProviderGitHub: "x-access-token", ProviderGitLab: "oauth2"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			bare := seededRepo(t)
			f := newFakeForge(t, provider, bare)
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+f.token))
			repoURL, authorized, refused := gitHTTPServer(t, bare, want)

			d := newDriver(t, repoURL, withMR(f))
			rec := &recorder{}
			if _, err := d.Provision(context.Background(), webJob(12, "orders-api", 3, rec)); err != nil {
				t.Fatalf("Provision over HTTP with the token: %v", err)
			}
			if got := rev(t, bare, "idpbot/12-create"); got == "" {
				t.Fatal("the branch was not pushed")
			}
			if authorized.Load() == 0 || refused.Load() != 0 {
				t.Errorf("git requests: %d authorized, %d refused; want all authorized", authorized.Load(), refused.Load())
			}

			// Without merge requests there is no token: the server refuses,
			// and the failure says so without any secret.
			plain := newDriver(t, repoURL)
			_, err := plain.Provision(context.Background(), webJob(13, "billing-api", 1, &recorder{}))
			if err == nil {
				t.Fatal("Provision over HTTP without a token succeeded")
			}
			if strings.Contains(err.Error(), f.token) || strings.Contains(err.Error(), want) {
				t.Errorf("error shows the token: %v", err)
			}
			if refused.Load() == 0 {
				t.Errorf("the server refused nothing: %v", err)
			}
		})
	}
}

func TestPushAuthScope(t *testing.T) {
	t.Parallel()
	for _, provider := range []string{ProviderGitHub, ProviderGitLab} {
		mr := &MergeRequestConfig{Provider: provider, Token: "t0k"}
		user := map[string]string{ProviderGitHub: "x-access-token", ProviderGitLab: "oauth2"}[provider]
		for _, tc := range []struct {
			repo string
			want bool
		}{
			{"https://github.com/acme/platform-deploy.git", true},
			{"http://git.internal/acme/deploy.git", true},
			{"https://bot:pw@github.com/acme/platform-deploy.git", false}, // its own credentials
			{"git@github.com:acme/platform-deploy.git", false},            // SSH
			{"/srv/git/platform.git", false},                              // a path
		} {
			auth := pushAuth(Config{Repository: tc.repo, MergeRequest: mr})
			if got := auth != nil; got != tc.want {
				t.Errorf("pushAuth(%s, %s) = %v, want auth %v", provider, tc.repo, auth, tc.want)
			}
			if tc.want {
				b, ok := auth.(*githttp.BasicAuth)
				if !ok || b.Username != user || b.Password != "t0k" {
					t.Errorf("pushAuth(%s, %s) = %#v, want basic auth %s with the token", provider, tc.repo, auth, user)
				}
			}
		}
	}
	if auth := pushAuth(Config{Repository: "https://github.com/acme/x.git"}); auth != nil {
		t.Errorf("pushAuth without merge requests = %v", auth)
	}
}
