package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	defaultcatalog "github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/platform"
	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/policy"
)

// policyTestFile is a YAML file of policy test cases: requests and the
// verdict the configuration's rules must reach about each.
type policyTestFile struct {
	Cases []policyCase `json:"cases"`
}

// policyCase is one request and what the rules must decide about it.
type policyCase struct {
	Name    string `json:"name"`
	Request struct {
		Service     string         `json:"service"`
		Name        string         `json:"name"`
		Team        string         `json:"team"`
		Environment string         `json:"environment"`
		Params      map[string]any `json:"params"`
		// Requester is an actor ID, like slack:U012AB3CD.
		Requester string `json:"requester"`
		// Usage is how many active resources of the service the team has.
		Usage int `json:"usage"`
	} `json:"request"`
	Expect struct {
		// Verdict is allow, warn or deny: deny when any rule denies, warn
		// when any warns, allow otherwise (audit verdicts allow).
		Verdict string `json:"verdict"`
		// Messages, when given, are the messages of every rule that did
		// not allow (denials, warnings and audits), in any order.
		Messages []string `json:"messages"`
	} `json:"expect"`
}

// runPolicyTest runs `bot policy test FILE` with the --config file (or the
// built-in default).
func runPolicyTest(o options, stdout io.Writer) error {
	if len(o.command) != 3 || o.command[1] != "test" {
		return usageError{"policy: want `policy test FILE`"}
	}
	cfg, err := loadConfig(o.config, "")
	if err != nil {
		return userError{err.Error()}
	}
	return policyTest(o.command[2], cfg, stdout)
}

// policyTest runs the cases of the file at path against the rules and
// quotas of cfg, printing each case's result, and fails when a case does
// not get the verdict and messages it expects (or the file or the rules
// are invalid). Parameters get the defaults of the built-in catalog, as a
// real request does.
func policyTest(path string, cfg *Config, stdout io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return userError{fmt.Sprintf("policy test: %v", err)}
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return userError{fmt.Sprintf("policy test %s: %v", path, err)}
	}
	var file policyTestFile
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return userError{fmt.Sprintf("policy test %s: %v", path, err)}
	}
	if len(file.Cases) == 0 {
		return userError{fmt.Sprintf("policy test %s: no cases (want cases: [{name, request, expect}])", path)}
	}
	var problems []string
	for i, c := range file.Cases {
		switch {
		case c.Name == "":
			problems = append(problems, fmt.Sprintf("case %d has no name", i+1))
		case c.Request.Service == "":
			problems = append(problems, fmt.Sprintf("case %q: request.service is required", c.Name))
		case !slices.Contains([]string{"allow", "warn", "deny"}, c.Expect.Verdict):
			problems = append(problems, fmt.Sprintf("case %q: expect.verdict must be allow, warn or deny (got %q)", c.Name, c.Expect.Verdict))
		}
	}
	if len(problems) > 0 {
		return userError{fmt.Sprintf("policy test %s:\n  %s", path, strings.Join(problems, "\n  "))}
	}
	rules, err := policy.Compile(cfg.Rules())
	if err != nil {
		return userError{fmt.Sprintf("policy test: the config's rules do not compile: %v", err)}
	}
	cat, err := catalogload.Load(defaultcatalog.FS)
	if err != nil {
		return fmt.Errorf("load the built-in catalog: %w", err)
	}
	org := cfg.Org()
	failed := 0
	for _, c := range file.Cases {
		verdict, messages, err := evaluateCase(c, rules, cat, org)
		if err != nil {
			return fmt.Errorf("policy test %s: case %q: %w", path, c.Name, err)
		}
		detail := verdict
		if len(messages) > 0 {
			detail += ": " + strings.Join(messages, "; ")
		}
		want := slices.Sorted(slices.Values(c.Expect.Messages))
		if verdict == c.Expect.Verdict && (c.Expect.Messages == nil || slices.Equal(want, slices.Sorted(slices.Values(messages)))) {
			fmt.Fprintf(stdout, "PASS  %s (%s)\n", c.Name, detail)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL  %s\n      got   %s\n      want  %s", c.Name, detail, c.Expect.Verdict)
		switch {
		case len(c.Expect.Messages) > 0:
			fmt.Fprintf(stdout, ": %s", strings.Join(c.Expect.Messages, "; "))
		case c.Expect.Messages != nil:
			fmt.Fprint(stdout, " (no messages)")
		}
		fmt.Fprintln(stdout)
	}
	if failed > 0 {
		return userError{fmt.Sprintf("%s: %d of %d cases failed", path, failed, len(file.Cases))}
	}
	fmt.Fprintf(stdout, "%s: all %d cases pass\n", path, len(file.Cases))
	return nil
}

// evaluateCase runs the quota and the rules over c's request and returns
// the overall verdict and the messages of the rules that did not allow.
func evaluateCase(c policyCase, rules *policy.Set, cat *platform.Catalog, org *platform.Org) (string, []string, error) {
	r := c.Request
	svc, err := cat.Lookup(r.Service)
	if err != nil {
		svc = &platform.ServiceDefinition{Name: r.Service} // a service of another catalog: no defaults
	}
	in := platform.PolicyInput{
		Service:     svc,
		Name:        r.Name,
		Team:        r.Team,
		Environment: r.Environment,
		Parameters:  svc.Defaults(r.Params),
		Requester:   platform.Actor{ID: r.Requester},
		Usage:       r.Usage,
	}
	in.Quota, in.HasQuota = org.Quota(r.Team, svc.Name)
	var verdicts []platform.Verdict
	for _, p := range []platform.Policy{platform.QuotaPolicy{}, rules} {
		vs, err := p.Evaluate(context.Background(), in)
		if err != nil {
			return "", nil, err
		}
		verdicts = append(verdicts, vs...)
	}
	verdict := "allow"
	var messages []string
	for _, v := range verdicts {
		switch v.Outcome {
		case platform.Deny:
			verdict = "deny"
		case platform.Warn:
			if verdict == "allow" {
				verdict = "warn"
			}
		case platform.Allow:
			continue
		}
		messages = append(messages, v.Message)
	}
	return verdict, messages, nil
}
