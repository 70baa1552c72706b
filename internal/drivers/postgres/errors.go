package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes the driver tells apart.
const (
	codeInsufficientPrivilege = "42501"
	codeDuplicateObject       = "42710"
	codeDuplicateDatabase     = "42P04"
	codeUniqueViolation       = "23505"
	codeReservedName          = "42939"
	codeInvalidName           = "42602"
	codeNameTooLong           = "42622"
	codeDependentObjects      = "2BP01"
)

// pgCode returns the SQLSTATE of a server error in err's chain, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// alreadyExists reports whether err says a concurrent attempt created the
// object first.
func alreadyExists(err error) bool {
	switch pgCode(err) {
	case codeDuplicateObject, codeDuplicateDatabase, codeUniqueViolation:
		return true
	}
	return false
}

// classify turns an error of the step described by what ("create role x")
// into what the engine expects: a platform.Error for what retrying will not
// fix (refused privileges, invalid names, refused login), the context's
// error when ctx ended, and a plain wrapped error, retried, for the rest
// (connection refused, timeouts, a server shutting down). Server messages
// never contain the statement, so no secret reaches the error.
func classify(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w (%v)", what, ctxErr, err)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case pe.Code == codeInsufficientPrivilege:
		return platform.Wrap(platform.Forbidden, fmt.Errorf("%s: %w", what, err), "the postgres target refused: "+pe.Message)
	case pe.Code == codeReservedName || pe.Code == codeInvalidName || pe.Code == codeNameTooLong:
		return platform.Wrap(platform.Invalid, fmt.Errorf("%s: %w", what, err), "the postgres target refused the name: "+pe.Message)
	case pe.Code == codeDependentObjects:
		return platform.Wrap(platform.Conflict, fmt.Errorf("%s: %w", what, err),
			"the postgres target refused: "+pe.Message+"; an operator must remove what depends on it (DROP OWNED BY) first")
	case strings.HasPrefix(pe.Code, "28"):
		// invalid_authorization_specification, invalid_password: the bot's
		// own credentials for the target are wrong.
		return platform.Wrap(platform.Forbidden, fmt.Errorf("%s: %w", what, err), "the postgres target refused the bot's login; ask the platform team to check drivers.postgres.admin_url")
	}
	return fmt.Errorf("%s: %w", what, err)
}
