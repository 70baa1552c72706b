package platform

import (
	"fmt"
	"sort"
	"strings"
)

// Catalog is the set of services people can provision, in display order.
type Catalog struct {
	services []*ServiceDefinition
	byName   map[string]*ServiceDefinition
}

// NewCatalog returns a catalog of the given services sorted by name. Names
// must be unique.
func NewCatalog(services ...*ServiceDefinition) (*Catalog, error) {
	c := &Catalog{byName: make(map[string]*ServiceDefinition, len(services))}
	for _, s := range services {
		if _, dup := c.byName[s.Name]; dup {
			return nil, fmt.Errorf("service %q is defined twice", s.Name)
		}
		c.byName[s.Name] = s
		c.services = append(c.services, s)
	}
	sort.Slice(c.services, func(i, j int) bool { return c.services[i].Name < c.services[j].Name })
	return c, nil
}

// Services returns every service, sorted by name.
func (c *Catalog) Services() []*ServiceDefinition { return c.services }

// Names returns the names of every service.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.services))
	for i, s := range c.services {
		out[i] = s.Name
	}
	return out
}

// Lookup returns the service called name, or a NotFound error that suggests
// the closest name.
func (c *Catalog) Lookup(name string) (*ServiceDefinition, error) {
	if s, ok := c.byName[name]; ok {
		return s, nil
	}
	if s, ok := c.byName[strings.ToLower(strings.TrimSpace(name))]; ok {
		return s, nil
	}
	msg := fmt.Sprintf("There is no service %q in the catalog.", truncate(name, 64))
	if m := Closest(name, c.Names()); m != "" {
		msg += fmt.Sprintf(" Did you mean %s?", m)
	} else {
		msg += " Available: " + strings.Join(c.Names(), ", ") + "."
	}
	return nil, &Error{Code: NotFound, Message: msg, Fields: []FieldError{{Field: "service", Message: "unknown service"}}}
}

// ByType returns the services whose Type is typ (all when typ is empty).
func (c *Catalog) ByType(typ string) []*ServiceDefinition {
	if typ == "" {
		return c.services
	}
	var out []*ServiceDefinition
	for _, s := range c.services {
		if strings.EqualFold(s.Type, typ) {
			out = append(out, s)
		}
	}
	return out
}

// Types returns the distinct service types, sorted.
func (c *Catalog) Types() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range c.services {
		if !seen[s.Type] {
			seen[s.Type] = true
			out = append(out, s.Type)
		}
	}
	sort.Strings(out)
	return out
}

// truncate shortens s to at most n runes for echoing user input back.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
