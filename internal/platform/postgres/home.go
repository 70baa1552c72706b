package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// HomeOpeners remembers who opened the bot's home on one chat platform
// (table home_openers), shared by every replica. It implements
// slack.HomeOpeners and is safe for concurrent use.
type HomeOpeners struct {
	pool     *pgxpool.Pool
	platform string
}

// NewHomeOpeners returns the HomeOpeners of platformName on pool. It does
// no I/O.
func NewHomeOpeners(pool *pgxpool.Pool, platformName string) *HomeOpeners {
	return &HomeOpeners{pool: pool, platform: platformName}
}

// OpenedHome records that user opened their home now.
func (h *HomeOpeners) OpenedHome(ctx context.Context, user string) error {
	_, err := h.pool.Exec(ctx, `INSERT INTO home_openers (platform, user_id) VALUES ($1, $2)
		ON CONFLICT (platform, user_id) DO UPDATE SET opened_at = now()`, h.platform, user)
	if err != nil {
		return fmt.Errorf("record that %s opened the home: %w", user, err)
	}
	return nil
}

// HasOpenedHome reports whether user opened their home before.
func (h *HomeOpeners) HasOpenedHome(ctx context.Context, user string) (bool, error) {
	var ok bool
	err := h.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM home_openers WHERE platform = $1 AND user_id = $2)`, h.platform, user).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("whether %s opened the home: %w", user, err)
	}
	return ok, nil
}
