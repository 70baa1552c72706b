package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
	"github.com/idpbot/idpbot/internal/drivers/livestatus"
	"github.com/idpbot/idpbot/internal/platform"
)

var _ platform.StatusReader = (*Driver)(nil)

// Status reads, without changing anything, whether the files Provision
// writes for the resource are on the branch Argo CD or Flux applies (the
// merge requests' target branch when MergeRequest is set), through go-git:
// a path or file that is gone is Missing, a file whose content differs from
// what the record renders is Changed. With ArgoCD configured, the
// application applying the path must be Synced and Healthy, else the status
// is Degraded with Argo CD's own words. An error means the repository or
// Argo CD could not be read.
func (d *Driver) Status(ctx context.Context, job platform.Job) (platform.LiveStatus, error) {
	if err := d.Check(); err != nil {
		return platform.LiveStatus{}, err
	}
	if job.Resource == nil {
		return platform.LiveStatus{}, errors.New("status: job has no resource")
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	m, err := kubernetes.Render(job, d.cfg.Target)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	want, err := manifestFiles(job.Resource, m)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	rel, err := d.path(job.Resource)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	app, err := d.application(job.Resource)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	branch := d.cfg.Branch
	if mc := d.cfg.MergeRequest; mc != nil {
		branch = mc.TargetBranch
	}
	live, found, err := d.readPath(ctx, branch, rel)
	if err != nil {
		return platform.LiveStatus{}, err
	}

	var (
		checks                     []platform.LiveCheck
		missing, changed, degraded []string
	)
	switch {
	case !found:
		checks = append(checks, platform.LiveCheck{Name: rel, Recorded: "on " + branch, Live: "absent"})
		missing = append(missing, fmt.Sprintf("the directory %s is no longer on branch %s", rel, branch))
	default:
		for _, name := range slices.Sorted(maps.Keys(want)) {
			got, ok := live[name]
			switch {
			case !ok:
				checks = append(checks, platform.LiveCheck{Name: rel + "/" + name, Recorded: "present", Live: "absent"})
				missing = append(missing, fmt.Sprintf("the file %s/%s is gone from branch %s", rel, name, branch))
			case !bytes.Equal(got, want[name]):
				checks = append(checks, platform.LiveCheck{Name: rel + "/" + name, Recorded: "as rendered", Live: "edited"})
				changed = append(changed, fmt.Sprintf("the file %s/%s differs on branch %s from what the record renders", rel, name, branch))
			default:
				checks = append(checks, platform.LiveCheck{Name: rel + "/" + name, Recorded: "present", Live: "present", OK: true})
			}
		}
	}
	if app != "" {
		c, bad, err := d.argoStatus(ctx, app)
		if err != nil {
			return platform.LiveStatus{}, err
		}
		checks = append(checks, c)
		if bad != "" {
			degraded = append(degraded, bad)
		}
	}

	healthy := fmt.Sprintf("The manifests are on branch %s as recorded.", branch)
	if app != "" {
		healthy = fmt.Sprintf("The manifests are on branch %s, and Argo CD application %s is synced and healthy.", branch, app)
	}
	st := livestatus.Verdict(checks, missing, degraded, changed, healthy)
	return st, nil
}

// readPath fetches the repository and returns the regular files directly
// under rel on branch, by name; found is false when the branch or the
// directory does not exist.
func (d *Driver) readPath(ctx context.Context, branch, rel string) (map[string][]byte, bool, error) {
	dir, err := d.cacheDir()
	if err != nil {
		return nil, false, err
	}
	unlock, err := d.lock(ctx, dir)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	r, err := d.fetch(ctx, dir)
	if err != nil {
		return nil, false, err
	}
	head, ok := resolve(r, "refs/remotes/origin/"+branch)
	if !ok {
		return nil, false, nil
	}
	c, err := r.CommitObject(head)
	if err != nil {
		return nil, false, fmt.Errorf("read commit %s: %w", short(head.String()), err)
	}
	root, err := c.Tree()
	if err != nil {
		return nil, false, fmt.Errorf("read tree of %s: %w", short(head.String()), err)
	}
	t, err := root.Tree(rel)
	if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", rel, err)
	}
	files := map[string][]byte{}
	for _, e := range t.Entries {
		if !e.Mode.IsFile() {
			continue
		}
		f, err := t.TreeEntryFile(&e)
		if err != nil {
			return nil, false, fmt.Errorf("read %s/%s: %w", rel, e.Name, err)
		}
		s, err := f.Contents()
		if err != nil {
			return nil, false, fmt.Errorf("read %s/%s: %w", rel, e.Name, err)
		}
		files[e.Name] = []byte(s)
	}
	return files, true, nil
}

// argoStatus reads Argo CD application app once and returns its check and,
// when it is not Synced and Healthy, what is wrong ("" when nothing). An
// application Argo CD does not have is reported, not an error; a token it
// refuses or no answer is an error.
func (d *Driver) argoStatus(ctx context.Context, app string) (platform.LiveCheck, string, error) {
	name := "Argo CD application " + app
	a, err := d.argoApplication(ctx, app)
	if platform.ErrorCode(err) == platform.Invalid {
		return platform.LiveCheck{Name: name, Recorded: "Synced, Healthy", Live: "absent"},
			fmt.Sprintf("Argo CD has no application %s, so nothing applies the manifests", app), nil
	}
	if err != nil {
		return platform.LiveCheck{}, "", err
	}
	sync := sanitize(a.Status.Sync.Status, 40)
	if sync == "" {
		sync = "Unknown"
	}
	health := sanitize(a.Status.Health.Status, 40)
	if health == "" {
		health = "Unknown"
	}
	live := sync + ", " + health
	c := platform.LiveCheck{Name: name, Recorded: "Synced, Healthy", Live: live, OK: sync == "Synced" && health == "Healthy"}
	if c.OK {
		return c, "", nil
	}
	bad := fmt.Sprintf("Argo CD application %s is %s", app, live)
	if msg := sanitize(d.argoRedact(a.Status.Health.Message), argoMessageLen); msg != "" && health != "Healthy" {
		bad += ": " + strings.TrimSuffix(msg, ".")
	}
	return c, bad, nil
}
