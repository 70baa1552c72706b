package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/platform/catalog"
)

// TestGoldenRender pins the objects each shipped entry renders.
func TestGoldenRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		service, name string
		params        map[string]any
	}{
		{"postgresql-database", "orders-db", map[string]any{"size": "large", "high_availability": true, "backup_retention_days": int64(30)}},
		{"postgresql-database", "orders-db-small", nil},
		{"message-queue", "orders-events", map[string]any{"partitions": int64(12), "retention_hours": int64(24)}},
		{"object-storage", "orders-files", map[string]any{"versioning": true}},
		{"storage-volume", "orders-data", map[string]any{"size": "medium", "access_mode": "ReadWriteMany"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := newJob(t, shipped(t, tt.service), tt.name, tt.params, &recorder{})
			spec, err := ParseSpec(job.Settings)
			if err != nil {
				t.Fatal(err)
			}
			data, err := NewData(job, spec)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := Render(spec, data, job.Resource)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			var got []byte
			for _, u := range objs {
				y, err := yaml.Marshal(u.Object)
				if err != nil {
					t.Fatal(err)
				}
				got = append(append(got, "---\n"...), y...)
			}
			path := filepath.Join("testdata", tt.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

// TestShippedCatalogValidates runs catalog validate's checks on the shipped
// catalog and on the RabbitMQ alternative of message-queue.
func TestShippedCatalogValidates(t *testing.T) {
	t.Parallel()
	checks := map[string]catalog.BindingCheck{"manifests": CheckCatalogBinding}
	known := []string{"postgres", "manifests"}
	if ps := catalog.ValidateWith(os.DirFS(catalogDir), known, checks); len(ps) > 0 {
		t.Errorf("ValidateWith(%s) = %v, want no problems", catalogDir, ps)
	}
	alt, err := os.ReadFile(filepath.Join(catalogDir, "alternatives", "message-queue-rabbitmq.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := catalog.ValidateWith(fstest.MapFS{"message-queue.yaml": {Data: alt}}, known, checks); len(ps) > 0 {
		t.Errorf("ValidateWith(rabbitmq alternative) = %v, want no problems", ps)
	}
}

// TestCatalogRejectsBadTemplates checks each kind of bad template is
// reported with file, line and field.
func TestCatalogRejectsBadTemplates(t *testing.T) {
	t.Parallel()
	const head = `name: cache
title: Cache
description: A cache
type: cache
owner: platform
parameters:
  type: object
  properties:
    size: {type: string, enum: [small, large], default: small}
provisioner:
  driver: manifests
  settings:
    sizes: {small: 1Gi}
    manifests:
      - template: |
          apiVersion: example.com/v1
`
	tests := []struct{ name, body, want string }{
		{"unknown parameter", "          kind: Cache\n          metadata: {name: {{ .Parameters.sise }}}\n",
			`cache.yaml:18: provisioner.settings.manifests[0].template: refers to unknown parameter "sise"`},
		{"option without setting", "          kind: Cache\n          metadata: {name: x}\n          spec: {size: {{ index .Settings.sizes .Parameters.size | required \"no size\" }}}\n",
			`cache.yaml:19: provisioner.settings.manifests[0].template: error calling required: no size (parameters size=large)`},
		{"does not parse", "          kind: Cache\n          metadata: {name: {{ .Name }</metadata>\n",
			`cache.yaml:18: provisioner.settings.manifests[0].template: unexpected "}" in operand`},
		{"invalid YAML", "          kind: Cache\n          metadata: [name\n",
			`cache.yaml:15: provisioner.settings.manifests[0].template: renders invalid YAML`},
		{"no kind", "          metadata: {name: x}\n",
			`cache.yaml:15: provisioner.settings.manifests[0].template: renders an object without kind`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{"cache.yaml": {Data: []byte(head + tt.body)}}
			ps := catalog.ValidateWith(fsys, []string{"manifests"}, map[string]catalog.BindingCheck{"manifests": CheckCatalogBinding})
			if len(ps) == 0 || !strings.HasPrefix(ps[0].String(), tt.want) {
				t.Errorf("ValidateWith = %v, want first starting %q", ps, tt.want)
			}
		})
	}
}
