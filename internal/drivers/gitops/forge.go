package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/idpbot/idpbot/internal/platform"
)

// Merge request providers of MergeRequestConfig.
const (
	ProviderGitHub = "github"
	ProviderGitLab = "gitlab"
)

const (
	// maxAnswer caps a successful API answer (a page of merge requests).
	maxAnswer = 4 << 20
	// maxErrorBody caps the part of an error answer read for its message.
	maxErrorBody = 64 << 10
	// errorMessageLen caps the provider's message quoted to the user.
	errorMessageLen = 300
	// listPageSize is how many merge requests of a branch are looked at.
	listPageSize = 20
)

// mrState is a merge request's state, the same for both providers.
type mrState int

const (
	mrOpen mrState = iota
	mrMerged
	mrClosed
)

// mergeRequest is a GitHub pull request or a GitLab merge request.
type mergeRequest struct {
	Number  int64
	URL     string
	State   mrState
	HeadSHA string
}

// forge talks to the merge request API of GitHub or GitLab.
type forge struct {
	cfg    MergeRequestConfig
	client *http.Client
}

// name is the provider as users know it.
func (f *forge) name() string {
	if f.cfg.Provider == ProviderGitLab {
		return "GitLab"
	}
	return "GitHub"
}

// ref is how the provider writes a merge request's number: #12 on GitHub,
// !12 on GitLab.
func (f *forge) ref(n int64) string {
	if f.cfg.Provider == ProviderGitLab {
		return "!" + strconv.FormatInt(n, 10)
	}
	return "#" + strconv.FormatInt(n, 10)
}

// githubPull is the part of a GitHub pull request the driver reads.
type githubPull struct {
	Number   int64   `json:"number"`
	HTMLURL  string  `json:"html_url"`
	State    string  `json:"state"`
	Merged   bool    `json:"merged"`
	MergedAt *string `json:"merged_at"`
	Head     struct {
		SHA string `json:"sha"`
	} `json:"head"`
}

func (p githubPull) mergeRequest() *mergeRequest {
	mr := &mergeRequest{Number: p.Number, URL: p.HTMLURL, HeadSHA: p.Head.SHA, State: mrClosed}
	switch {
	case p.Merged || p.MergedAt != nil:
		mr.State = mrMerged
	case p.State == "open":
		mr.State = mrOpen
	}
	return mr
}

// gitlabMR is the part of a GitLab merge request the driver reads.
type gitlabMR struct {
	IID    int64  `json:"iid"`
	WebURL string `json:"web_url"`
	State  string `json:"state"`
	SHA    string `json:"sha"`
}

func (m gitlabMR) mergeRequest() *mergeRequest {
	mr := &mergeRequest{Number: m.IID, URL: m.WebURL, HeadSHA: m.SHA, State: mrClosed}
	switch m.State {
	case "merged":
		mr.State = mrMerged
	case "opened", "locked":
		mr.State = mrOpen
	}
	return mr
}

// githubRepo is the path of the GitHub repository: /repos/owner/repo.
func (f *forge) githubRepo() string {
	owner, repo, _ := strings.Cut(f.cfg.Project, "/")
	return "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo)
}

// gitlabProject is the path of the GitLab project: /projects/<id or
// URL-encoded path>.
func (f *forge) gitlabProject() string {
	return "/projects/" + url.PathEscape(f.cfg.Project)
}

// find returns the merge request from branch into the target branch that
// matters: an open one, else the newest merged one, else the newest; nil
// when there is none.
func (f *forge) find(ctx context.Context, branch string) (*mergeRequest, error) {
	var all []*mergeRequest
	what := "list the merge requests of " + branch
	switch f.cfg.Provider {
	case ProviderGitLab:
		var list []gitlabMR
		q := url.Values{
			"source_branch": {branch}, "target_branch": {f.cfg.TargetBranch},
			"order_by": {"created_at"}, "sort": {"desc"}, "per_page": {strconv.Itoa(listPageSize)},
		}
		if err := f.do(ctx, http.MethodGet, f.gitlabProject()+"/merge_requests", q, nil, &list, what); err != nil {
			return nil, err
		}
		for _, m := range list {
			all = append(all, m.mergeRequest())
		}
	default:
		var list []githubPull
		owner, _, _ := strings.Cut(f.cfg.Project, "/")
		q := url.Values{
			"head": {owner + ":" + branch}, "base": {f.cfg.TargetBranch}, "state": {"all"},
			"sort": {"created"}, "direction": {"desc"}, "per_page": {strconv.Itoa(listPageSize)},
		}
		if err := f.do(ctx, http.MethodGet, f.githubRepo()+"/pulls", q, nil, &list, what); err != nil {
			return nil, err
		}
		for _, p := range list {
			all = append(all, p.mergeRequest())
		}
	}
	for _, want := range []mrState{mrOpen, mrMerged} {
		for _, mr := range all {
			if mr.State == want {
				return mr, nil
			}
		}
	}
	if len(all) > 0 {
		return all[0], nil
	}
	return nil, nil
}

// open opens a merge request from branch into the target branch.
func (f *forge) open(ctx context.Context, branch, title, body string) (*mergeRequest, error) {
	what := "open a merge request from " + branch
	switch f.cfg.Provider {
	case ProviderGitLab:
		var m gitlabMR
		in := map[string]any{
			"source_branch": branch, "target_branch": f.cfg.TargetBranch,
			"title": title, "description": body, "remove_source_branch": true,
		}
		if err := f.do(ctx, http.MethodPost, f.gitlabProject()+"/merge_requests", nil, in, &m, what); err != nil {
			return nil, err
		}
		return m.mergeRequest(), nil
	default:
		var p githubPull
		in := map[string]any{"title": title, "head": branch, "base": f.cfg.TargetBranch, "body": body}
		if err := f.do(ctx, http.MethodPost, f.githubRepo()+"/pulls", nil, in, &p, what); err != nil {
			return nil, err
		}
		return p.mergeRequest(), nil
	}
}

// get reads merge request n.
func (f *forge) get(ctx context.Context, n int64) (*mergeRequest, error) {
	what := "read merge request " + f.ref(n)
	num := strconv.FormatInt(n, 10)
	switch f.cfg.Provider {
	case ProviderGitLab:
		var m gitlabMR
		if err := f.do(ctx, http.MethodGet, f.gitlabProject()+"/merge_requests/"+num, nil, nil, &m, what); err != nil {
			return nil, err
		}
		return m.mergeRequest(), nil
	default:
		var p githubPull
		if err := f.do(ctx, http.MethodGet, f.githubRepo()+"/pulls/"+num, nil, nil, &p, what); err != nil {
			return nil, err
		}
		return p.mergeRequest(), nil
	}
}

// do sends one API call: path is already escaped, in is sent as JSON, a
// 2xx answer is decoded into out. Network errors, timeouts, 408, 429, 5xx
// and rate limits are transient (Unavailable); 401 and 403 are Forbidden;
// 404, 422 and other 4xx are Invalid. Messages never carry the token.
func (f *forge) do(ctx context.Context, method, path string, query url.Values, in, out any, what string) error {
	u := strings.TrimRight(f.cfg.APIURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return platform.Wrap(platform.Internal, err, "could not encode the merge request")
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return platform.Wrap(platform.Invalid, err, fmt.Sprintf("the %s API URL of the gitops driver is not valid", f.name()))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "idpbot")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if f.cfg.Provider == ProviderGitLab {
		req.Header.Set("PRIVATE-TOKEN", f.cfg.Token)
	} else {
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		req.Header.Set("Authorization", "Bearer "+f.cfg.Token)
	}
	call := method + " " + path
	resp, err := f.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", call, ctx.Err())
		}
		return platform.Wrap(platform.Unavailable, fmt.Errorf("%s: %w", call, err),
			fmt.Sprintf("%s did not answer when asked to %s; will retry", f.name(), what))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			return nil
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
			return platform.Wrap(platform.Unavailable, fmt.Errorf("%s: decode answer: %w", call, err),
				fmt.Sprintf("%s sent an unreadable answer when asked to %s; will retry", f.name(), what))
		}
		return nil
	}
	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	detail := resp.Status
	if msg := f.errorMessage(text); msg != "" {
		detail += ": " + msg
	}
	chain := fmt.Errorf("%s: %s", call, resp.Status)
	code := resp.StatusCode
	rateLimited := code == http.StatusForbidden && (resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-RateLimit-Remaining") == "0")
	switch {
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, rateLimited:
		return platform.Wrap(platform.Unavailable, chain, fmt.Sprintf("%s could not %s (%s); will retry", f.name(), what, detail))
	case code == http.StatusUnauthorized:
		return platform.Wrap(platform.Forbidden, chain, fmt.Sprintf("%s rejected the gitops driver's token (%s)", f.name(), detail))
	case code == http.StatusForbidden:
		return platform.Wrap(platform.Forbidden, chain, fmt.Sprintf("the gitops driver's token may not %s in %s project %s (%s)", what, f.name(), f.cfg.Project, detail))
	case code == http.StatusNotFound:
		return platform.Wrap(platform.Invalid, chain, fmt.Sprintf("%s found no project %s, or the gitops driver's token cannot see it (%s)", f.name(), f.cfg.Project, detail))
	default:
		return platform.Wrap(platform.Invalid, chain, fmt.Sprintf("%s refused to %s (%s)", f.name(), what, detail))
	}
}

// errorMessage extracts the provider's explanation from an error answer
// ("message", "error", "errors" of GitHub and GitLab, or the text itself),
// on one line, shortened, without the token.
func (f *forge) errorMessage(body []byte) string {
	var parts []string
	var doc map[string]any
	if json.Unmarshal(body, &doc) == nil {
		for _, key := range []string{"message", "error", "error_description"} {
			parts = appendStrings(parts, doc[key])
		}
		if errs, ok := doc["errors"].([]any); ok {
			for _, e := range errs {
				if m, ok := e.(map[string]any); ok {
					if s, ok := m["message"].(string); ok && s != "" {
						parts = append(parts, s)
						continue
					}
					field, _ := m["field"].(string)
					code, _ := m["code"].(string)
					parts = append(parts, strings.TrimSpace(field+" "+code))
					continue
				}
				parts = appendStrings(parts, e)
			}
		}
	} else {
		parts = []string{string(body)}
	}
	msg := strings.Join(parts, "; ")
	if f.cfg.Token != "" {
		msg = strings.ReplaceAll(msg, f.cfg.Token, "***")
	}
	return platform.OneLine(msg, errorMessageLen)
}

// appendStrings appends the strings found in v: a string, or those inside
// lists and objects (GitLab's {"message": {"base": ["…"]}}).
func appendStrings(parts []string, v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			parts = append(parts, v)
		}
	case []any:
		for _, e := range v {
			parts = appendStrings(parts, e)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			before := len(parts)
			parts = appendStrings(parts, v[k])
			if len(parts) > before && k != "base" {
				parts[before] = k + " " + parts[before]
			}
		}
	}
	return parts
}
