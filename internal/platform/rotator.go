package platform

import "context"

// Rotator is implemented by a driver that can issue new credentials for
// what it provisioned and revoke the old ones (postgres: a new password for
// the role). Rotate returns the new secrets, in the shape Provision's
// Result.Secrets has (the connection URL under "url"); once it returns nil,
// the old credentials no longer work. It is bounded by ctx and must not
// log the secrets.
type Rotator interface {
	Rotate(ctx context.Context, job Job) (secrets map[string]string, err error)
}
