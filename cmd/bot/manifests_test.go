package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCatalogValidateKubernetesCatalog: the shipped operator catalog passes
// `catalog validate`, and a template naming an unknown parameter fails it
// with file and line.
func TestCatalogValidateKubernetesCatalog(t *testing.T) {
	t.Parallel()
	const dir = "../../deploy/catalog-kubernetes"
	var out bytes.Buffer
	if err := run(context.Background(), []string{"catalog", "validate", dir}, func(string) string { return "" }, nil, &out, &out); err != nil {
		t.Fatalf("validate %s = %v\n%s", dir, err, out.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "storage-volume.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := t.TempDir()
	broken := strings.Replace(string(data), "{{ .Parameters.access_mode }}", "{{ .Parameters.access }}", 1)
	if err := os.WriteFile(filepath.Join(bad, "storage-volume.yaml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(context.Background(), []string{"catalog", "validate", bad}, func(string) string { return "" }, nil, &out, &out)
	want := `storage-volume.yaml:48: provisioner.settings.manifests[0].template: refers to unknown parameter "access"`
	if err == nil || !strings.Contains(out.String(), want) {
		t.Errorf("validate broken copy = %v, output:\n%s\nwant %q", err, out.String(), want)
	}
}

// TestManifestsDriverNeedsKubernetesTargets: the manifests driver is
// registered on the kubernetes section's clusters and refused without them.
func TestManifestsDriverNeedsKubernetesTargets(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		drivers string
		wantErr string
	}{
		{`{"kubernetes": {"targets": {"production": {"kubeconfig": "/nonexistent"}}}, "manifests": {"timeout": "20m"}}`, ""},
		{`{"manifests": {}}`, "drivers.manifests: it uses the clusters of drivers.kubernetes.targets"},
	} {
		cfg := &Config{}
		if err := json.Unmarshal([]byte(tt.drivers), &cfg.Drivers); err != nil {
			t.Fatal(err)
		}
		set, err := drivers(cfg, func(string) string { return "" }, nil)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("drivers(%s) = %v, want %q", tt.drivers, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("drivers(%s) = %v", tt.drivers, err)
		}
		d, ok := set.drivers["manifests"]
		if !ok || d.Check() != nil || d.Timeout().Minutes() != 20 {
			t.Errorf("drivers(%s): manifests = %v (registered %v), want a checked driver with a 20m timeout", tt.drivers, d, ok)
		}
	}
}
