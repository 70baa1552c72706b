package catalog

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a catalog: the file it is in, the field
// within that file as a dotted path ("parameters.size.default",
// "provisioner[1].environments"; empty for the whole file) and what is wrong.
type Problem struct {
	File string `json:"file"`
	// Line is the line in File (0: not known).
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String renders the problem as "file:line: field: message", leaving out
// the parts that are empty.
func (p Problem) String() string {
	var parts []string
	switch {
	case p.File != "" && p.Line > 0:
		parts = append(parts, fmt.Sprintf("%s:%d", p.File, p.Line))
	case p.File != "":
		parts = append(parts, p.File)
	}
	if p.Field != "" {
		parts = append(parts, p.Field)
	}
	return strings.Join(append(parts, p.Message), ": ")
}

// Problems is the error Load returns for a catalog that does not validate:
// every problem found, in file order.
type Problems []Problem

// Error lists every problem, one per line.
func (ps Problems) Error() string {
	if len(ps) == 1 {
		return ps[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(ps))
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}
