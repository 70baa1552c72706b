// Package catalog holds the default service catalog, one YAML file per
// service, compiled into the binary.
package catalog

import "embed"

// FS holds the default catalog's *.yaml files.
//
//go:embed *.yaml
var FS embed.FS
