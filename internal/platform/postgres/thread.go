package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/idpbot/idpbot/internal/platform"
)

// Thread is where a chat platform tells a resource's story.
type Thread = platform.Thread

// Thread returns the thread of resource resourceID on a chat platform, and
// whether one was saved.
func (s *Store) Thread(ctx context.Context, resourceID int64, platformName string) (Thread, bool, error) {
	var t Thread
	err := s.pool.QueryRow(ctx, `SELECT channel, thread_ref, root_ref FROM threads WHERE resource_id = $1 AND platform = $2`,
		resourceID, platformName).Scan(&t.Channel, &t.ThreadRef, &t.RootRef)
	if errors.Is(err, pgx.ErrNoRows) {
		return Thread{}, false, nil
	}
	if err != nil {
		return Thread{}, false, wrap(fmt.Sprintf("thread of resource %d on %s", resourceID, platformName), err)
	}
	return t, true, nil
}

// SaveThread records (or replaces) the thread of resource resourceID on a
// chat platform. An unknown resource is NotFound.
func (s *Store) SaveThread(ctx context.Context, resourceID int64, platformName string, t Thread) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO threads (resource_id, platform, channel, thread_ref, root_ref)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (resource_id, platform) DO UPDATE
		SET channel = EXCLUDED.channel, thread_ref = EXCLUDED.thread_ref, root_ref = EXCLUDED.root_ref`,
		resourceID, platformName, t.Channel, t.ThreadRef, t.RootRef)
	if sqlState(err) == codeForeignKey {
		return notFound(resourceID)
	}
	if err != nil {
		return wrap(fmt.Sprintf("save thread of resource %d on %s", resourceID, platformName), err)
	}
	return nil
}
