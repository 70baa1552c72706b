package manifests

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idpbot/idpbot/internal/platform"
)

func cnpgSecret() *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "orders-db-app", Namespace: "payments-production"},
		Data: map[string][]byte{"uri": []byte("postgresql://orders_db:s3cret@orders-db-rw.payments-production:5432/orders_db"), "password": []byte("s3cret"), "username": []byte("orders_db")}}
}

func TestProvisionCloudNativePG(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clustersGVR, backupsGVR)
	if _, err := c.typed.CoreV1().Secrets("payments-production").Create(context.Background(), cnpgSecret(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	settingUp := map[string]any{"phase": "Setting up primary", "instances": int64(3),
		"conditions": []any{cond("Ready", "False", "ClusterIsNotReady", "Cluster Is Not Ready")}}
	healthy := map[string]any{"phase": "Cluster in healthy state", "readyInstances": int64(3), "writeService": "orders-db-rw",
		"conditions": []any{cond("Ready", "True", "ClusterIsReady", "Cluster is Ready")}}
	c.script(clustersGVR, settingUp, settingUp, healthy)
	rec := &recorder{}
	svc := shipped(t, "postgresql-database")
	job := newJob(t, svc, "orders-db", map[string]any{"size": "medium", "high_availability": true, "backup_retention_days": int64(14)}, rec)
	res, err := c.driver(Config{}).Provision(context.Background(), job)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	wantOut := map[string]string{"host": "orders-db-rw", "database": "orders_db", "username": "orders_db", "instances": "3"}
	if diff := cmp.Diff(wantOut, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	wantSecrets := map[string]string{"uri": "postgresql://orders_db:s3cret@orders-db-rw.payments-production:5432/orders_db", "password": "s3cret"}
	if diff := cmp.Diff(wantSecrets, res.Secrets); diff != "" {
		t.Errorf("secrets mismatch (-want +got):\n%s", diff)
	}
	wantSteps := []string{
		"Created namespace payments-production",
		"Applied Cluster payments-production/orders-db",
		"Applied ScheduledBackup payments-production/orders-db-daily",
		"Cluster payments-production/orders-db: Setting up primary",
		"ScheduledBackup payments-production/orders-db-daily is ready",
		"Cluster payments-production/orders-db: Cluster in healthy state",
		"Cluster payments-production/orders-db is ready",
	}
	if diff := cmp.Diff(wantSteps, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	u := c.get(t, clustersGVR, "orders-db")
	if got := u.GetAnnotations()["idpbot.io/request-id"]; got != "7" {
		t.Errorf("request-id annotation = %q, want 7", got)
	}
	if got := u.GetLabels()["app.kubernetes.io/managed-by"]; got != "idp" {
		t.Errorf("managed-by label = %q, want idp", got)
	}
	// A retried job applies again and finds the cluster healthy.
	if _, err := c.driver(Config{}).Provision(context.Background(), job); err != nil {
		t.Fatalf("second Provision: %v", err)
	}
}

func TestProvisionOperatorFailure(t *testing.T) {
	t.Parallel()
	c := newCluster(t, topicsGVR)
	c.script(topicsGVR, map[string]any{"conditions": []any{cond("Ready", "False", "KafkaError",
		"org.apache.kafka.common.errors.InvalidReplicationFactorException: Replication factor: 3 larger than available brokers: 1.")}})
	job := newJob(t, shipped(t, "message-queue"), "orders-events", nil, &recorder{})
	_, err := c.driver(Config{}).Provision(context.Background(), job)
	want := "KafkaTopic payments-production/orders-events failed: org.apache.kafka.common.errors.InvalidReplicationFactorException: Replication factor: 3 larger than available brokers: 1."
	if platform.ErrorMessage(err) != want || !platform.IsPermanent(err) {
		t.Errorf("Provision = %v (permanent %v), want permanent %q", err, platform.IsPermanent(err), want)
	}
}

func TestProvisionTimeoutKeepsLastMessage(t *testing.T) {
	t.Parallel()
	c := newCluster(t, bucketsGVR)
	c.script(bucketsGVR, map[string]any{"conditions": []any{cond("Synced", "True", "ReconcileSuccess", ""), cond("Ready", "False", "Creating", "")}})
	rec := &recorder{}
	job := newJob(t, shipped(t, "object-storage"), "orders-files", nil, rec)
	job.Settings["timeout"] = "1s"
	_, err := c.driver(Config{}).Provision(context.Background(), job)
	// The message is the last one read; on a machine too loaded to read
	// the status once within the timeout there is none yet.
	want := "Bucket payments-production/orders-files was not ready within 1s; last message: Creating"
	if slices.Contains(rec.all(), "Bucket payments-production/orders-files: Creating") {
		if platform.ErrorMessage(err) != want || !platform.IsPermanent(err) {
			t.Errorf("Provision = %v, want permanent %q", err, want)
		}
	} else if !strings.HasPrefix(platform.ErrorMessage(err), "Bucket payments-production/orders-files was not ready within 1s") || !platform.IsPermanent(err) {
		t.Errorf("Provision = %v, want permanent timeout", err)
	}
}

func TestProvisionStorageVolume(t *testing.T) {
	t.Parallel()
	c := newCluster(t, pvcGVR)
	c.script(pvcGVR, map[string]any{}, map[string]any{"phase": "Pending"})
	rec := &recorder{}
	res, err := c.driver(Config{}).Provision(context.Background(), newJob(t, shipped(t, "storage-volume"), "orders-data", map[string]any{"size": "large"}, rec))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"claim": "orders-data", "storage_class": "fast-ssd"}, res.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	if res.Secrets != nil {
		t.Errorf("secrets = %v, want none", res.Secrets)
	}
}

func TestMissingOperator(t *testing.T) {
	t.Parallel()
	c := newCluster(t) // no CloudNativePG
	svc := shipped(t, "postgresql-database")
	b, _ := svc.Binding("production")
	want := "the cluster has no CloudNativePG (postgresql.cnpg.io/v1 Cluster): install the operator or bind another driver"
	err := c.driver(Config{}).CheckBinding("production", b)
	if platform.ErrorCode(err) != platform.Unavailable || platform.ErrorMessage(err) != want {
		t.Errorf("CheckBinding = %v, want unavailable %q", err, want)
	}
	_, err = c.driver(Config{}).Provision(context.Background(), newJob(t, svc, "orders-db", nil, &recorder{}))
	if platform.ErrorMessage(err) != want || !platform.IsPermanent(err) {
		t.Errorf("Provision = %v, want permanent %q", err, want)
	}
	// Without the operator there is nothing to delete.
	if err := c.driver(Config{}).Deprovision(context.Background(), newJob(t, svc, "orders-db", nil, &recorder{})); err != nil {
		t.Errorf("Deprovision without the operator = %v, want nil", err)
	}
	if err := newCluster(t, clustersGVR, backupsGVR).driver(Config{}).CheckBinding("production", b); err != nil {
		t.Errorf("CheckBinding with the operator = %v, want nil", err)
	}
}

func TestForbiddenApplyNamesVerbResourceNamespace(t *testing.T) {
	t.Parallel()
	c := newCluster(t, topicsGVR)
	c.dyn.PrependReactor("patch", "kafkatopics", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(topicsGVR.GroupResource(), "orders-events", errors.New(`User "system:serviceaccount:idpbot:idpbot" cannot patch resource "kafkatopics"`))
	})
	_, err := c.driver(Config{}).Provision(context.Background(), newJob(t, shipped(t, "message-queue"), "orders-events", nil, &recorder{}))
	if want := "idpbot is not allowed to patch kafkatopics.kafka.strimzi.io in namespace payments-production"; !strings.HasPrefix(platform.ErrorMessage(err), want) || platform.ErrorCode(err) != platform.Forbidden {
		t.Errorf("Provision = %v, want forbidden starting %q", err, want)
	}
}

func TestProvisionRefusesOthersObject(t *testing.T) {
	t.Parallel()
	c := newCluster(t, topicsGVR)
	job := newJob(t, shipped(t, "message-queue"), "orders-events", nil, &recorder{})
	job.Resource.ID = 3
	c.script(topicsGVR, map[string]any{"topicName": "payments-production.orders-events", "conditions": []any{cond("Ready", "True", "", "")}})
	if _, err := c.driver(Config{}).Provision(context.Background(), job); err != nil {
		t.Fatalf("Provision #3: %v", err)
	}
	job.Resource.ID = 7
	_, err := c.driver(Config{}).Provision(context.Background(), job)
	if want := "KafkaTopic payments-production/orders-events already belongs to request #3; delete that request first"; platform.ErrorMessage(err) != want {
		t.Errorf("Provision #7 = %v, want %q", err, want)
	}
}

func TestDeprovisionWaitsForFinalizers(t *testing.T) {
	t.Parallel()
	c := newCluster(t, bucketsGVR)
	job := newJob(t, shipped(t, "object-storage"), "orders-files", nil, &recorder{})
	spec, err := ParseSpec(job.Settings)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := NewData(job, spec)
	objs, err := Render(spec, data, job.Resource)
	if err != nil {
		t.Fatal(err)
	}
	objs[0].SetFinalizers([]string{"composite.apiextensions.crossplane.io"})
	if err := c.dyn.Tracker().Create(bucketsGVR, objs[0], "payments-production"); err != nil {
		t.Fatal(err)
	}
	// The API server marks the object deleted; Crossplane removes its
	// finalizer once the composed bucket is gone, two reads later.
	reads := 0
	c.dyn.PrependReactor("delete", "buckets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		u := objs[0].DeepCopy()
		now := metav1.NewTime(time.Unix(1_800_000_000, 0))
		u.SetDeletionTimestamp(&now)
		return true, nil, c.dyn.Tracker().Update(bucketsGVR, u, "payments-production")
	})
	c.dyn.PrependReactor("get", "buckets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := c.dyn.Tracker().Get(bucketsGVR, "payments-production", "orders-files")
		if err != nil || !obj.(metav1.Object).GetDeletionTimestamp().IsZero() && reads >= 2 {
			return true, nil, apierrors.NewNotFound(bucketsGVR.GroupResource(), "orders-files")
		}
		if !obj.(metav1.Object).GetDeletionTimestamp().IsZero() {
			reads++
		}
		return true, obj, nil
	})
	rec := &recorder{}
	job.Step = rec.step
	if err := c.driver(Config{}).Deprovision(context.Background(), job); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	want := []string{
		"Deleting Bucket payments-production/orders-files",
		"Waiting for Bucket payments-production/orders-files to be removed (finalizers: composite.apiextensions.crossplane.io)",
		"Deleted Bucket payments-production/orders-files",
	}
	if diff := cmp.Diff(want, rec.all()); diff != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", diff)
	}
	// Nothing left: deleting again is fine and says nothing.
	rec2 := &recorder{}
	job.Step = rec2.step
	if err := c.driver(Config{}).Deprovision(context.Background(), job); err != nil || len(rec2.all()) != 0 {
		t.Errorf("second Deprovision = %v, steps %q; want nil and none", err, rec2.all())
	}
}
