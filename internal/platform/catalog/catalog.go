// Package catalog loads the service catalog: one YAML file per service, whose
// parameters are a JSON Schema. It turns each file into a
// platform.ServiceDefinition with form fields (in the schema's ui:order) and
// a compiled schema that validates requests, and it reports every problem of
// a catalog with file and field, the way CI should check one.
package catalog

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/idpbot/idpbot/internal/platform"
)

// Load reads every *.yaml and *.yml file at the top of fsys, one service per
// file, and returns the catalog. When anything is wrong the error is
// Problems, listing all of it. Driver names are not checked (see Validate).
func Load(fsys fs.FS) (*platform.Catalog, error) {
	defs, problems := load(fsys, nil, nil)
	if len(problems) > 0 {
		return nil, problems
	}
	c, err := platform.NewCatalog(defs...)
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	return c, nil
}

// LoadDir loads the catalog in the directory dir.
func LoadDir(dir string) (*platform.Catalog, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("catalog directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("catalog directory: %s is not a directory", dir)
	}
	return Load(os.DirFS(dir))
}

// Validate checks the catalog in fsys and returns every problem found, in
// file order: YAML syntax, unknown keys, bad names, schemas that do not
// compile or cannot become a form, defaults outside their bounds, drivers not
// in knownDrivers (not checked when knownDrivers is nil), ambiguous
// provisioner bindings, duplicate services, unknown dependencies and
// dependency cycles. No problems means Load will succeed.
func Validate(fsys fs.FS, knownDrivers []string) []Problem {
	return ValidateWith(fsys, knownDrivers, nil)
}

// ValidateWith is Validate with the checks of drivers' binding settings
// (checks by driver name), such as the manifests driver's rendering of its
// templates.
func ValidateWith(fsys fs.FS, knownDrivers []string, checks map[string]BindingCheck) []Problem {
	_, problems := load(fsys, knownDrivers, checks)
	return problems
}

// load parses every service file and runs the checks across files.
func load(fsys fs.FS, knownDrivers []string, checks map[string]BindingCheck) ([]*platform.ServiceDefinition, Problems) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, Problems{{Message: fmt.Sprintf("cannot read the catalog: %v", err)}}
	}
	var problems Problems
	var defs []*platform.ServiceDefinition
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || ext != ".yaml" && ext != ".yml" {
			continue
		}
		d := &fileDecoder{file: e.Name(), drivers: knownDrivers}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			d.report("", "cannot read: %v", err)
		} else if s := d.decode(data); s != nil {
			defs = append(defs, s)
			if len(d.problems) == 0 {
				d.checkBindings(s, data, checks)
			}
		}
		problems = append(problems, d.problems...)
	}
	if len(defs) == 0 && len(problems) == 0 {
		return nil, Problems{{Message: "no service definitions (*.yaml) found"}}
	}
	problems = append(problems, crossCheck(defs)...)
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].File < problems[j].File })
	return defs, problems
}

// crossCheck finds problems between services: duplicate names, unknown
// dependencies and dependency cycles.
func crossCheck(defs []*platform.ServiceDefinition) []Problem {
	var problems []Problem
	byName := map[string]*platform.ServiceDefinition{}
	var names []string
	for _, s := range defs {
		if s.Name == "" {
			continue
		}
		if first, dup := byName[s.Name]; dup {
			problems = append(problems, Problem{File: s.Source, Field: "name", Message: fmt.Sprintf("service %q is already defined in %s", s.Name, first.Source)})
			continue
		}
		byName[s.Name] = s
		names = append(names, s.Name)
	}
	for _, s := range defs {
		if byName[s.Name] != s {
			continue
		}
		for _, dep := range s.Dependencies {
			switch {
			case dep == s.Name:
				problems = append(problems, Problem{File: s.Source, Field: "dependencies", Message: fmt.Sprintf("%s depends on itself", s.Name)})
			case byName[dep] == nil:
				msg := fmt.Sprintf("unknown service %q", dep)
				if c := platform.Closest(dep, names); c != "" {
					msg += " (did you mean " + c + "?)"
				}
				problems = append(problems, Problem{File: s.Source, Field: "dependencies", Message: msg})
			}
		}
	}
	for _, cycle := range cycles(byName) {
		problems = append(problems, Problem{File: byName[cycle[0]].Source, Field: "dependencies", Message: "dependency cycle: " + strings.Join(cycle, " → ")})
	}
	return problems
}

// cycles returns each dependency cycle once, as a path that starts and ends
// at its alphabetically first service. Self-dependencies are left out (they
// are reported on their own).
func cycles(byName map[string]*platform.ServiceDefinition) [][]string {
	const (
		unvisited = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	seen := map[string]bool{}
	var out [][]string
	var visit func(n string)
	visit = func(n string) {
		state[n] = active
		stack = append(stack, n)
		for _, dep := range byName[n].Dependencies {
			if dep == n || byName[dep] == nil {
				continue
			}
			switch state[dep] {
			case unvisited:
				visit(dep)
			case active:
				i := slices.Index(stack, dep)
				cycle := slices.Clone(stack[i:])
				start := slices.Index(cycle, slices.Min(cycle))
				cycle = slices.Concat(cycle[start:], cycle[:start], cycle[start:start+1])
				if key := strings.Join(cycle, " "); !seen[key] {
					seen[key] = true
					out = append(out, cycle)
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	for _, n := range slices.Sorted(maps.Keys(byName)) {
		if state[n] == unvisited {
			visit(n)
		}
	}
	return out
}
