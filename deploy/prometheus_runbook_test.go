package deploy_test

import (
	"os"
	"strings"
	"testing"
)

// runbookURL is where the alerts' runbook_url annotations point: the
// RUNBOOK.md of this directory, one section per alert.
const runbookURL = "https://github.com/idpbot/idpbot/blob/main/deploy/prometheus/RUNBOOK.md#"

// runbookSections reads prometheus/RUNBOOK.md: the text of each "## "
// section by its GitHub anchor (the title lowercased).
func runbookSections(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("prometheus/RUNBOOK.md")
	if err != nil {
		t.Fatalf("the alerts' runbook: %v", err)
	}
	sections := map[string]string{}
	var anchor string
	for line := range strings.Lines(string(b)) {
		if title, ok := strings.CutPrefix(line, "## "); ok {
			anchor = strings.ToLower(strings.TrimSpace(title))
			if _, dup := sections[anchor]; dup {
				t.Errorf("RUNBOOK.md: section %q appears twice", title)
			}
			sections[anchor] = ""
			continue
		}
		if anchor != "" {
			sections[anchor] += line
		}
	}
	return sections
}

// checkRunbook checks that alert's runbook_url is the anchor of its own
// section of RUNBOOK.md, and that the section says what the alert means,
// what to check and what to do.
func checkRunbook(t *testing.T, where, alert, url string, sections map[string]string) {
	t.Helper()
	anchor, ok := strings.CutPrefix(url, runbookURL)
	if !ok {
		t.Errorf("%s: runbook_url %q is not in %s", where, url, runbookURL)
		return
	}
	if anchor != strings.ToLower(alert) {
		t.Errorf("%s: runbook_url anchor %q, want %q (its own section)", where, anchor, strings.ToLower(alert))
	}
	rb, ok := sections[anchor]
	if !ok {
		t.Errorf("%s: RUNBOOK.md has no section %q", where, anchor)
		return
	}
	for _, part := range []string{"**Meaning:**", "**Check:**", "**Action:**"} {
		if !strings.Contains(rb, part) {
			t.Errorf("%s: RUNBOOK.md section lacks its %q paragraph", where, part)
		}
	}
	if len(rb) < 300 {
		t.Errorf("%s: RUNBOOK.md section is %d characters; say what it means, what to check and what to do", where, len(rb))
	}
	for _, word := range []string{"TODO", "TBD", "FIXME"} {
		if strings.Contains(rb, word) {
			t.Errorf("%s: RUNBOOK.md section contains the placeholder %q", where, word)
		}
	}
}
