package commands_test

import (
	"strings"
	"testing"

	"github.com/idpbot/idpbot/catalog"
	"github.com/idpbot/idpbot/internal/platform"
	loader "github.com/idpbot/idpbot/internal/platform/catalog"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// The commands work with the shipped catalog, not only the fixture: values
// parsed from chat pass its JSON Schemas, and bad ones come back per field.
func TestShippedCatalog(t *testing.T) {
	t.Parallel()
	shipped, err := loader.Load(catalog.FS)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, platformtest.WithCatalog(shipped))
	text := e.run(alice, "catalog").Text()
	for _, s := range shipped.Services() {
		if !strings.Contains(text, "("+s.Name+")") {
			t.Errorf("catalog does not list %s:\n%s", s.Name, text)
		}
	}
	reply := e.run(bob, "create postgresql-database name=orders-db size=large high_availability=yes backup_retention_days=35")
	if reply.Err != nil {
		t.Fatalf("create against the shipped schema: %s", reply.Text())
	}
	want := map[string]any{"size": "large", "high_availability": true, "backup_retention_days": int64(35)}
	for k, v := range want {
		if reply.Resource.Parameters[k] != v {
			t.Errorf("parameter %s = %#v, want %#v", k, reply.Resource.Parameters[k], v)
		}
	}
	dry := e.run(bob, "create postgresql-database name=db2 --dry-run")
	if dry.Err != nil || !strings.Contains(dry.Text(), "backup_retention_days=7") {
		t.Errorf("dry run with the shipped defaults:\n%s", dry.Text())
	}
	bad := e.run(bob, "create postgresql-database name=db3 backup_retention_days=36")
	if len(bad.Errors) != 1 || bad.Errors[0].Field != "backup_retention_days" || platform.ErrorCode(bad.Err) != platform.Invalid {
		t.Errorf("out-of-range value: %s", bad.Text())
	}
}
