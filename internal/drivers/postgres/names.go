package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/idpbot/idpbot/internal/platform"
)

// maxIdentifier is the longest identifier PostgreSQL keeps (NAMEDATALEN-1
// bytes); longer ones are silently truncated by the server.
const maxIdentifier = 63

// hashSuffix is how many hex digits of a long identifier's hash are kept.
const hashSuffix = 8

// identifier returns the role and database name of a resource,
// "<team>_<env>_<name>" lowercased with hyphens turned into underscores. One
// longer than 63 bytes is cut at a character boundary and given a short hash
// of the whole name, so distinct long names stay distinct. The result is
// never quoted: callers quote it with pgx.Identifier.Sanitize.
func identifier(team, env, name string) string {
	id := strings.ReplaceAll(strings.ToLower(team+"_"+env+"_"+name), "-", "_")
	if len(id) <= maxIdentifier {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	keep := maxIdentifier - 1 - hashSuffix
	for keep > 0 && !utf8.RuneStart(id[keep]) {
		keep--
	}
	return id[:keep] + "_" + hex.EncodeToString(sum[:])[:hashSuffix]
}

// checkNames refuses a resource whose names cannot make a role: the name
// must be a DNS-1123 label, team and environment printable text. Quotes,
// semicolons and other SQL metacharacters are allowed in team and
// environment: identifiers are always quoted.
func checkNames(r *platform.Resource) error {
	if err := platform.ValidateName(r.Name); err != nil {
		return platform.Wrap(platform.Invalid, err, fmt.Sprintf("database name %q %v", r.Name, err))
	}
	for _, f := range []struct{ field, value string }{{"team", r.Team}, {"environment", r.Environment}} {
		switch {
		case f.value == "":
			return platform.Errorf(platform.Invalid, "a database needs a %s", f.field)
		case !utf8.ValidString(f.value) || strings.IndexFunc(f.value, unicode.IsControl) >= 0:
			return platform.Errorf(platform.Invalid, "%s %q cannot be part of a database name: it has control characters", f.field, f.value)
		}
	}
	if id := identifier(r.Team, r.Environment, r.Name); strings.HasPrefix(id, "pg_") {
		return platform.Errorf(platform.Invalid, "database name %s is reserved by PostgreSQL (names starting with pg_); use another team or environment name", id)
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal, whatever the server's
// standard_conforming_strings. s must not contain NUL bytes.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `'`, `''`)
	if strings.Contains(s, `\`) {
		return `E'` + strings.ReplaceAll(s, `\`, `\\`) + `'`
	}
	return `'` + s + `'`
}
