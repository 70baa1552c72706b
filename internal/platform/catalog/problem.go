package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a catalog or config file: the file it is
// in, the line and column when known (1-based; 0 when not), the field within
// that file as a dotted path ("parameters.size.default",
// "provisioner[1].environments"; empty for the whole file) and what is wrong.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String renders the problem as "file:line:column: field: message", leaving
// out the parts that are empty or unknown.
func (p Problem) String() string {
	var parts []string
	if p.File != "" {
		where := p.File
		if p.Line > 0 {
			where += ":" + strconv.Itoa(p.Line)
			if p.Column > 0 {
				where += ":" + strconv.Itoa(p.Column)
			}
		}
		parts = append(parts, where)
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
