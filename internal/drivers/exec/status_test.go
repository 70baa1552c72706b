package exec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stdinFile := filepath.Join(dir, "stdin.json")
	sh := script(t, `cat > "$1"
printf '{"health": "changed", "summary": "Bucket %s has versioning off.",\n "checks": [{"name": "versioning", "recorded": "on", "live": "off", "ok": false}]}\n' "$IDP_ACTION:$IDP_NAME:$IDP_SIZE"
`)
	// The provisioning command is not needed to read status.
	d := mustNew(t, Config{Timeout: 10 * time.Second})
	job := newJob(map[string]any{"size": "small"}, &recorder{})
	job.Settings = map[string]any{"module": "s3", "status_command": []any{sh, stdinFile}}
	got, err := d.Status(context.Background(), job)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := platform.LiveStatus{Health: platform.Changed, Summary: "Bucket status:invoices:small has versioning off.",
		Checks: []platform.LiveCheck{{Name: "versioning", Recorded: "on", Live: "off"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status mismatch (-want +got):\n%s", diff)
	}
	raw, err := os.ReadFile(stdinFile)
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]any
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatalf("stdin %q: %v", raw, err)
	}
	if in["action"] != "status" || in["request_id"] != float64(42) {
		t.Errorf("stdin = %s, want action status for request 42", raw)
	}
}

func TestStatusExits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		wantHealth platform.Health
		wantErr    string // "" for no error
	}{
		{"healthy", `echo '{"health":"healthy","summary":"All good."}'`, platform.Healthy, ""},
		{"exit 3 is missing", `echo 'bucket not found' >&2; exit 3`, platform.Missing, ""},
		{"other exit is an error", `echo 'AccessDenied' >&2; exit 1`, "", "The status command failed (exit 1): AccessDenied"},
		{"exit 75 is an error too", `exit 75`, "", "The status command failed (exit 75): no error output"},
		{"not a document", `echo 'all fine'`, "", "did not write a valid live-status document"},
		{"a completion result is not a status", `echo '{"outputs":{}}'`, "", "did not write a valid live-status document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := mustNew(t, Config{Timeout: 10 * time.Second})
			job := newJob(nil, &recorder{})
			job.Settings = map[string]any{"status_command": []string{script(t, tt.body)}}
			got, err := d.Status(context.Background(), job)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(platform.ErrorMessage(err), tt.wantErr) {
					t.Errorf("Status = %+v, %v; want an error saying %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Health != tt.wantHealth {
				t.Errorf("Status = %+v, %v; want %s", got, err, tt.wantHealth)
			}
		})
	}
}

func TestStatusTimeout(t *testing.T) {
	t.Parallel()
	d := mustNew(t, Config{Timeout: 100 * time.Millisecond, KillGrace: 100 * time.Millisecond})
	job := newJob(nil, &recorder{})
	job.Settings = map[string]any{"status_command": []string{script(t, `exec sleep 300`)}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got, err := d.Status(ctx, job); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Status of a hanging command = %+v, %v; want a deadline error", got, err)
	}
	if ctx.Err() != nil {
		t.Errorf("Status did not stop the command within its timeout")
	}
}

func TestStatusNotConfigured(t *testing.T) {
	t.Parallel()
	d := mustNew(t, Config{Command: []string{"true"}})
	if _, err := d.Status(context.Background(), newJob(nil, &recorder{})); !errors.Is(err, platform.ErrNoStatus) {
		t.Errorf("Status without status_command: %v, want ErrNoStatus", err)
	}
	for _, bad := range []any{"check.sh", []any{}, []any{"check.sh", 3}, []any{""}} {
		job := newJob(nil, &recorder{})
		job.Settings = map[string]any{"status_command": bad}
		if _, err := d.Status(context.Background(), job); platform.ErrorCode(err) != platform.Invalid {
			t.Errorf("Status with status_command %#v: %v, want Invalid", bad, err)
		}
	}
	job := newJob(nil, &recorder{})
	job.Settings = map[string]any{"status_command": []any{"/nonexistent/check-status"}}
	if _, err := d.Status(context.Background(), job); platform.ErrorCode(err) != platform.Unavailable {
		t.Errorf("Status with a missing status command: %v, want Unavailable", err)
	}
}
