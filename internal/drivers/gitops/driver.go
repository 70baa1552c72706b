// Package gitops is the provisioner driver that commits a resource's
// Kubernetes manifests to a Git repository for Argo CD or Flux to apply.
//
// It renders exactly what the kubernetes driver would apply
// (kubernetes.Render), writes one YAML file per object plus a
// kustomization.yaml under a path per team, environment, service and name,
// commits ("idpbot: create web-application orders-api for
// payments/production (request #12, by alice)") and pushes to a branch. The
// resource is ready once the commit is pushed or, when HealthURL is set,
// once that URL answers 2xx. Deletion is a commit removing the path.
//
// With ArgoCD configured, the driver then watches the Argo CD Application
// that applies the path (by default one per team and environment,
// "payments-production") through the Argo CD API: a creation is ready once
// the application is Synced to a revision containing the change (that
// commit or a later one) and Healthy, a deletion once it is Synced to a
// revision containing the removal. Its status is reported as it changes;
// a token Argo CD refuses, or an application it does not have, fails the
// request at once.
//
// With MergeRequest configured, the commit goes to a branch of its own,
// idpbot/<request id>-create (or -delete), force-pushed, and a GitHub pull
// request or GitLab merge request is opened (or the open one reused) into
// the target branch. The request is ready once the merge request is open,
// or, with WaitForMerge, once it is merged (and HealthURL reports healthy,
// and the Argo CD application has synced the target branch's new head).
//
// Git is spoken through go-git: the driver needs no git binary, so it
// works in the bot's distroless image. Each repository is fetched into a
// bare cache directory; jobs on the same repository take turns under an
// in-process lock and a file lock, so replicas sharing a disk do not
// collide either. A push rejected because the branch moved is retried on
// top of the new head.
package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
	"github.com/idpbot/idpbot/internal/platform"
)

// Defaults of Config.
const (
	DefaultBranch       = "main"
	DefaultPathTemplate = "{{team}}/{{environment}}/{{service}}/{{name}}"
	DefaultAuthorName   = "idpbot"
	DefaultAuthorEmail  = "idpbot@localhost"
	DefaultTimeout      = 5 * time.Minute
	DefaultPollInterval = 5 * time.Second
	pushAttempts        = 5
)

// Config configures the gitops driver.
type Config struct {
	// Repository is the URL or local path of the repository.
	Repository string `json:"repository,omitempty"`
	// Branch is the branch commits are pushed to (default "main").
	Branch string `json:"branch,omitempty"`
	// PathTemplate is where a resource's manifests live; placeholders
	// {{team}}, {{environment}}, {{service}}, {{name}} (default
	// DefaultPathTemplate).
	PathTemplate string `json:"path_template,omitempty"`
	// AuthorName and AuthorEmail sign the commits.
	AuthorName  string `json:"author_name,omitempty"`
	AuthorEmail string `json:"author_email,omitempty"`
	// HealthURL, when set, is polled after the push until it answers 2xx
	// (an Argo CD or Flux health endpoint); same placeholders as
	// PathTemplate, values URL-escaped.
	HealthURL string `json:"health_url,omitempty"`
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration `json:"timeout,omitempty"`
	// PollInterval is how often HealthURL is polled (default
	// DefaultPollInterval).
	PollInterval time.Duration `json:"poll_interval,omitempty"`
	// WorkDir holds the repository caches (default
	// <user cache dir>/idpbot/gitops).
	WorkDir string `json:"work_dir,omitempty"`
	// Target holds the rendering options of the cluster Argo CD or Flux
	// applies to (ingress class, domain, Gateway API); its connection
	// fields are ignored.
	Target kubernetes.Target `json:"target"`
	// MergeRequest, when set, proposes each change as a merge request
	// instead of pushing to Branch.
	MergeRequest *MergeRequestConfig `json:"merge_request,omitempty"`
	// ArgoCD, when set, makes a change ready only once the Argo CD
	// Application applying it has synced it (and, for a creation, is
	// healthy).
	ArgoCD *ArgoCDConfig `json:"argocd,omitempty"`
	// HTTPClient polls HealthURL and calls the merge request and Argo CD
	// APIs (default a client with a 10 s timeout).
	HTTPClient *http.Client `json:"-"`
}

// Driver commits manifests to a Git repository. It is safe for concurrent
// use.
type Driver struct {
	cfg Config
	// auth authenticates fetches and pushes over HTTP(S) with the merge
	// request token (pushAuth); nil without one.
	auth transport.AuthMethod
	// api calls the merge request and Argo CD APIs: HTTPClient, never
	// following a redirect to another host (it would carry the token
	// there).
	api   *http.Client
	mu    sync.Mutex
	locks map[string]chan struct{}
}

var _ platform.Driver = (*Driver)(nil)

var (
	branchPattern  = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	segmentPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// New returns a driver for cfg after checking its shape; it does no I/O. An
// empty Repository is reported by Check.
func New(cfg Config) (*Driver, error) {
	if cfg.Branch == "" {
		cfg.Branch = DefaultBranch
	}
	if cfg.PathTemplate == "" {
		cfg.PathTemplate = DefaultPathTemplate
	}
	if cfg.AuthorName == "" {
		cfg.AuthorName = DefaultAuthorName
	}
	if cfg.AuthorEmail == "" {
		cfg.AuthorEmail = DefaultAuthorEmail
	}
	if strings.HasPrefix(cfg.Repository, "-") {
		return nil, fmt.Errorf("gitops driver: repository %q must not start with -", cfg.Repository)
	}
	if !validBranch(cfg.Branch) {
		return nil, fmt.Errorf("gitops driver: invalid branch %q", cfg.Branch)
	}
	if cfg.MergeRequest != nil {
		mr := *cfg.MergeRequest
		if err := mr.validate(cfg.Branch); err != nil {
			return nil, err
		}
		cfg.MergeRequest = &mr
	}
	if cfg.ArgoCD != nil {
		a := *cfg.ArgoCD
		if err := a.validate(); err != nil {
			return nil, err
		}
		cfg.ArgoCD = &a
	}
	if cfg.HealthURL != "" {
		if u, err := url.Parse(cfg.HealthURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("gitops driver: health_url %q is not an http(s) URL", cfg.HealthURL)
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	api := *cfg.HTTPClient
	api.CheckRedirect = sameHostRedirects
	return &Driver{cfg: cfg, api: &api, auth: pushAuth(cfg), locks: map[string]chan struct{}{}}, nil
}

// validBranch reports whether name is a branch name safe to pass to git.
func validBranch(name string) bool {
	return branchPattern.MatchString(name) && !strings.HasPrefix(name, "-") && !strings.Contains(name, "..") &&
		!strings.HasSuffix(name, "/") && !strings.HasSuffix(name, ".lock") && !strings.Contains(name, "//")
}

// Check returns an Unavailable error when no repository is configured.
func (d *Driver) Check() error {
	if d.cfg.Repository == "" {
		return platform.Errorf(platform.Unavailable, "no gitops repository configured")
	}
	return nil
}

// Timeout bounds one attempt.
func (d *Driver) Timeout() time.Duration {
	if d.cfg.Timeout > 0 {
		return d.cfg.Timeout
	}
	return DefaultTimeout
}

// Provision commits the resource's manifests and, without MergeRequest,
// pushes them to Branch; with it, proposes them in a merge request and
// waits for the merge when WaitForMerge is set. Then it waits for
// HealthURL when one is configured, then for the Argo CD application to be
// Synced to a revision holding the change and Healthy when ArgoCD is (both
// not before the merge). Nothing is committed when the branch already
// holds exactly these manifests.
func (d *Driver) Provision(ctx context.Context, job platform.Job) (platform.Result, error) {
	if err := d.Check(); err != nil {
		return platform.Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	m, err := kubernetes.Render(job, d.cfg.Target)
	if err != nil {
		return platform.Result{}, err
	}
	files, err := manifestFiles(job.Resource, m)
	if err != nil {
		return platform.Result{}, err
	}
	rel, err := d.path(job.Resource)
	if err != nil {
		return platform.Result{}, err
	}
	app, err := d.application(job.Resource)
	if err != nil {
		return platform.Result{}, err
	}
	step := stepper(job)
	edit := change{rel: rel, files: files}
	out := map[string]string{
		"repository": redact(d.cfg.Repository),
		"path":       rel,
	}
	waitHealth := d.cfg.HealthURL != ""
	waitArgo := app != ""
	// ours is the commit the Argo CD application must have synced.
	var ours string
	if mc := d.cfg.MergeRequest; mc != nil {
		p, err := d.propose(ctx, job.Resource, "create", edit, step)
		if err != nil {
			return platform.Result{}, err
		}
		if p.inPlace {
			step(fmt.Sprintf("%s is already up to date on %s", rel, mc.TargetBranch))
		}
		if err := d.await(ctx, p, "create", step); err != nil {
			return platform.Result{}, err
		}
		// Before the merge nothing was applied: there is no health to see.
		applied := p.inPlace || mc.WaitForMerge
		waitHealth = waitHealth && applied
		waitArgo = waitArgo && applied
		if waitArgo {
			if ours, err = d.mergedCommit(ctx, p); err != nil {
				return platform.Result{}, err
			}
		}
		out["branch"], out["target_branch"], out["commit"] = p.branch, mc.TargetBranch, p.commit
		if p.mr != nil {
			out["merge_request_url"] = p.mr.URL
		}
	} else {
		commit, changed, err := d.update(ctx, edit, commitMessage("create", job.Resource))
		if err != nil {
			return platform.Result{}, err
		}
		if changed {
			step(fmt.Sprintf("Pushed %s to %s (%s)", rel, d.cfg.Branch, short(commit)))
		} else {
			step(fmt.Sprintf("%s is already up to date on %s", rel, d.cfg.Branch))
		}
		out["branch"], out["commit"] = d.cfg.Branch, commit
		ours = commit
	}
	if waitHealth {
		if err := d.waitHealthy(ctx, job.Resource, step); err != nil {
			return platform.Result{}, err
		}
	}
	if waitArgo && ours != "" {
		if err := d.waitArgoCD(ctx, app, ours, true, step); err != nil {
			return platform.Result{}, err
		}
	}
	for k, v := range m.Outputs {
		out[k] = v
	}
	return platform.Result{Outputs: out}, nil
}

// Deprovision commits the removal of the resource's path: pushed to
// Branch, or proposed in a merge request (awaited when WaitForMerge is
// set). A path already gone needs no commit. With ArgoCD, once the removal
// is on the branch, it waits for the application to be Synced to a
// revision holding it; its health does not matter.
func (d *Driver) Deprovision(ctx context.Context, job platform.Job) error {
	if err := d.Check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	rel, err := d.path(job.Resource)
	if err != nil {
		return err
	}
	app, err := d.application(job.Resource)
	if err != nil {
		return err
	}
	step := stepper(job)
	edit := change{rel: rel}
	if mc := d.cfg.MergeRequest; mc != nil {
		p, err := d.propose(ctx, job.Resource, "delete", edit, step)
		if err != nil {
			return err
		}
		if err := d.await(ctx, p, "delete", step); err != nil {
			return err
		}
		// Before the merge nothing was removed: there is nothing to sync.
		if app == "" || !(p.inPlace || mc.WaitForMerge) {
			return nil
		}
		ours, err := d.mergedCommit(ctx, p)
		if err != nil {
			return err
		}
		return d.waitArgoCD(ctx, app, ours, false, step)
	}
	commit, changed, err := d.update(ctx, edit, commitMessage("delete", job.Resource))
	if err != nil {
		return err
	}
	if changed {
		step(fmt.Sprintf("Pushed the removal of %s to %s (%s)", rel, d.cfg.Branch, short(commit)))
	}
	// No commit at all: the branch does not exist, nothing was applied.
	if app != "" && commit != "" {
		return d.waitArgoCD(ctx, app, commit, false, step)
	}
	return nil
}

// update applies c on top of the branch's head and pushes the commit,
// retrying on top of the new head when the push is rejected. It returns the
// head commit ("" when the branch does not exist) and whether a commit was
// made.
func (d *Driver) update(ctx context.Context, c change, msg string) (string, bool, error) {
	dir, err := d.cacheDir()
	if err != nil {
		return "", false, err
	}
	unlock, err := d.lock(ctx, dir)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	var pushErr error
	for range pushAttempts {
		r, err := d.fetch(ctx, dir)
		if err != nil {
			return "", false, err
		}
		head, _ := resolve(r, "refs/remotes/origin/"+d.cfg.Branch)
		commit, err := d.commitChange(r, head, c, msg)
		if err != nil {
			return "", false, err
		}
		if commit.IsZero() {
			return hashString(head), false, nil
		}
		if pushErr = d.push(ctx, r, commit, d.cfg.Branch, false); pushErr == nil {
			return commit.String(), true, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return "", false, pushErr
}

// hashString is h in hex, "" for the zero hash.
func hashString(h plumbing.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}

// cacheDir is the bare cache of the repository: WorkDir/<hash of the URL
// and branch>.
func (d *Driver) cacheDir() (string, error) {
	base := d.cfg.WorkDir
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for gitops: %w", err)
		}
		base = filepath.Join(c, "idpbot", "gitops")
	}
	sum := sha256.Sum256([]byte(d.cfg.Repository + "\x00" + d.cfg.Branch))
	return filepath.Join(base, hex.EncodeToString(sum[:8])), nil
}

// lock serializes work on one cache directory: within the process by a
// channel, across processes by flock on dir.lock. Both honour ctx.
func (d *Driver) lock(ctx context.Context, dir string) (func(), error) {
	d.mu.Lock()
	ch, ok := d.locks[dir]
	if !ok {
		ch = make(chan struct{}, 1)
		d.locks[dir] = ch
	}
	d.mu.Unlock()
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the repository lock: %w", ctx.Err())
	}
	release := func() { <-ch }
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		release()
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		release()
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			release()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			release()
			return nil, fmt.Errorf("wait for the repository lock: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		release()
	}, nil
}

// path is the resource's directory in the repository.
func (d *Driver) path(r *platform.Resource) (string, error) {
	p := d.expand(d.cfg.PathTemplate, r, func(s string) string { return s })
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || !segmentPattern.MatchString(seg) {
			return "", platform.Errorf(platform.Invalid, "the gitops path %q is not a safe repository path", p)
		}
	}
	return p, nil
}

func (d *Driver) expand(tmpl string, r *platform.Resource, esc func(string) string) string {
	return strings.NewReplacer(
		"{{team}}", esc(r.Team),
		"{{environment}}", esc(r.Environment),
		"{{service}}", esc(r.Service),
		"{{name}}", esc(r.Name),
	).Replace(tmpl)
}

// waitHealthy polls HealthURL until it answers 2xx.
func (d *Driver) waitHealthy(ctx context.Context, r *platform.Resource, step func(string)) error {
	u := d.expand(d.cfg.HealthURL, r, url.PathEscape)
	interval := d.cfg.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	reported := false
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return platform.Wrap(platform.Invalid, err, "the gitops health URL is not valid")
		}
		resp, err := d.cfg.HTTPClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				step("Reported healthy")
				return nil
			}
			last = resp.Status
		} else if ctx.Err() == nil {
			last = err.Error()
		}
		if !reported {
			step("Waiting for the deployment to report healthy")
			reported = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to report healthy (last: %s): %w", redact(u), last, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// manifestFiles renders each object as <kind>-<name>.yaml plus a
// kustomization.yaml listing them in apply order.
func manifestFiles(r *platform.Resource, m kubernetes.Manifests) (map[string][]byte, error) {
	header := fmt.Sprintf("# Managed by idpbot for request #%d (%s %s). Changes here are overwritten.\n", r.ID, r.Service, r.Name)
	files := map[string][]byte{}
	var names []string
	for _, o := range m.Objects {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, platform.Wrap(platform.Internal, err, "could not render the manifests")
		}
		name := strings.ToLower(o.GetKind()) + "-" + o.GetName() + ".yaml"
		if _, dup := files[name]; dup {
			return nil, platform.Errorf(platform.Internal, "two manifests are named %s", name)
		}
		files[name] = append([]byte(header), b...)
		names = append(names, name)
	}
	k, err := yaml.Marshal(map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  names,
	})
	if err != nil {
		return nil, err
	}
	files["kustomization.yaml"] = append([]byte(header), k...)
	return files, nil
}

// commitMessage is "idpbot: create web-application orders-api for
// payments/production (request #12, by alice)" with the parameters in the
// body and trailers naming the request.
func commitMessage(action string, r *platform.Resource) string {
	var b strings.Builder
	fmt.Fprintf(&b, "idpbot: %s %s %s for %s/%s (request #%d", action, r.Service, r.Name, r.Team, r.Environment, r.ID)
	if action == "create" && r.Requester.ID != "" {
		fmt.Fprintf(&b, ", by %s", oneLine(r.Requester.Display()))
	}
	b.WriteString(")\n")
	if action == "create" {
		writeParams(&b, r.Parameters, "  ")
	}
	fmt.Fprintf(&b, "\nIdpbot-Request: %d\n", r.ID)
	if r.Requester.ID != "" {
		fmt.Fprintf(&b, "Idpbot-Requester: %s\n", oneLine(r.Requester.ID))
	}
	return b.String()
}

// writeParams lists a request's parameters, sorted, one per line after
// bullet, under a "Parameters:" heading; nothing when there are none.
func writeParams(b *strings.Builder, params map[string]any, bullet string) {
	if len(params) == 0 {
		return
	}
	b.WriteString("\nParameters:\n")
	for _, k := range slices.Sorted(maps.Keys(params)) {
		fmt.Fprintf(b, "%s%s: %s\n", bullet, oneLine(k), oneLine(platform.FormatValue(params[k])))
	}
}

func oneLine(s string) string { return sanitize(s, 200) }

// redact removes credentials from a repository or health URL.
func redact(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	end := len(s)
	if j := strings.IndexAny(s[i+3:], "/?#"); j >= 0 {
		end = i + 3 + j
	}
	if at := strings.LastIndex(s[i+3:end], "@"); at >= 0 {
		return s[:i+3] + "***@" + s[i+3+at+1:]
	}
	return s
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// sanitize makes untrusted text fit for a chat message (platform.OneLine).
func sanitize(s string, n int) string { return platform.OneLine(s, n) }

func stepper(job platform.Job) func(string) {
	if job.Step == nil {
		return func(string) {}
	}
	return job.Step
}
