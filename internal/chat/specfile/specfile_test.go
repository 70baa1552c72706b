package specfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "api.json")
	if err := os.WriteFile(file, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SPECFILE_TEST", file)
	if got, err := Find("shared/specs/none.json", "SPECFILE_TEST"); err != nil || got != file {
		t.Errorf("Find with the variable set = %q, %v; want %s", got, err, file)
	}
	t.Setenv("SPECFILE_TEST", filepath.Join(dir, "missing.json"))
	if _, err := Find("shared/specs/none.json", "SPECFILE_TEST"); err == nil || !strings.Contains(err.Error(), "SPECFILE_TEST=") {
		t.Errorf("Find with the variable naming a missing file = %v", err)
	}
	t.Setenv("SPECFILE_TEST", "")
	if _, err := Find("shared/specs/none-such.json", "SPECFILE_TEST"); err == nil || !strings.Contains(err.Error(), "(set SPECFILE_TEST)") {
		t.Errorf("Find of a file that is nowhere = %v, want it to say which variable to set", err)
	}
	// The repository's own: found above this package.
	if p, err := Find("shared/specs/slack/web-api-openapi-v2.json", "SPECFILE_TEST"); err != nil || !strings.HasSuffix(p, "web-api-openapi-v2.json") {
		t.Errorf("Find of the Slack description = %q, %v", p, err)
	}
}
