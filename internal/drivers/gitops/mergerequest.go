package gitops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/idpbot/idpbot/internal/platform"
)

// MergeRequestConfig makes the driver propose each change as a merge
// request (a GitHub pull request or a GitLab merge request) from a branch
// of its own, idpbot/<request id>-<action>, instead of pushing to Branch.
type MergeRequestConfig struct {
	// Provider is ProviderGitHub or ProviderGitLab.
	Provider string `json:"provider"`
	// APIURL is the API's base URL: https://api.github.com,
	// https://gitlab.example.com/api/v4.
	APIURL string `json:"api_url"`
	// Project is "owner/repo" on GitHub, a project id or path on GitLab.
	Project string `json:"project"`
	// TargetBranch is the branch merge requests target (default
	// Config.Branch).
	TargetBranch string `json:"target_branch,omitempty"`
	// Token authenticates to the API. It comes from the environment and is
	// never logged, marshalled or shown.
	Token string `json:"-"`
	// WaitForMerge makes a request ready only once its merge request is
	// merged (then HealthURL, if set, must report healthy). Otherwise the
	// request is ready as soon as the merge request is open: the platform
	// team's review is the gate.
	WaitForMerge bool `json:"wait_for_merge,omitempty"`
}

var githubProject = regexp.MustCompile(`^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$`)

// validate checks mr and fills its defaults; branch is Config.Branch.
// apiBaseURL checks the base URL of an API the driver calls with a token
// from the environment: set, http(s), no query, fragment or credentials.
func apiBaseURL(field, raw string) error {
	if raw == "" {
		return fmt.Errorf("gitops driver: %s is required", field)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("gitops driver: %s %q is not an http(s) URL", field, redact(raw))
	}
	if u.User != nil {
		return fmt.Errorf("gitops driver: %s %q must not hold credentials: the token comes from the environment", field, redact(raw))
	}
	return nil
}

func (mr *MergeRequestConfig) validate(branch string) error {
	switch mr.Provider {
	case ProviderGitHub, ProviderGitLab:
	case "":
		return fmt.Errorf("gitops driver: merge_request.provider is required (github or gitlab)")
	default:
		return fmt.Errorf("gitops driver: merge_request.provider %q is not github or gitlab", mr.Provider)
	}
	if err := apiBaseURL("merge_request.api_url", mr.APIURL); err != nil {
		return err
	}
	switch {
	case mr.Project == "":
		return fmt.Errorf("gitops driver: merge_request.project is required")
	case mr.Provider == ProviderGitHub && !githubProject.MatchString(mr.Project):
		return fmt.Errorf("gitops driver: merge_request.project %q is not owner/repo", mr.Project)
	case strings.ContainsFunc(mr.Project, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("gitops driver: merge_request.project %q is not a project id or path", mr.Project)
	}
	if mr.TargetBranch == "" {
		mr.TargetBranch = branch
	}
	if !validBranch(mr.TargetBranch) {
		return fmt.Errorf("gitops driver: invalid merge_request.target_branch %q", mr.TargetBranch)
	}
	if mr.Token == "" {
		return fmt.Errorf("gitops driver: merge_request.token is empty")
	}
	return nil
}

// requestBranch is the branch a request's change is proposed from.
func requestBranch(id int64, action string) string {
	return fmt.Sprintf("idpbot/%d-%s", id, action)
}

// branchOutcome is what prepareBranch found or did.
type branchOutcome int

const (
	// inPlace: the target branch already holds the change.
	inPlace branchOutcome = iota
	// reused: the request branch already holds the change.
	reused
	// pushed: a commit was force-pushed to the request branch.
	pushed
)

// proposal is a change on its way to the target branch.
type proposal struct {
	branch  string // the branch holding commit
	commit  string
	inPlace bool          // the target branch already holds the change
	mr      *mergeRequest // nil when there is none
}

// propose brings change c to the target branch
// through a merge request: it commits it on the request's branch
// (reusing what a previous attempt pushed), then reuses or opens the merge
// request. A change already on the target branch needs neither.
func (d *Driver) propose(ctx context.Context, r *platform.Resource, action string, c change, step func(string)) (proposal, error) {
	mc := d.cfg.MergeRequest
	f := d.forge()
	rel := c.rel
	branch := requestBranch(r.ID, action)
	commit, outcome, err := d.prepareBranch(ctx, c, branch, commitMessage(action, r))
	if err != nil {
		return proposal{}, err
	}
	if outcome == inPlace {
		p := proposal{branch: mc.TargetBranch, commit: commit, inPlace: true}
		// Best effort: name the merge request that brought the change. The
		// change is in place either way, so a failed lookup is no failure.
		if mr, err := f.find(ctx, branch); err == nil && mr != nil && mr.State == mrMerged {
			p.mr = mr
		}
		return p, nil
	}
	if outcome == pushed {
		step(fmt.Sprintf("Pushed branch %s (%s) with the %s of %s", branch, short(commit), noun(action), rel))
	} else {
		step(fmt.Sprintf("Branch %s already holds the %s of %s (%s)", branch, noun(action), rel, short(commit)))
	}
	p := proposal{branch: branch, commit: commit}
	mr, err := f.find(ctx, branch)
	if err != nil {
		return p, err
	}
	switch {
	case mr != nil && mr.State == mrOpen:
		step(fmt.Sprintf("Merge request %s is already open: %s", f.ref(mr.Number), mr.URL))
	case mr != nil && mr.State == mrClosed && mr.HeadSHA == commit:
		// The reviewers closed exactly this change: opening it again would
		// overrule them.
		return p, platform.Errorf(platform.Conflict, "merge request %s was closed without merging", f.ref(mr.Number))
	default:
		title, body := mergeRequestText(action, rel, mc.TargetBranch, r)
		mr, err = f.open(ctx, branch, title, body)
		if err != nil {
			// Opened by an attempt whose answer was lost: use it.
			again, ferr := f.find(ctx, branch)
			if ferr != nil || again == nil || again.State != mrOpen {
				return p, err
			}
			mr = again
		}
		step(fmt.Sprintf("Opened merge request %s: %s", f.ref(mr.Number), mr.URL))
	}
	p.mr = mr
	return p, nil
}

// await finishes a proposal: without WaitForMerge the open merge request
// is enough and the step says who decides; with it, waitMerged.
func (d *Driver) await(ctx context.Context, p proposal, action string, step func(string)) error {
	if p.inPlace || p.mr == nil {
		return nil
	}
	f := d.forge()
	target := d.cfg.MergeRequest.TargetBranch
	if !d.cfg.MergeRequest.WaitForMerge {
		effect := "applies it"
		if action == "delete" {
			effect = "removes it"
		}
		step(fmt.Sprintf("Merge request %s awaits the platform team's review: their merge into %s is the gate, and Argo CD or Flux %s once merged", f.ref(p.mr.Number), target, effect))
		return nil
	}
	if err := d.waitMerged(ctx, f, p.mr, step); err != nil {
		return err
	}
	d.deleteBranch(ctx, p.branch, step)
	return nil
}

// deleteBranch removes a merged request branch from the repository, as
// GitLab does by itself for the merge requests the driver opens and
// GitHub does only when the repository is set to. A branch already gone
// is fine; another failure is told as a step and changes nothing else.
func (d *Driver) deleteBranch(ctx context.Context, branch string, step func(string)) {
	dir, err := d.cacheDir()
	if err == nil {
		var unlock func()
		if unlock, err = d.lock(ctx, dir); err == nil {
			var r *git.Repository
			if r, err = d.open(dir); err == nil {
				err = d.push(ctx, r, plumbing.ZeroHash, branch, false)
			}
			unlock()
		}
	}
	if err != nil {
		step(fmt.Sprintf("Could not delete the merged branch %s: %v", branch, err))
	}
}

// waitMerged polls merge request mr until it is merged. A merge request
// closed without merging is a permanent failure; API errors that are not
// permanent are polled through until ctx ends.
func (d *Driver) waitMerged(ctx context.Context, f *forge, mr *mergeRequest, step func(string)) error {
	ref := f.ref(mr.Number)
	target := d.cfg.MergeRequest.TargetBranch
	interval := d.cfg.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	reported := false
	var last error
	for {
		switch mr.State {
		case mrMerged:
			step(fmt.Sprintf("Merge request %s was merged into %s", ref, target))
			return nil
		case mrClosed:
			return platform.Errorf(platform.Conflict, "merge request %s was closed without merging", ref)
		}
		if !reported {
			step(fmt.Sprintf("Waiting for merge request %s to be merged into %s: %s", ref, target, mr.URL))
			reported = true
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("wait for merge request %s to be merged (last error: %v): %w", ref, last, ctx.Err())
			}
			return fmt.Errorf("wait for merge request %s to be merged: %w", ref, ctx.Err())
		case <-time.After(interval):
		}
		got, err := f.get(ctx, mr.Number)
		switch {
		case err == nil:
			mr, last = got, nil
		case platform.IsPermanent(err):
			return err
		default:
			last = err
		}
	}
}

// prepareBranch puts change c on branch, based on the target branch,
// under the repository lock. A target branch that already holds the change
// needs nothing (inPlace). A branch that already holds it, not yet merged,
// is reused. Otherwise the branch is rebuilt from the target's head with one
// commit and force-pushed. It returns the commit holding the change.
func (d *Driver) prepareBranch(ctx context.Context, c change, branch, msg string) (string, branchOutcome, error) {
	dir, err := d.cacheDir()
	if err != nil {
		return "", 0, err
	}
	unlock, err := d.lock(ctx, dir)
	if err != nil {
		return "", 0, err
	}
	defer unlock()
	r, err := d.fetch(ctx, dir)
	if err != nil {
		return "", 0, err
	}
	target := d.cfg.MergeRequest.TargetBranch
	targetHead, ok := resolve(r, "refs/remotes/origin/"+target)
	if !ok {
		return "", 0, platform.Errorf(platform.Invalid, "the gitops repository has no branch %s to open merge requests against", target)
	}
	commit, err := d.commitChange(r, targetHead, c, msg)
	if err != nil {
		return "", 0, err
	}
	if commit.IsZero() {
		return targetHead.String(), inPlace, nil
	}
	if head, ok := resolve(r, "refs/remotes/origin/"+branch); ok {
		merged, err := isAncestor(r, head, targetHead)
		if err != nil {
			return "", 0, err
		}
		if !merged {
			again, err := d.commitChange(r, head, c, msg)
			if err != nil {
				return "", 0, err
			}
			if again.IsZero() {
				return head.String(), reused, nil
			}
		}
	}
	if err := d.push(ctx, r, commit, branch, true); err != nil {
		return "", 0, err
	}
	return commit.String(), pushed, nil
}

func (d *Driver) forge() *forge {
	return &forge{cfg: *d.cfg.MergeRequest, client: d.api}
}

// sameHostRedirects follows at most 5 redirects, all on the API's host and
// scheme: a redirect elsewhere is answered as it is (a refusal), so the
// token never leaves for another host.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		return http.ErrUseLastResponse
	}
	return nil
}

// mergeRequestText is the title and description of a request's merge
// request: who asked for what, and the request id, like the commit
// message.
func mergeRequestText(action, rel, target string, r *platform.Resource) (string, string) {
	title, _, _ := strings.Cut(commitMessage(action, r), "\n")
	var b strings.Builder
	verb := "Creates or updates"
	if action == "delete" {
		verb = "Removes"
	}
	fmt.Fprintf(&b, "%s %s **%s** of team %s in %s: idpbot request #%d", verb, oneLine(r.Service), oneLine(r.Name), oneLine(r.Team), oneLine(r.Environment), r.ID)
	if r.Requester.ID != "" {
		fmt.Fprintf(&b, ", requested by %s (%s)", oneLine(r.Requester.Display()), oneLine(r.Requester.ID))
	}
	fmt.Fprintf(&b, ".\n\nPath: `%s`\n", rel)
	if action == "create" {
		writeParams(&b, r.Parameters, "- ")
	}
	fmt.Fprintf(&b, "\nMerging this into %s lets Argo CD or Flux apply it. Opened by idpbot; changes pushed to this branch by hand are overwritten.\n", target)
	fmt.Fprintf(&b, "\nIdpbot-Request: %d\n", r.ID)
	if r.Requester.ID != "" {
		fmt.Fprintf(&b, "Idpbot-Requester: %s\n", oneLine(r.Requester.ID))
	}
	return title, b.String()
}

// noun names what an action changes: "manifests" or "removal".
func noun(action string) string {
	if action == "delete" {
		return "removal"
	}
	return "manifests"
}
