package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/idpbot/idpbot/internal/chat/specfile"
)

// SpecEnv names the environment variable that overrides where Slack's Web
// API OpenAPI description is read from.
const SpecEnv = "IDPBOT_SLACK_SPEC"

// specRel is where the description lives relative to the directory that
// holds the repository (…/shared next to …/main).
const specRel = "shared/specs/slack/web-api-openapi-v2.json"

// Spec is what the fake knows of Slack's Web API description: every method
// with its parameters and the OAuth scopes that allow calling it.
type Spec struct {
	methods map[string]Method
}

// Method is one Web API method of the description.
type Method struct {
	Name string
	// Required lists the required parameters other than the token.
	Required []string
	// Params lists every documented parameter other than the token.
	Params []string
	// Scopes are the OAuth scopes any one of which allows the call
	// (legacy "chat:write:bot" style included, as in the description).
	Scopes []string
}

// Method returns the method called name.
func (s *Spec) Method(name string) (Method, bool) {
	m, ok := s.methods[name]
	return m, ok
}

// SpecPath returns the path of Slack's Web API OpenAPI description:
// $IDPBOT_SLACK_SPEC when set, otherwise shared/specs/slack/web-api-openapi-v2.json
// found above the source or the working directory.
func SpecPath() (string, error) {
	p, err := specfile.Find(specRel, SpecEnv)
	if err != nil {
		return "", fmt.Errorf("slack web api description: %w", err)
	}
	return p, nil
}

var (
	specOnce sync.Once
	specVal  *Spec
	specErr  error
)

// LoadSpec reads and indexes the description at SpecPath, once per process.
func LoadSpec() (*Spec, error) {
	specOnce.Do(func() {
		p, err := SpecPath()
		if err != nil {
			specErr = err
			return
		}
		data, err := os.ReadFile(p)
		if err != nil {
			specErr = err
			return
		}
		specVal, specErr = ParseSpec(data)
		if specErr != nil {
			specErr = fmt.Errorf("%s: %w", p, specErr)
		}
	})
	return specVal, specErr
}

// ParseSpec indexes an OpenAPI 2 description of the Web API.
func ParseSpec(data []byte) (*Spec, error) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name     string `json:"name"`
				In       string `json:"in"`
				Required bool   `json:"required"`
			} `json:"parameters"`
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse slack web api description: %w", err)
	}
	if len(doc.Paths) == 0 {
		return nil, errors.New("slack web api description has no paths")
	}
	s := &Spec{methods: make(map[string]Method, len(doc.Paths))}
	for path, ops := range doc.Paths {
		m := Method{Name: strings.TrimPrefix(path, "/")}
		seen := map[string]bool{}
		for _, op := range ops {
			for _, p := range op.Parameters {
				if p.Name == "token" || seen[p.Name] {
					continue
				}
				seen[p.Name] = true
				m.Params = append(m.Params, p.Name)
				if p.Required {
					m.Required = append(m.Required, p.Name)
				}
			}
			for _, sec := range op.Security {
				m.Scopes = append(m.Scopes, sec["slackAuth"]...)
			}
		}
		sort.Strings(m.Params)
		sort.Strings(m.Required)
		s.methods[m.Name] = m
	}
	return s, nil
}
