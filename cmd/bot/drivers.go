package main

import (
	"cmp"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	execdriver "github.com/idpbot/idpbot/internal/drivers/exec"
	"github.com/idpbot/idpbot/internal/drivers/gitops"
	"github.com/idpbot/idpbot/internal/drivers/kubernetes"
	"github.com/idpbot/idpbot/internal/drivers/manifests"
	pgdriver "github.com/idpbot/idpbot/internal/drivers/postgres"
	"github.com/idpbot/idpbot/internal/drivers/webhook"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
)

// DriversConfig holds the provisioner driver targets of the config file. A
// driver without a section is not configured: the services bound to it
// show as unavailable, with the reason.
type DriversConfig struct {
	// Postgres is the server the postgresql-database driver creates roles
	// and databases on (left out: the server of DATABASE_URL).
	Postgres *struct {
		// AdminURL connects as a role with CREATEROLE and CREATEDB (keep
		// the password in PGPASSWORD or a PGPASSFILE, not here).
		AdminURL string `json:"admin_url"`
		// PublicHost is the host or host:port clients reach the server
		// at, when it differs from the admin URL's.
		PublicHost string `json:"public_host"`
		// Timeout bounds one attempt (default 2m).
		Timeout Duration `json:"timeout"`
	} `json:"postgres"`
	// Kubernetes configures the kubernetes driver (namespaces, web
	// applications, API gateways).
	Kubernetes *struct {
		// Targets are clusters by environment name.
		Targets map[string]kubernetes.Target `json:"targets"`
		// Timeout bounds one attempt (default 10m).
		Timeout Duration `json:"timeout"`
		// PollInterval is how often a rollout is checked (default 2s).
		PollInterval Duration `json:"poll_interval"`
		// FailureGrace is how long pods may report a failure such as
		// ImagePullBackOff before the request fails (default 1m).
		FailureGrace Duration `json:"failure_grace"`
	} `json:"kubernetes"`
	// Manifests applies operator objects from catalog templates on the
	// clusters of the kubernetes section, which it requires.
	Manifests *struct {
		// Timeout bounds one attempt (default 30m).
		Timeout Duration `json:"timeout"`
		// PollInterval is how often the objects' status is read (default 5s).
		PollInterval Duration `json:"poll_interval"`
	} `json:"manifests"`
	// Gitops configures the gitops driver: manifests committed to a
	// repository that Argo CD or Flux applies.
	Gitops *struct {
		// Repository is the URL or local path of the repository.
		Repository string `json:"repository"`
		// Branch is the branch commits are pushed to (default main).
		Branch string `json:"branch"`
		// PathTemplate is where a resource's manifests live; placeholders
		// {{team}}, {{environment}}, {{service}}, {{name}} (default
		// {{team}}/{{environment}}/{{service}}/{{name}}).
		PathTemplate string `json:"path_template"`
		// AuthorName signs the commits (default idpbot).
		AuthorName string `json:"author_name"`
		// AuthorEmail signs the commits (default idpbot@localhost).
		AuthorEmail string `json:"author_email"`
		// HealthURL, when set, is polled after the push until it answers
		// 2xx; same placeholders as path_template.
		HealthURL string `json:"health_url"`
		// WorkDir holds the repository caches (default
		// $IDPBOT_DATA_DIR/gitops).
		WorkDir string `json:"work_dir"`
		// Timeout bounds one attempt (default 5m).
		Timeout Duration `json:"timeout"`
		// PollInterval is how often health_url is polled (default 5s).
		PollInterval Duration `json:"poll_interval"`
		// Target holds the rendering options of the cluster Argo CD or
		// Flux applies to (ingress class, domain, Gateway API); its
		// connection keys are ignored.
		Target kubernetes.Target `json:"target"`
		// MergeRequest, when set, proposes each change as a GitHub pull
		// request or GitLab merge request instead of pushing to Branch.
		MergeRequest *struct {
			// Provider is github or gitlab.
			Provider string `json:"provider"`
			// APIURL is the API's base URL: https://api.github.com,
			// https://gitlab.example.com/api/v4.
			APIURL string `json:"api_url"`
			// Project is owner/repo on GitHub, a project id or path on
			// GitLab.
			Project string `json:"project"`
			// TargetBranch is the branch merge requests target (default
			// branch).
			TargetBranch string `json:"target_branch"`
			// TokenEnv names the environment variable holding the API
			// token (default IDPBOT_GITOPS_TOKEN): secrets stay out of
			// the file.
			TokenEnv string `json:"token_env"`
			// WaitForMerge makes a request ready only once its merge
			// request is merged (otherwise: once it is open).
			WaitForMerge bool `json:"wait_for_merge"`
		} `json:"merge_request"`
		// ArgoCD, when set, waits for the Argo CD Application applying a
		// resource's path to be synced and healthy.
		ArgoCD *struct {
			// Server is the base URL of the Argo CD API server.
			Server string `json:"server"`
			// Application names the Application that applies a
			// resource's path; same placeholders as path_template.
			Application string `json:"application"`
			// TokenEnv names the environment variable holding the Argo
			// CD token (default IDPBOT_ARGOCD_TOKEN).
			TokenEnv string `json:"token_env"`
		} `json:"argocd"`
	} `json:"gitops"`
	// Webhook configures the webhook driver: a signed POST per request to
	// the platform team's own automation.
	Webhook *struct {
		// URL receives the signed POST of each request; a binding's url
		// setting overrides it.
		URL string `json:"url"`
		// StatusURL, when set, is polled for completion; placeholders
		// {{request_id}}, {{action}}, {{service}}, {{name}}, {{team}},
		// {{environment}}.
		StatusURL string `json:"status_url"`
		// CallbackBaseURL is the bot's public base URL; when set, each
		// delivery carries a callback URL.
		CallbackBaseURL string `json:"callback_base_url"`
		// SecretEnv names the environment variable holding the HMAC secret
		// (default IDPBOT_WEBHOOK_SECRET): secrets stay out of the file.
		SecretEnv string `json:"secret_env"`
		// Timeout bounds one attempt, delivery and wait.
		Timeout Duration `json:"timeout"`
		// PollInterval is how often the status URL and callbacks are read.
		PollInterval Duration `json:"poll_interval"`
		// RequestTimeout bounds each HTTP request.
		RequestTimeout Duration `json:"request_timeout"`
	} `json:"webhook"`
	// Exec configures the exec driver: a command run per request
	// (parameters in IDP_* variables, the request as JSON on stdin).
	Exec *struct {
		// Command is the argv to run; the first word is looked up in PATH
		// when it has no slash.
		Command []string `json:"command"`
		// Dir is the working directory (empty: the bot's).
		Dir string `json:"dir"`
		// Env are extra environment variables, NAME=value, or NAME to pass
		// the bot's own value through.
		Env []string `json:"env"`
		// Timeout bounds one run.
		Timeout Duration `json:"timeout"`
		// KillGrace is how long the process group has between SIGTERM and
		// SIGKILL.
		KillGrace Duration `json:"kill_grace"`
	} `json:"exec"`
}

// secretEnv reads a secret a config section needs from the environment
// variable the section names (name), or else the default: secrets stay out
// of the file. An empty one is an error naming the variable.
func secretEnv(g env, name, fallback, section, what string) (string, error) {
	name = cmp.Or(name, fallback)
	if v := g(name); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s: %s is not set: it holds %s", section, name, what)
}

// driverSet is the configured drivers and the HTTP handlers some of them
// serve (webhook callbacks).
type driverSet struct {
	drivers  map[string]platform.Driver
	handlers map[string]http.Handler
}

// drivers builds the provisioner drivers the configuration enables. The
// postgres driver always exists: by default it targets the server of
// DATABASE_URL.
func drivers(cfg *Config, g env, pool *pgxpool.Pool) (driverSet, error) {
	set := driverSet{drivers: map[string]platform.Driver{}, handlers: map[string]http.Handler{}}
	c := cfg.Drivers
	pgcfg := pgdriver.Config{AdminURL: adminURL(cfg, g)}
	if p := c.Postgres; p != nil {
		pgcfg.PublicHost, pgcfg.Timeout = p.PublicHost, time.Duration(p.Timeout)
	}
	set.drivers["postgres"] = pgdriver.New(pgcfg)

	if k := c.Kubernetes; k != nil {
		kd := kubernetes.New(kubernetes.Config{
			Targets: k.Targets, Timeout: time.Duration(k.Timeout),
			PollInterval: time.Duration(k.PollInterval), FailureGrace: time.Duration(k.FailureGrace),
		})
		set.drivers["kubernetes"] = kd
		if m := c.Manifests; m != nil {
			set.drivers["manifests"] = manifests.New(manifests.Config{
				Timeout: time.Duration(m.Timeout), PollInterval: time.Duration(m.PollInterval),
			}, kd.Connections())
		}
	} else if c.Manifests != nil {
		return set, fmt.Errorf("drivers.manifests: it uses the clusters of drivers.kubernetes.targets; configure that section")
	}
	if gc := c.Gitops; gc != nil {
		workDir := gc.WorkDir
		if workDir == "" {
			workDir = filepath.Join(dataDir(g), "gitops")
		}
		var mr *gitops.MergeRequestConfig
		if m := gc.MergeRequest; m != nil {
			token, err := secretEnv(g, m.TokenEnv, "IDPBOT_GITOPS_TOKEN", "drivers.gitops.merge_request", "the "+m.Provider+" API token")
			if err != nil {
				return set, err
			}
			mr = &gitops.MergeRequestConfig{
				Provider: m.Provider, APIURL: m.APIURL, Project: m.Project, TargetBranch: m.TargetBranch,
				Token: token, WaitForMerge: m.WaitForMerge,
			}
		}
		var argo *gitops.ArgoCDConfig
		if a := gc.ArgoCD; a != nil {
			token, err := secretEnv(g, a.TokenEnv, "IDPBOT_ARGOCD_TOKEN", "drivers.gitops.argocd", "the Argo CD token")
			if err != nil {
				return set, err
			}
			argo = &gitops.ArgoCDConfig{Server: a.Server, Application: a.Application, Token: token}
		}
		d, err := gitops.New(gitops.Config{
			Repository: gc.Repository, Branch: gc.Branch, PathTemplate: gc.PathTemplate,
			AuthorName: gc.AuthorName, AuthorEmail: gc.AuthorEmail, HealthURL: gc.HealthURL,
			WorkDir: workDir, Timeout: time.Duration(gc.Timeout), PollInterval: time.Duration(gc.PollInterval),
			Target: gc.Target, MergeRequest: mr, ArgoCD: argo,
		})
		if err != nil {
			return set, fmt.Errorf("drivers.gitops: %w", err)
		}
		set.drivers["gitops"] = d
	}
	if w := c.Webhook; w != nil {
		// Without its secret the driver is unavailable, with the reason.
		var callbacks webhook.CallbackStore
		if pool != nil {
			callbacks = postgres.NewCallbacks(pool)
		}
		d, err := webhook.New(webhook.Config{
			URL: w.URL, StatusURL: w.StatusURL, CallbackBaseURL: w.CallbackBaseURL, Secret: g(cmp.Or(w.SecretEnv, "IDPBOT_WEBHOOK_SECRET")),
			Timeout: time.Duration(w.Timeout), PollInterval: time.Duration(w.PollInterval),
			RequestTimeout: time.Duration(w.RequestTimeout),
		}, callbacks)
		if err != nil {
			return set, fmt.Errorf("drivers.webhook: %w", err)
		}
		set.drivers["webhook"] = d
		set.handlers[webhook.CallbackPath] = d.Handler()
	}
	if e := c.Exec; e != nil {
		d, err := execdriver.New(execdriver.Config{
			Command: e.Command, Dir: e.Dir, Env: e.Env,
			Timeout: time.Duration(e.Timeout), KillGrace: time.Duration(e.KillGrace),
		})
		if err != nil {
			return set, fmt.Errorf("drivers.exec: %w", err)
		}
		set.drivers["exec"] = d
	}
	return set, nil
}
