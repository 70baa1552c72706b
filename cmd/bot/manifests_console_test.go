package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/idpbot/idpbot/internal/drivers/kubernetes/kubefake"
)

var (
	cnpgClusters = kubefake.Resource{GVR: schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}, Kind: "Cluster", Namespaced: true}
	cnpgBackups  = kubefake.Resource{GVR: schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "scheduledbackups"}, Kind: "ScheduledBackup", Namespaced: true}
)

// cnpgFinalizer is the fake operator's finalizer on the clusters it runs.
const cnpgFinalizer = "kubefake.test/cnpg-cleanup"

// fakeCNPG plays CloudNativePG on a cluster's reads: the first says the
// primary is being set up, later ones that it is healthy, with the
// <name>-app Secret made (owned by the cluster) once healthy.
func fakeCNPG(obj *unstructured.Unstructured, reads int, create func(*unstructured.Unstructured)) {
	obj.SetFinalizers([]string{cnpgFinalizer})
	if reads == 1 {
		obj.Object["status"] = map[string]any{"phase": "Setting up primary", "conditions": []any{
			map[string]any{"type": "Ready", "status": "False", "reason": "ClusterIsNotReady", "message": "Cluster Is Not Ready"}}}
		return
	}
	if st, _ := obj.Object["status"].(map[string]any); st != nil && st["phase"] == "Cluster in healthy state" {
		return
	}
	name := obj.GetName()
	obj.Object["status"] = map[string]any{"phase": "Cluster in healthy state", "writeService": name + "-rw", "conditions": []any{
		map[string]any{"type": "Ready", "status": "True", "reason": "ClusterIsReady", "message": "Cluster is Ready"}}}
	db := strings.ReplaceAll(name, "-", "_")
	password := "pw-" + name
	secret := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
		"data": map[string]any{
			"password": base64.StdEncoding.EncodeToString([]byte(password)),
			"uri":      base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("postgresql://%s:%s@%s-rw.%s:5432/%s", db, password, name, obj.GetNamespace(), db))),
		}}}
	secret.SetName(name + "-app")
	secret.SetNamespace(obj.GetNamespace())
	secret.SetOwnerReferences(ownerRefTo(obj))
	create(secret)
}

// k8sConsoleEnv is testEnv with a config whose production cluster is
// server (one approval needed there) and the operator catalog.
func k8sConsoleEnv(t *testing.T, server *kubefake.Server) (func(string) string, string) {
	t.Helper()
	config := fmt.Sprintf(`teams:
  payments: {members: [console:alice]}
approvers: [console:approver]
environments:
  development: {}
  production: {approval: {required: 1}}
drivers:
  kubernetes:
    targets:
      production: {kubeconfig: %q}
  manifests:
    poll_interval: 20ms
`, server.Kubeconfig(t))
	path := filepath.Join(t.TempDir(), "idpbot.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return testEnv(t, map[string]string{"IDPBOT_CONFIG": path, "IDPBOT_CATALOG_DIR": "../../deploy/catalog-kubernetes"})
}

// TestConsoleManifestsProduction: alice asks for a production database on
// a cluster with CloudNativePG, the approver approves it at another
// console, alice's console shows the operator's progress, the outputs and
// (to her only) the credentials; her delete removes the objects from the
// cluster.
func TestConsoleManifestsProduction(t *testing.T) {
	t.Parallel()
	server := kubefake.New(t, cnpgClusters, cnpgBackups)
	server.Operate(cnpgClusters.GVR, fakeCNPG)
	getenv, dsn := k8sConsoleEnv(t, server)
	const name = "orders-db"
	const ns = "payments-production"

	stdin, feed := io.Pipe()
	var out, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		done <- run(ctx, []string{"console", "--user", "alice", "--wait", "60s"}, getenv, stdin, &out, &stderr)
	}()
	if _, err := io.WriteString(feed, "/idp create postgresql-database name="+name+" team=payments environment=production high_availability=true\n"); err != nil {
		t.Fatalf("type the create: %v (output:\n%s\n%s)", err, out.String(), stderr.String())
	}
	waitState(t, dsn, name, "awaiting_approval")
	aout, astderr, err := runBot(t, getenv, "/idp approve 1\n", "console", "--user", "approver")
	if err != nil || !strings.Contains(aout, "Approved "+name+" #1") {
		t.Fatalf("approve = %v\n%s\n%s", err, aout, astderr)
	}
	feed.Close()
	if err := <-done; err != nil {
		t.Fatalf("alice's console = %v\n%s\n%s", err, out.String(), stderr.String())
	}
	got := out.String()
	line := `(?m)^  \d\d:\d\d:\d\d  #1 ` + name + `  `
	for _, want := range []string{
		line + `awaiting_approval  requested by alice; needs 1 approval\(s\)`,
		line + `provisioning  approved by approver \(1 of 1\)`,
		line + `provisioning  Created namespace ` + ns + `$`,
		line + `provisioning  Applied Cluster ` + ns + `/` + name + `$`,
		line + `provisioning  Cluster ` + ns + `/` + name + `: Setting up primary$`,
		line + `provisioning  Cluster ` + ns + `/` + name + `: Cluster in healthy state$`,
		line + `ready  `,
		`(?m)^  🔒 only alice sees this \(#1 ` + name + `\): .*password=pw-` + name,
		`(?m)^#1 ` + name + `: ready`,
	} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("alice's output lacks %s; output:\n%s", want, got)
		}
	}
	if strings.Contains(aout, "pw-"+name) || strings.Contains(stderr.String(), "pw-"+name) || strings.Contains(astderr, "pw-"+name) {
		t.Errorf("the password reached the approver's console or a log:\napprover:\n%s\nlogs:\n%s\n%s", aout, stderr.String(), astderr)
	}
	c, ok := server.Get(cnpgClusters.GVR, ns, name)
	if !ok {
		t.Fatalf("no Cluster %s/%s on the API server; objects: %v", ns, name, server.Objects())
	}
	if inst, _, _ := unstructured.NestedInt64(c.Object, "spec", "instances"); inst != 3 {
		t.Errorf("Cluster spec.instances = %d, want 3 (high_availability)", inst)
	}
	if _, ok := server.Get(cnpgBackups.GVR, ns, name+"-daily"); !ok {
		t.Errorf("no ScheduledBackup %s-daily; objects: %v", name, server.Objects())
	}

	dout, dstderr, err := runBot(t, getenv, "/idp status "+name+"\n/idp delete "+name+" --yes\n", "console", "--user", "alice", "--wait", "60s")
	if err != nil {
		t.Fatalf("delete = %v\n%s\n%s", err, dout, dstderr)
	}
	for _, want := range []string{
		`(?m)^  host +` + name + `-rw$`,
		`(?m)^  database +orders_db$`,
		`(?m)^  instances +3$`,
		`Waiting for Cluster ` + ns + `/` + name + ` to be removed \(finalizers: ` + cnpgFinalizer + `\)`,
		`Deleted Cluster ` + ns + `/` + name,
		`(?m)^#1 ` + name + `: deleted`,
	} {
		if !regexp.MustCompile(want).MatchString(dout) {
			t.Errorf("delete output lacks %s; output:\n%s", want, dout)
		}
	}
	for _, o := range server.Objects() {
		if strings.Contains(o, "cnpg.io") || strings.Contains(o, "secrets") {
			t.Errorf("%s is left on the API server after the delete; objects: %v", o, server.Objects())
		}
	}
}

// TestConsoleManifestsWithoutOperator: on a cluster without CloudNativePG
// the request is refused with the reason and nothing is recorded or made.
func TestConsoleManifestsWithoutOperator(t *testing.T) {
	t.Parallel()
	server := kubefake.New(t)
	getenv, dsn := k8sConsoleEnv(t, server)
	out, stderr, err := runBot(t, getenv,
		"/idp create postgresql-database name=orders-db team=payments environment=production high_availability=true\n",
		"console", "--user", "alice")
	if err != nil {
		t.Fatalf("run = %v\n%s\n%s", err, out, stderr)
	}
	const want = "the cluster has no CloudNativePG (postgresql.cnpg.io/v1 Cluster): install the operator or bind another driver"
	if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
		t.Errorf("output lacks %q; output:\n%s", want, out)
	}
	if n := countResources(t, dsn); n != 0 {
		t.Errorf("%d resources recorded, want 0", n)
	}
	if objs := server.Objects(); len(objs) != 0 {
		t.Errorf("objects made on the API server: %v", objs)
	}
}

func countResources(t *testing.T, dsn string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM resources").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitState polls until the resource called name is in state, failing
// after a generous deadline.
func waitState(t *testing.T, dsn, name, state string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last string
	for {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT state FROM resources WHERE name = $1", name).Scan(&last)
			conn.Close(ctx)
		}
		if last == state {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s is %q, want %q (last error %v)", name, last, state, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ownerRefTo(u *unstructured.Unstructured) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName(), UID: u.GetUID()}}
}
