package gitops

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// fakeForge answers the GitHub or GitLab merge request endpoints the driver
// uses, for project acme/platform, like the real services do: it checks the
// method, path, auth header and JSON body, keeps merge requests in memory
// and reads their head commits from the bare repository.
type fakeForge struct {
	t        *testing.T
	provider string
	token    string
	bare     string
	srv      *httptest.Server

	mu    sync.Mutex
	mrs   []*fakeMR
	calls []string
	// fail holds answers given instead of the real ones, by method, first
	// come first served.
	fail map[string][]fakeAnswer
	// onGet runs under the lock before a merge request is read; n counts
	// the reads of that merge request.
	onGet func(mr *fakeMR, n int) *fakeAnswer
	gets  map[int64]int
}

type fakeAnswer struct {
	status int
	body   string
}

type fakeMR struct {
	Number         int64
	Source, Target string
	Title, Body    string
	State          string // open, merged, closed
	SHA            string
	RemoveSource   bool
}

func newFakeForge(t *testing.T, provider, bare string) *fakeForge {
	f := &fakeForge{t: t, provider: provider, token: "tok-" + provider + "-s3cr3t", bare: bare, fail: map[string][]fakeAnswer{}, gets: map[int64]int{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// config is the MergeRequestConfig pointing at the fake.
func (f *fakeForge) config() *MergeRequestConfig {
	if f.provider == ProviderGitLab {
		return &MergeRequestConfig{Provider: ProviderGitLab, APIURL: f.srv.URL + "/api/v4/", Project: "acme/platform", Token: f.token}
	}
	return &MergeRequestConfig{Provider: ProviderGitHub, APIURL: f.srv.URL, Project: "acme/platform", Token: f.token}
}

// ref is how the provider names merge request n.
func (f *fakeForge) ref(n int64) string {
	if f.provider == ProviderGitLab {
		return "!" + strconv.FormatInt(n, 10)
	}
	return "#" + strconv.FormatInt(n, 10)
}

func (f *fakeForge) url(n int64) string {
	if f.provider == ProviderGitLab {
		return fmt.Sprintf("https://gitlab.example.com/acme/platform/-/merge_requests/%d", n)
	}
	return fmt.Sprintf("https://github.example.com/acme/platform/pull/%d", n)
}

func (f *fakeForge) failNext(method string, a fakeAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = append(f.fail[method], a)
}

func (f *fakeForge) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeForge) list() []fakeMR {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeMR
	for _, mr := range f.mrs {
		out = append(out, *mr)
	}
	return out
}

// merge merges merge request n by fast-forwarding its target branch, as a
// reviewer would.
func (f *fakeForge) merge(n int64) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.mergeLocked(f.mrs[n-1]); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeForge) mergeLocked(mr *fakeMR) error {
	// go-git, not the git CLI: TestWithoutGitBinary runs with no PATH.
	r, err := git.PlainOpen(f.bare)
	if err == nil {
		err = r.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(mr.Target), plumbing.NewHash(mr.SHA)))
	}
	if err != nil {
		return fmt.Errorf("merge %d: %v", mr.Number, err)
	}
	mr.State = "merged"
	return nil
}

func (f *fakeForge) headOf(branch string) (string, bool) {
	r, err := git.PlainOpen(f.bare)
	if err != nil {
		return "", false
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return "", false
	}
	return ref.Hash().String(), true
}

func (f *fakeForge) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		f.t.Errorf("encode answer: %v", err)
	}
}

func (f *fakeForge) render(mr *fakeMR, single bool) map[string]any {
	if f.provider == ProviderGitLab {
		state := mr.State
		if state == "open" {
			state = "opened"
		}
		return map[string]any{"iid": mr.Number, "id": 1000 + mr.Number, "web_url": f.url(mr.Number), "state": state,
			"sha": mr.SHA, "source_branch": mr.Source, "target_branch": mr.Target, "title": mr.Title}
	}
	state, mergedAt := "open", any(nil)
	switch mr.State {
	case "merged":
		state, mergedAt = "closed", "2026-01-02T03:04:05Z"
	case "closed":
		state = "closed"
	}
	p := map[string]any{"number": mr.Number, "html_url": f.url(mr.Number), "state": state, "merged_at": mergedAt,
		"title": mr.Title, "head": map[string]any{"ref": mr.Source, "sha": mr.SHA}, "base": map[string]any{"ref": mr.Target}}
	if single {
		p["merged"] = mr.State == "merged"
	}
	return p
}

func (f *fakeForge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.EscapedPath()
	var prefix string
	if f.provider == ProviderGitLab {
		prefix = "/api/v4/projects/acme%2Fplatform/merge_requests"
		if got := r.Header.Get("PRIVATE-TOKEN"); got != f.token {
			// Echo the token back, as a careless proxy might: the driver
			// must not show it.
			f.json(w, http.StatusUnauthorized, map[string]any{"message": "401 Unauthorized: token " + got})
			return
		}
	} else {
		prefix = "/repos/acme/platform/pulls"
		if got := r.Header.Get("Authorization"); got != "Bearer "+f.token {
			f.json(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials for " + got, "documentation_url": "https://docs.github.com/rest"})
			return
		}
		if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") == "" {
			f.json(w, http.StatusUnsupportedMediaType, map[string]any{"message": "bad Accept or API version"})
			return
		}
	}
	f.calls = append(f.calls, r.Method+" "+strings.TrimPrefix(path, prefix))
	if as := f.fail[r.Method]; len(as) > 0 {
		f.fail[r.Method] = as[1:]
		w.WriteHeader(as[0].status)
		_, _ = w.Write([]byte(as[0].body))
		return
	}
	if !strings.HasPrefix(path, prefix) {
		f.json(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	rest := strings.TrimPrefix(path, prefix)
	switch {
	case r.Method == http.MethodGet && rest == "":
		f.serveList(w, r)
	case r.Method == http.MethodPost && rest == "":
		f.serveCreate(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(rest, "/"):
		n, err := strconv.ParseInt(rest[1:], 10, 64)
		if err != nil || n < 1 || int(n) > len(f.mrs) {
			f.json(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
			return
		}
		mr := f.mrs[n-1]
		f.gets[n]++
		if f.onGet != nil {
			if a := f.onGet(mr, f.gets[n]); a != nil {
				w.WriteHeader(a.status)
				_, _ = w.Write([]byte(a.body))
				return
			}
		}
		f.json(w, http.StatusOK, f.render(mr, true))
	default:
		f.json(w, http.StatusMethodNotAllowed, map[string]any{"message": "unexpected " + r.Method + " " + path})
	}
}

func (f *fakeForge) serveList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var source, target, state string
	if f.provider == ProviderGitLab {
		source, target, state = q.Get("source_branch"), q.Get("target_branch"), q.Get("state")
		switch state {
		case "opened":
			state = "open"
		case "", "all":
			state = "all"
		}
	} else {
		head, ok := strings.CutPrefix(q.Get("head"), "acme:")
		if !ok {
			f.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "head must be owner:branch, got " + q.Get("head")})
			return
		}
		source, target, state = head, q.Get("base"), q.Get("state")
		if state == "" {
			state = "open"
		}
	}
	if source == "" {
		// The driver must never list every merge request of the project.
		f.json(w, http.StatusBadRequest, map[string]any{"message": "no source branch filter"})
		return
	}
	out := []map[string]any{}
	for i := len(f.mrs) - 1; i >= 0; i-- { // newest first
		mr := f.mrs[i]
		if mr.Source != source || (target != "" && mr.Target != target) {
			continue
		}
		if state != "all" && !(state == mr.State || (state == "closed" && mr.State == "merged" && f.provider == ProviderGitHub)) {
			continue
		}
		out = append(out, f.render(mr, false))
	}
	f.json(w, http.StatusOK, out)
}

func (f *fakeForge) serveCreate(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") != "application/json" {
		f.json(w, http.StatusUnsupportedMediaType, map[string]any{"message": "want JSON"})
		return
	}
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		f.json(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON"})
		return
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	mr := &fakeMR{Number: int64(len(f.mrs) + 1), State: "open"}
	if f.provider == ProviderGitLab {
		mr.Source, mr.Target, mr.Title, mr.Body = str("source_branch"), str("target_branch"), str("title"), str("description")
		mr.RemoveSource, _ = in["remove_source_branch"].(bool)
	} else {
		mr.Source, mr.Target, mr.Title, mr.Body = str("head"), str("base"), str("title"), str("body")
	}
	if mr.Source == "" || mr.Target == "" || mr.Title == "" || mr.Body == "" {
		f.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"code": "missing_field", "field": "head/base/title/body"}}})
		return
	}
	sha, ok := f.headOf(mr.Source)
	if !ok {
		f.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "PullRequest", "field": "head", "code": "invalid"}}})
		return
	}
	if _, ok := f.headOf(mr.Target); !ok {
		f.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "PullRequest", "field": "base", "code": "invalid"}}})
		return
	}
	for _, o := range f.mrs {
		if o.Source == mr.Source && o.State == "open" {
			if f.provider == ProviderGitLab {
				f.json(w, http.StatusConflict, map[string]any{"message": []any{"Another open merge request already exists for this source branch: !" + strconv.FormatInt(o.Number, 10)}})
			} else {
				f.json(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for acme:" + mr.Source + "."}}})
			}
			return
		}
	}
	mr.SHA = sha
	f.mrs = append(f.mrs, mr)
	f.json(w, http.StatusCreated, f.render(mr, true))
}
