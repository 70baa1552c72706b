package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// passwordLength is the length of generated passwords: 32 base62 characters
// carry about 190 bits.
const passwordLength = 32

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// newPassword returns a random password of letters and digits, uniformly
// drawn with crypto/rand.
func newPassword() (string, error) {
	out := make([]byte, 0, passwordLength)
	buf := make([]byte, 2*passwordLength)
	for len(out) < passwordLength {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, b := range buf {
			// 248 is the largest multiple of 62 in a byte: rejecting the
			// rest keeps every character equally likely.
			if b < 248 && len(out) < passwordLength {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out), nil
}

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, with a fresh random salt. Sending the verifier instead of the
// password keeps the password out of the server's statement logs, the way
// psql's \password does.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generate salt: %w", err)
	}
	return scramVerifierWithSalt(password, salt, scramIterations)
}

// scramVerifierWithSalt computes the verifier of RFC 5802 in PostgreSQL's
// format: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. The
// password must be ASCII letters and digits, for which SASLprep is the
// identity.
func scramVerifierWithSalt(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("derive scram key: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
