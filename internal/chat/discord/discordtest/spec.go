package discordtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/idpbot/idpbot/internal/chat/specfile"
)

// SpecEnv names the environment variable that overrides where Discord's
// OpenAPI description is read from.
const SpecEnv = "IDPBOT_DISCORD_SPEC"

// specRel is where the description lives relative to the directory that
// holds the repository (…/shared next to …/main).
const specRel = "shared/specs/discord/openapi.json"

// specURL is the id the description is loaded under, for $refs.
const specURL = "https://discord.test/openapi.json"

// Spec is Discord's HTTP API description: its routes, and the JSON Schema
// of each one's request body, compiled on first use.
type Spec struct {
	routes []*Route

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

// Route is one operation of the description.
type Route struct {
	Method string
	// Template is the path as the description spells it,
	// "/channels/{channel_id}/messages".
	Template string
	segments []string
	literals int
	// Body is true when the operation takes a JSON body; BodyRequired when
	// it must have one.
	Body, BodyRequired bool
	// Query lists the query parameters the operation accepts.
	Query []string
	// Security lists the schemes that allow the call ("BotToken", …); none
	// for interaction webhooks.
	Security []string
	pointer  string
}

// Name is "METHOD template", how tests refer to a route.
func (r *Route) Name() string { return r.Method + " " + r.Template }

// SpecPath returns the path of Discord's OpenAPI description:
// $IDPBOT_DISCORD_SPEC when set, otherwise shared/specs/discord/openapi.json
// found above this package's source directory or above the working
// directory.
func SpecPath() (string, error) {
	p, err := specfile.Find(specRel, SpecEnv)
	if err != nil {
		return "", fmt.Errorf("discord api description: %w", err)
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

// ParseSpec indexes an OpenAPI 3.1 description of Discord's API.
func ParseSpec(data []byte) (*Spec, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse discord api description: %w", err)
	}
	root, ok := doc.(map[string]any)
	paths, _ := root["paths"].(map[string]any)
	if !ok || len(paths) == 0 {
		return nil, errors.New("discord api description has no paths")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(specURL, doc); err != nil {
		return nil, fmt.Errorf("load discord api description: %w", err)
	}
	s := &Spec{compiler: c, schemas: map[string]*jsonschema.Schema{}}
	for template, item := range paths {
		ops, _ := item.(map[string]any)
		common := queryParams(ops["parameters"])
		for method, raw := range ops {
			op, ok := raw.(map[string]any)
			if !ok || method == "parameters" {
				continue
			}
			r := &Route{Method: strings.ToUpper(method), Template: template, segments: strings.Split(strings.Trim(template, "/"), "/")}
			for _, seg := range r.segments {
				if !strings.HasPrefix(seg, "{") {
					r.literals++
				}
			}
			r.Query = append(append(r.Query, common...), queryParams(op["parameters"])...)
			if rb, ok := op["requestBody"].(map[string]any); ok {
				content, _ := rb["content"].(map[string]any)
				if _, ok := content["application/json"]; ok {
					r.Body = true
					r.BodyRequired, _ = rb["required"].(bool)
					r.pointer = "#/paths/" + escapePointer(template) + "/" + method + "/requestBody/content/application~1json/schema"
				}
			}
			if sec, ok := op["security"].([]any); ok {
				for _, alt := range sec {
					for name := range alt.(map[string]any) {
						r.Security = append(r.Security, name)
					}
				}
			}
			s.routes = append(s.routes, r)
		}
	}
	sort.Slice(s.routes, func(i, j int) bool { return s.routes[i].Name() < s.routes[j].Name() })
	return s, nil
}

func queryParams(raw any) []string {
	var out []string
	ps, _ := raw.([]any)
	for _, p := range ps {
		if m, ok := p.(map[string]any); ok && m["in"] == "query" {
			out = append(out, fmt.Sprint(m["name"]))
		}
	}
	return out
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// Match finds the route of a call: the one whose template matches path
// with the most literal segments ("/users/@me/channels" over
// "/users/{user_id}/channels"), and the values of its parameters.
func (s *Spec) Match(method, path string) (*Route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *Route
	for _, r := range s.routes {
		if r.Method != method || len(r.segments) != len(segs) || best != nil && r.literals <= best.literals {
			continue
		}
		ok := true
		for i, seg := range r.segments {
			if !strings.HasPrefix(seg, "{") && seg != segs[i] || segs[i] == "" {
				ok = false
				break
			}
		}
		if ok {
			best = r
		}
	}
	if best == nil {
		return nil, nil, false
	}
	params := map[string]string{}
	for i, seg := range best.segments {
		if strings.HasPrefix(seg, "{") {
			params[strings.Trim(seg, "{}")] = segs[i]
		}
	}
	return best, params, true
}

// Route returns the route called name ("POST /channels/{channel_id}/messages").
func (s *Spec) Route(name string) (*Route, bool) {
	for _, r := range s.routes {
		if r.Name() == name {
			return r, true
		}
	}
	return nil, false
}

// Validate checks a JSON body against the route's request schema.
func (s *Spec) Validate(r *Route, body []byte) error {
	if !r.Body {
		if len(bytes.TrimSpace(body)) > 0 {
			return fmt.Errorf("%s takes no body", r.Name())
		}
		return nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if r.BodyRequired {
			return fmt.Errorf("%s requires a JSON body", r.Name())
		}
		return nil
	}
	sch, err := s.schema(r.pointer)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body of %s is not JSON: %w", r.Name(), err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("body of %s does not match Discord's schema: %w", r.Name(), err)
	}
	return nil
}

// ValidateCallback checks an interaction response (what the HTTP endpoint
// answers) against the schema of the interaction callback.
func (s *Spec) ValidateCallback(body []byte) error {
	r, ok := s.Route("POST /interactions/{interaction_id}/{interaction_token}/callback")
	if !ok {
		return errors.New("the description has no interaction callback route")
	}
	return s.Validate(r, body)
}

func (s *Spec) schema(pointer string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[pointer]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(specURL + pointer)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", pointer, err)
	}
	s.schemas[pointer] = sch
	return sch, nil
}
