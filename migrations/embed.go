// Package migrations holds idpbot's SQL migrations (goose format), compiled
// into the binary.
package migrations

import "embed"

// FS holds the NNNN_name.sql migration files.
//
//go:embed *.sql
var FS embed.FS
