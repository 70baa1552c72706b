package platform

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
)

// Sealer encrypts secrets that must wait in the database for delivery, so
// that they are never stored in plain text.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a Sealer using AES-256-GCM with a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts secrets, bound to the resource id.
func (s *Sealer) Seal(resourceID int64, secrets map[string]string) ([]byte, error) {
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, aad(resourceID)), nil
}

// Open decrypts what Seal produced for the same resource id.
func (s *Sealer) Open(resourceID int64, sealed []byte) (map[string]string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad(resourceID))
	if err != nil {
		return nil, fmt.Errorf("open sealed secret: %w", err)
	}
	var out map[string]string
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func aad(id int64) []byte { return fmt.Appendf(nil, "idpbot-resource-%d", id) }
