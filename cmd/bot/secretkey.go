package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// secretKey returns the key that seals connection details waiting for
// delivery: IDPBOT_SECRET_KEY (base64 of 32 bytes), or one kept in the data
// directory, created on first use.
func secretKey(g env) ([]byte, error) {
	if s := g("IDPBOT_SECRET_KEY"); s != "" {
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(k) != 32 {
			return nil, userError{"IDPBOT_SECRET_KEY must be the base64 encoding of 32 random bytes (openssl rand -base64 32)"}
		}
		return k, nil
	}
	dir := dataDir(g)
	path := filepath.Join(dir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, userError{fmt.Sprintf("%s is not a valid secret key; remove it to have a new one made", path)}
		}
		return k, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return secretKey(g) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("write secret key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		return nil, err
	}
	return k, f.Close()
}

func dataDir(g env) string {
	if d := g("IDPBOT_DATA_DIR"); d != "" {
		return d
	}
	if d := g("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "idpbot")
	}
	if h := g("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "idpbot")
	}
	return ".idpbot"
}
