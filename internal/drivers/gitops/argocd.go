package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// DefaultApplication is the default ArgoCDConfig.Application: one Argo CD
// Application per team and environment.
const DefaultApplication = "{{team}}-{{environment}}"

const (
	// maxArgoAnswer caps an Argo CD Application read (its status lists
	// every resource it manages).
	maxArgoAnswer = 32 << 20
	// argoMessageLen caps a message of Argo CD quoted to the user.
	argoMessageLen = 200
)

// ArgoCDConfig makes the driver wait, once a change is on the branch Argo
// CD watches, until the Argo CD Application applying the resource's path
// has synced a revision holding the change (and, for a creation, is
// healthy).
type ArgoCDConfig struct {
	// Server is the base URL of the Argo CD API server:
	// https://argocd.example.com.
	Server string `json:"server"`
	// Application is the name of the Application that applies a
	// resource's path; same placeholders as Config.PathTemplate (default
	// DefaultApplication). Expanded, it must be a Kubernetes name.
	Application string `json:"application,omitempty"`
	// Token is the bearer token of an Argo CD account that may get the
	// applications. It comes from the environment and is never logged,
	// marshalled or shown.
	Token string `json:"-"`
}

// dns1123Subdomain is a Kubernetes object name: lowercase alphanumerics,
// '-' and '.', starting and ending with an alphanumeric.
var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// validName reports whether name may name a Kubernetes object (a DNS-1123
// subdomain).
func validName(name string) bool {
	return len(name) <= 253 && dns1123Subdomain.MatchString(name)
}

// gitSHA is a full commit id, SHA-1 or SHA-256: the only revisions passed
// to git.
var gitSHA = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// validate checks a and fills its defaults.
func (a *ArgoCDConfig) validate() error {
	if err := apiBaseURL("argocd.server", a.Server); err != nil {
		return err
	}
	if a.Application == "" {
		a.Application = DefaultApplication
	}
	// Placeholders stand for lowercase names: what a sample expands to
	// must already be a valid name.
	sample := strings.NewReplacer("{{team}}", "t", "{{environment}}", "e", "{{service}}", "s", "{{name}}", "n").Replace(a.Application)
	if !validName(sample) {
		return fmt.Errorf("gitops driver: argocd.application %q does not make Kubernetes names (lowercase letters, digits, '-' and '.')", a.Application)
	}
	if a.Token == "" {
		return fmt.Errorf("gitops driver: argocd.token is empty")
	}
	return nil
}

// application is the name of the Argo CD Application applying r's path,
// or "" without ArgoCD. A name that is no Kubernetes name is Invalid.
func (d *Driver) application(r *platform.Resource) (string, error) {
	if d.cfg.ArgoCD == nil {
		return "", nil
	}
	name := d.expand(d.cfg.ArgoCD.Application, r, func(s string) string { return s })
	if !validName(name) {
		return "", platform.Errorf(platform.Invalid,
			"the Argo CD application name %q (drivers.gitops.argocd.application) is not a valid Kubernetes name: lowercase letters, digits, '-' and '.', at most 253 characters",
			sanitize(name, 300))
	}
	return name, nil
}

// targetHead fetches the repository and returns the head of the merge
// requests' target branch: after a squash or merge commit, the commit
// that brought a change there is not the request branch's.
func (d *Driver) targetHead(ctx context.Context) (string, error) {
	dir, err := d.cacheDir()
	if err != nil {
		return "", err
	}
	unlock, err := d.lock(ctx, dir)
	if err != nil {
		return "", err
	}
	defer unlock()
	r, err := d.fetch(ctx, dir)
	if err != nil {
		return "", err
	}
	target := d.cfg.MergeRequest.TargetBranch
	head, ok := resolve(r, "refs/remotes/origin/"+target)
	if !ok {
		return "", platform.Errorf(platform.Unavailable, "the gitops repository has no branch %s after the merge", target)
	}
	return head.String(), nil
}

// argoApp is the part of an Argo CD Application the driver reads.
type argoApp struct {
	Status struct {
		Sync struct {
			Status   string `json:"status"`
			Revision string `json:"revision"`
		} `json:"sync"`
		Health struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"health"`
		OperationState *struct {
			Phase   string `json:"phase"`
			Message string `json:"message"`
		} `json:"operationState"`
	} `json:"status"`
}

// operating reports whether a sync operation is still under way (hooks
// running, resources being pruned): the status is not final yet.
func (a *argoApp) operating() bool {
	op := a.Status.OperationState
	return op != nil && (op.Phase == "Running" || op.Phase == "Terminating")
}

// argoWait is the state of one wait for an Application: what it must have
// synced, and what is known of the revisions it reported.
type argoWait struct {
	d    *Driver
	app  string
	ours string // the commit the synced revision must contain
	// contains remembers, per revision, whether it contains ours;
	// fetched, the revisions a fetch was made for.
	contains map[string]bool
	fetched  map[string]bool
}

// waitArgoCD polls the Argo CD Application app until it is Synced to a
// revision containing commit ours and, when healthy is set, Healthy,
// reporting its status as a step each time it changes. 401, 403 and 404
// fail at once; other problems are polled through until ctx ends.
func (d *Driver) waitArgoCD(ctx context.Context, app, ours string, healthy bool, step func(string)) error {
	interval := d.cfg.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	w := &argoWait{d: d, app: app, ours: ours, contains: map[string]bool{}, fetched: map[string]bool{}}
	var reported, lastStatus string
	var lastErr error
	for {
		a, err := d.argoApplication(ctx, app)
		switch {
		case err == nil:
			ready, summary, cerr := w.check(ctx, a, healthy)
			if summary != reported {
				step(fmt.Sprintf("Argo CD application %s: %s", app, summary))
				reported = summary
			}
			if ready {
				return nil
			}
			lastStatus, lastErr = summary, cerr
		case platform.IsPermanent(err):
			return err
		case ctx.Err() == nil:
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return w.timeout(ctx, healthy, lastStatus, lastErr)
		case <-time.After(interval):
		}
	}
}

// timeout is the error of a wait that ctx ended: which application did
// not get there, and the last status and problem seen.
func (w *argoWait) timeout(ctx context.Context, healthy bool, lastStatus string, lastErr error) error {
	want := "synced to " + short(w.ours)
	if healthy {
		want = "synced to " + short(w.ours) + " and healthy"
	}
	var last []string
	if lastStatus != "" {
		last = append(last, "last status: "+lastStatus)
	}
	if lastErr != nil {
		last = append(last, "last problem: "+sanitize(w.d.argoRedact(problem(lastErr)), 300))
	}
	if len(last) == 0 {
		last = append(last, "no answer from Argo CD")
	}
	msg := fmt.Sprintf("Argo CD application %s did not become %s in time (%s)", w.app, want, strings.Join(last, "; "))
	return platform.Wrap(platform.Unavailable, ctx.Err(), msg)
}

// check reports whether a is ready and summarises its status:
// "OutOfSync, Progressing", "Synced to 0123456789ab, Degraded: Back-off
// pulling image". A problem finding out whether the synced revision
// contains ours is returned too (the app is then not ready).
func (w *argoWait) check(ctx context.Context, a *argoApp, healthy bool) (bool, string, error) {
	st := a.Status
	var b strings.Builder
	var contains bool
	var cerr error
	switch sync := sanitize(st.Sync.Status, 40); {
	case sync == "Synced" && st.Sync.Revision != "":
		fmt.Fprintf(&b, "Synced to %s", short(sanitize(st.Sync.Revision, 80)))
		contains, cerr = w.containsOurs(ctx, st.Sync.Revision)
		if cerr == nil && !contains {
			fmt.Fprintf(&b, " (not yet %s)", short(w.ours))
		}
	case sync == "":
		b.WriteString("sync status Unknown")
	default:
		b.WriteString(sync)
	}
	health := sanitize(st.Health.Status, 40)
	if health == "" {
		health = "Unknown"
	}
	fmt.Fprintf(&b, ", %s", health)
	if msg := sanitize(st.Health.Message, argoMessageLen); msg != "" && health != "Healthy" {
		fmt.Fprintf(&b, ": %s", msg)
	}
	if op := st.OperationState; op != nil {
		switch op.Phase {
		case "Running", "Terminating", "Failed", "Error":
			fmt.Fprintf(&b, "; sync operation %s", op.Phase)
			if msg := sanitize(op.Message, argoMessageLen); msg != "" {
				fmt.Fprintf(&b, ": %s", msg)
			}
		}
	}
	ready := st.Sync.Status == "Synced" && contains && !a.operating() && (!healthy || st.Health.Status == "Healthy")
	return ready, w.d.argoRedact(b.String()), cerr
}

// containsOurs reports whether revision is our commit or a descendant of
// it, from the commit graph in the cache under the repository lock. A
// revision unknown there is fetched once.
func (w *argoWait) containsOurs(ctx context.Context, revision string) (bool, error) {
	if revision == w.ours {
		return true, nil
	}
	if known, ok := w.contains[revision]; ok {
		return known, nil
	}
	if !gitSHA.MatchString(revision) {
		// A chart version or a branch name: not a commit of ours.
		return false, fmt.Errorf("revision %q from Argo CD is no commit id", sanitize(revision, 80))
	}
	dir, err := w.d.cacheDir()
	if err != nil {
		return false, err
	}
	unlock, err := w.d.lock(ctx, dir)
	if err != nil {
		return false, err
	}
	defer unlock()
	r, err := w.d.open(dir)
	if err != nil {
		return false, err
	}
	ours, haveOurs := resolve(r, w.ours)
	theirs, haveTheirs := resolve(r, revision)
	if (!haveOurs || !haveTheirs) && !w.fetched[revision] {
		w.fetched[revision] = true
		if r, err = w.d.fetch(ctx, dir); err != nil {
			return false, err
		}
		ours, haveOurs = resolve(r, w.ours)
		theirs, haveTheirs = resolve(r, revision)
	}
	var contains bool
	switch {
	case !haveOurs:
		err = fmt.Errorf("commit %s is not in the repository", short(w.ours))
	case !haveTheirs:
		err = fmt.Errorf("commit %s is not in the repository", short(revision))
	default:
		contains, err = isAncestor(r, ours, theirs)
	}
	if err != nil {
		return false, fmt.Errorf("compare Argo CD's revision %s with %s: %w", short(revision), short(w.ours), err)
	}
	w.contains[revision] = contains
	return contains, nil
}

// argoApplication reads Application name. 401 and 403 are Forbidden, 404
// Invalid; anything else that fails (network, 5xx, an unreadable answer)
// is Unavailable. Messages never carry the token.
func (d *Driver) argoApplication(ctx context.Context, name string) (*argoApp, error) {
	path := "/api/v1/applications/" + url.PathEscape(name)
	u := strings.TrimRight(d.cfg.ArgoCD.Server, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, platform.Wrap(platform.Invalid, err, "the Argo CD server URL of the gitops driver is not valid")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "idpbot")
	req.Header.Set("Authorization", "Bearer "+d.cfg.ArgoCD.Token)
	call := "GET " + path
	resp, err := d.api.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", call, ctx.Err())
		}
		return nil, platform.Wrap(platform.Unavailable, fmt.Errorf("%s: %w", call, err),
			fmt.Sprintf("Argo CD did not answer when asked for application %s", name))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var a argoApp
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxArgoAnswer)).Decode(&a); err != nil {
			return nil, platform.Wrap(platform.Unavailable, fmt.Errorf("%s: decode answer: %w", call, err),
				fmt.Sprintf("Argo CD sent an unreadable answer for application %s", name))
		}
		return &a, nil
	}
	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	detail := resp.Status
	if msg := d.argoErrorMessage(text); msg != "" {
		detail += ": " + msg
	}
	chain := fmt.Errorf("%s: %s", call, resp.Status)
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return nil, platform.Wrap(platform.Forbidden, chain, fmt.Sprintf("Argo CD rejected the gitops driver's token (%s)", detail))
	case http.StatusForbidden:
		return nil, platform.Wrap(platform.Forbidden, chain, fmt.Sprintf("the gitops driver's Argo CD token may not get application %s, or it does not exist (%s)", name, detail))
	case http.StatusNotFound:
		return nil, platform.Wrap(platform.Invalid, chain, fmt.Sprintf("Argo CD has no application %s (drivers.gitops.argocd.application) (%s)", name, detail))
	}
	return nil, platform.Wrap(platform.Unavailable, chain, fmt.Sprintf("Argo CD could not get application %s (%s)", name, detail))
}

// argoErrorMessage extracts Argo CD's explanation from an error answer
// ({"error": …, "message": …}, or the text itself), on one line,
// shortened, without the token.
func (d *Driver) argoErrorMessage(body []byte) string {
	var doc struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	msg := string(body)
	if json.Unmarshal(body, &doc) == nil {
		msg = doc.Message
		if msg == "" {
			msg = doc.Error
		}
	}
	return sanitize(d.argoRedact(msg), argoMessageLen)
}

// argoRedact hides the Argo CD token in s.
func (d *Driver) argoRedact(s string) string {
	if a := d.cfg.ArgoCD; a != nil && a.Token != "" {
		return strings.ReplaceAll(s, a.Token, "***")
	}
	return s
}

// mergedCommit is the commit on the target branch that holds proposal p's
// change: the target's head p found when the change was already there,
// else the target's head fetched now, after the merge.
func (d *Driver) mergedCommit(ctx context.Context, p proposal) (string, error) {
	if p.inPlace {
		return p.commit, nil
	}
	return d.targetHead(ctx)
}

// problem describes err for the user: the message of a platform Error,
// else its text (a git failure, which names no secret).
func problem(err error) string {
	var e *platform.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}
