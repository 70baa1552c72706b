package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestNewPassword(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 200 {
		p, err := newPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != passwordLength {
			t.Fatalf("newPassword() = %q: %d characters, want %d", p, len(p), passwordLength)
		}
		for _, c := range p {
			if !strings.ContainsRune(base62, c) {
				t.Fatalf("newPassword() = %q: %q is not a letter or digit", p, c)
			}
			counts[c]++
		}
		if seen[p] {
			t.Fatalf("newPassword() returned %q twice", p)
		}
		seen[p] = true
	}
	// 6400 draws over 62 characters: each is expected ~103 times; one that
	// never or rarely shows up means a broken mapping.
	for _, c := range base62 {
		if counts[c] < 40 {
			t.Errorf("character %q drawn %d times in 6400, want about 103", c, counts[c])
		}
	}
}

// TestSCRAMVerifierMatchesServer checks the verifier the driver computes
// against the one PostgreSQL itself computes for the same password and salt.
func TestSCRAMVerifierMatchesServer(t *testing.T) {
	t.Parallel()
	conn := connect(t, testAdminURL(t))
	ctx := context.Background()
	password, err := newPassword()
	if err != nil {
		t.Fatal(err)
	}
	role := "idpbot_scram_" + suffix()
	var serverVerifier string
	// Nothing outlives the transaction: the role is rolled back.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, sql := range []string{
		"SET LOCAL password_encryption = 'scram-sha-256'",
		"CREATE ROLE " + pgx.Identifier{role}.Sanitize() + " PASSWORD " + quoteLiteral(password),
	} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&serverVerifier); err != nil {
		t.Fatal(err)
	}
	salt, iterations := parseVerifier(t, serverVerifier)
	got, err := scramVerifierWithSalt(password, salt, iterations)
	if err != nil {
		t.Fatal(err)
	}
	if got != serverVerifier {
		t.Errorf("scramVerifierWithSalt = %q, server computed %q", got, serverVerifier)
	}

	fresh, err := scramVerifier(password)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fresh, password) || !strings.HasPrefix(fresh, "SCRAM-SHA-256$4096:") {
		t.Errorf("scramVerifier = %q, want a SCRAM-SHA-256 verifier without the password", fresh)
	}
	if again, _ := scramVerifier(password); again == fresh {
		t.Errorf("scramVerifier returned %q twice: the salt is not random", fresh)
	}
}
