package platform_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

func TestSealer(t *testing.T) {
	t.Parallel()
	if _, err := platform.NewSealer([]byte("short")); err == nil {
		t.Error("NewSealer(5 bytes) succeeded")
	}
	s, err := platform.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"password": "hunter2-very-secret", "url": "postgres://u:hunter2-very-secret@h/db"}
	sealed, err := s.Seal(12, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("sealed payload holds the password in plain text")
	}
	again, _ := s.Seal(12, secrets)
	if bytes.Equal(sealed, again) {
		t.Error("two seals of the same secrets are identical (nonce reuse)")
	}
	got, err := s.Open(12, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(secrets, got); diff != "" {
		t.Errorf("Open mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.Open(13, sealed); err == nil {
		t.Error("Open with another resource id succeeded")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.Open(12, tampered); err == nil {
		t.Error("Open of a tampered payload succeeded")
	}
	if _, err := s.Open(12, []byte("x")); err == nil {
		t.Error("Open of a short payload succeeded")
	}
	other, _ := platform.NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(12, sealed); err == nil {
		t.Error("Open with another key succeeded")
	}
}
