package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idpbot/idpbot/internal/platform"
)

// StoreOptions configures a Store.
type StoreOptions struct {
	// OnEvent is called inside the transaction that records an event
	// (CreateResource, Transition, AddEvent), after the event row is
	// written, with the resource as saved and the event with its ID, At,
	// ResourceID, From and To filled in. An error aborts the transaction.
	// It is how jobs are enqueued in the same transaction as the change
	// that calls for them.
	OnEvent func(ctx context.Context, tx pgx.Tx, r *platform.Resource, ev platform.Event) error
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RiverSchema is the schema of River's tables ("": the search_path).
	RiverSchema string
}

// Store keeps resources and their events in PostgreSQL. It implements
// platform.Store and is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	onEvent func(ctx context.Context, tx pgx.Tx, r *platform.Resource, ev platform.Event) error
	now     func() time.Time
	// riverJobs is the qualified name of River's job table.
	riverJobs string
}

var _ platform.Store = (*Store)(nil)

// NewStore returns a Store on pool. It does no I/O.
func NewStore(pool *pgxpool.Pool, opts StoreOptions) *Store {
	s := &Store{pool: pool, onEvent: opts.OnEvent, now: opts.Now, riverJobs: riverJobsTable(opts.RiverSchema)}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// riverJobsTable is the qualified name of River's job table in schema
// ("": the connection's search path).
func riverJobsTable(schema string) string {
	if schema == "" {
		return "river_job"
	}
	return pgx.Identifier{schema, "river_job"}.Sanitize()
}

// timestamp returns the current time at the precision PostgreSQL keeps.
func (s *Store) timestamp() time.Time { return s.now().Truncate(time.Microsecond) }

const resourceColumns = `id, service, service_type, name, team, environment, parameters, state, reason,
	requester_id, requester_name, requester_email, self_service, origin_platform, origin_channel,
	coalesce(idempotency_key, ''), outputs, created_at, updated_at, ready_at, expires_at, reminded_at, warned_for`

// Unique indexes whose violations are Conflicts.
const (
	activeNameIndex     = "resources_active_name_key"
	idempotencyKeyIndex = "resources_idempotency_key_key"
)

const eventColumns = `id, resource_id, at, actor_id, actor_name, kind, from_state, to_state, message, sealed`

// activeStates are the states that hold a name, as the partial unique index
// of the schema lists them; countedStates those that count towards quotas.
var (
	activeStates  = stateNames(platform.ActiveStates())
	countedStates = stateNames(platform.CountedStates())
)

func stateNames(states []platform.State) []string {
	var out []string
	for _, s := range states {
		out = append(out, string(s))
	}
	return out
}

// CreateResource implements platform.Store.
func (s *Store) CreateResource(ctx context.Context, r *platform.Resource, ev platform.Event, check func(usage int) error) error {
	now := s.timestamp()
	rec := *r
	rec.CreatedAt, rec.UpdatedAt = now, now
	var checkErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One round trip: the lock that serializes creations of one service
		// by one team, so that the usage counted here cannot change before
		// this transaction commits, then (run after the lock is held, so
		// reading what committed before) that usage, and whether the
		// idempotency key or the name is taken.
		batch := &pgx.Batch{}
		batch.Queue(`SELECT pg_advisory_xact_lock(hashtextextended(concat_ws('/', 'idpbot-usage', current_schema(), $1::text, $2::text), 0))`, r.Team, r.Service)
		batch.Queue(`SELECT (SELECT count(*) FROM resources WHERE team = $1 AND service = $2 AND state = ANY($3)),
				coalesce((SELECT id FROM resources WHERE idempotency_key = nullif($4, '')), 0),
				coalesce((SELECT id FROM resources
					WHERE $5 AND service = $2 AND team = $1 AND environment = $6 AND name = $7 AND state = ANY($8) LIMIT 1), 0)`,
			r.Team, r.Service, countedStates, rec.IdempotencyKey, rec.State.Active(), r.Environment, r.Name, activeStates)
		var (
			n           int
			dup, holder int64
		)
		br := tx.SendBatch(ctx, batch)
		_, err := br.Exec()
		if err == nil {
			err = br.QueryRow().Scan(&n, &dup, &holder)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if check != nil {
			if checkErr = check(n); checkErr != nil {
				return checkErr
			}
		}
		if dup != 0 {
			return alreadySubmitted(dup, nil)
		}
		if holder != 0 {
			return nameConflict(&rec, holder)
		}
		params, outputs, err := encodeJSON(rec.Parameters, rec.Outputs)
		if err != nil {
			return err
		}
		if ev.Kind == "" {
			ev.Kind = platform.EventTransition
		}
		if ev.Kind == platform.EventTransition {
			ev.From, ev.To = "", rec.State
		}
		if ev.At.IsZero() {
			ev.At = now
		}
		// The request and its first event in one statement (one round trip).
		err = tx.QueryRow(ctx, `WITH r AS (
				INSERT INTO resources (service, service_type, name, team, environment, parameters, state, reason,
					requester_id, requester_name, requester_email, self_service, origin_platform, origin_channel,
					idempotency_key, outputs, created_at, updated_at, ready_at, expires_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, nullif($15, ''), $16, $17, $17, $18, $19)
				RETURNING id)
			INSERT INTO events (resource_id, at, actor_id, actor_name, kind, from_state, to_state, message, sealed)
			SELECT id, $20, $21, $22, $23, $24, $25, $26, $27 FROM r
			RETURNING resource_id, id`,
			rec.Service, rec.ServiceType, rec.Name, rec.Team, rec.Environment, params, string(rec.State), rec.Reason,
			rec.Requester.ID, rec.Requester.Name, rec.Requester.Email, rec.SelfService, rec.Origin.Platform, rec.Origin.Channel,
			rec.IdempotencyKey, outputs, now, nullTime(rec.ReadyAt), nullTime(rec.ExpiresAt),
			ev.At, ev.Actor.ID, ev.Actor.Name, string(ev.Kind), string(ev.From), string(ev.To), ev.Message, ev.Sealed).Scan(&rec.ID, &ev.ID)
		if err != nil {
			return err
		}
		ev.ResourceID = rec.ID
		return s.recorded(ctx, tx, &rec, ev)
	})
	if checkErr != nil {
		return checkErr
	}
	if err != nil {
		switch uniqueViolation(err) {
		case activeNameIndex:
			return s.nameConflictAfter(ctx, &rec, err)
		case idempotencyKeyIndex:
			var id int64
			if s.pool.QueryRow(ctx, `SELECT id FROM resources WHERE idempotency_key = $1`, rec.IdempotencyKey).Scan(&id) == nil {
				return alreadySubmitted(id, err)
			}
			return platform.Wrap(platform.Conflict, err, "This request was already submitted.")
		}
		return wrap("create resource "+r.Name, err)
	}
	r.ID, r.CreatedAt, r.UpdatedAt = rec.ID, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// nameConflict is the error for a name held by active resource id.
func nameConflict(r *platform.Resource, id int64) error {
	msg := fmt.Sprintf("team %s already has a %s called %s in %s (#%d)", r.Team, r.Service, r.Name, r.Environment, id)
	return &platform.Error{
		Code:    platform.Conflict,
		Message: msg,
		Fields:  []platform.FieldError{{Field: "name", Message: fmt.Sprintf("is taken by #%d; choose another name", id)}},
	}
}

// alreadySubmitted is the error for an idempotency key already recorded
// for resource id.
func alreadySubmitted(id int64, cause error) error {
	return &platform.Error{Code: platform.Conflict, Message: fmt.Sprintf("This request was already submitted as #%d.", id), Err: cause}
}

// uniqueViolation returns the index a unique violation in err's chain is
// about, or "".
func uniqueViolation(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation {
		return pgErr.ConstraintName
	}
	return ""
}

// nameConflictAfter turns a unique violation into a name Conflict, looking
// up which resource holds the name.
func (s *Store) nameConflictAfter(ctx context.Context, r *platform.Resource, cause error) error {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM resources
		WHERE service = $1 AND team = $2 AND environment = $3 AND name = $4 AND state = ANY($5) LIMIT 1`,
		r.Service, r.Team, r.Environment, r.Name, activeStates).Scan(&id)
	if err != nil {
		return &platform.Error{Code: platform.Conflict,
			Message: fmt.Sprintf("team %s already has a %s called %s in %s", r.Team, r.Service, r.Name, r.Environment),
			Fields:  []platform.FieldError{{Field: "name", Message: "is taken; choose another name"}},
			Err:     cause}
	}
	e := nameConflict(r, id).(*platform.Error)
	e.Err = cause
	return e
}

// Resource implements platform.Store.
func (s *Store) Resource(ctx context.Context, id int64) (*platform.Resource, error) {
	r, err := scanResource(s.pool.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("get resource %d", id), err)
	}
	return r, nil
}

func notFound(id int64) error {
	return platform.Errorf(platform.NotFound, "There is no resource #%d.", id)
}

// Resources implements platform.Store.
func (s *Store) Resources(ctx context.Context, f platform.ResourceFilter) ([]*platform.Resource, error) {
	where, args := resourceWhere(f)
	q := `SELECT ` + resourceColumns + ` FROM resources` + where + ` ORDER BY created_at DESC, id DESC`
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	return collectResources(s.pool.Query(ctx, q, args...))
}

// resourceWhere returns the WHERE clause of f ("" for none) and its
// arguments, $1 on.
func resourceWhere(f platform.ResourceFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.ID != 0 {
		add("id = ?", f.ID)
	}
	if f.Name != "" {
		add("name = ?", f.Name)
	}
	if f.Service != "" {
		add("service = ?", f.Service)
	}
	if f.Environment != "" {
		add("environment = ?", f.Environment)
	}
	switch {
	case len(f.Teams) == 1:
		// Equality, not ANY: the planner then walks the team's index in
		// the order a page wants (generic plans included).
		add("team = ?", f.Teams[0])
	case f.Teams != nil:
		add("team = ANY(?)", f.Teams)
	}
	if f.Requester != "" {
		add("requester_id = ?", f.Requester)
	}
	if f.IdempotencyKey != "" {
		add("idempotency_key = ?", f.IdempotencyKey)
	}
	if f.States != nil {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		add("state = ANY(?)", states)
	}
	if !f.ExpiresBefore.IsZero() {
		add("expires_at < ?", f.ExpiresBefore)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// collectResources scans the rows of a query of resourceColumns.
func collectResources(rows pgx.Rows, err error) ([]*platform.Resource, error) {
	if err != nil {
		return nil, wrap("list resources", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*platform.Resource, error) { return scanResource(row) })
	if err != nil {
		return nil, wrap("list resources", err)
	}
	return out, nil
}

// Usage implements platform.Store.
func (s *Store) Usage(ctx context.Context, team, service string) (int, error) {
	n, err := usage(ctx, s.pool, team, service)
	if err != nil {
		return 0, wrap("count usage of "+service, err)
	}
	return n, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func usage(ctx context.Context, q querier, team, service string) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM resources WHERE team = $1 AND service = $2 AND state = ANY($3)`,
		team, service, countedStates).Scan(&n)
	return n, err
}

// Transition implements platform.Store. The row lock is FOR NO KEY UPDATE:
// exclusive among writers of the resource, yet it does not wait for
// deliveries and threads that merely reference the row.
func (s *Store) Transition(ctx context.Context, id int64, to platform.State, ev platform.Event, mutate func(*platform.Resource) error, extra ...platform.Event) (*platform.Resource, error) {
	now := s.timestamp()
	var out *platform.Resource
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := scanResource(tx.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE id = $1 FOR NO KEY UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		from := r.State
		if err := platform.Transition(from, to); err != nil {
			return &platform.Error{Code: platform.Conflict,
				Message: fmt.Sprintf("%s %s is %s; it cannot become %s.", r.Name, r.Ref(), from, to), Err: err}
		}
		if mutate != nil {
			if err := mutate(r); err != nil {
				return err
			}
		}
		r.ID, r.State, r.UpdatedAt = id, to, now
		params, outputs, err := encodeJSON(r.Parameters, r.Outputs)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE resources SET state = $2, reason = $3, parameters = $4, outputs = $5,
				ready_at = $6, expires_at = $7, origin_platform = $8, origin_channel = $9, updated_at = $10
			WHERE id = $1`,
			id, string(to), r.Reason, params, outputs, nullTime(r.ReadyAt), nullTime(r.ExpiresAt),
			r.Origin.Platform, r.Origin.Channel, now)
		if uniqueViolation(err) == activeNameIndex {
			return s.nameConflictAfter(ctx, r, err)
		}
		if err != nil {
			return err
		}
		ev.ResourceID = id
		if ev.Kind == "" {
			ev.Kind = platform.EventTransition
		}
		ev.From, ev.To = from, to
		if err := s.recordEvent(ctx, tx, r, &ev, now); err != nil {
			return err
		}
		for _, x := range extra {
			if err := s.recordOther(ctx, tx, r, x, now); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, wrap(fmt.Sprintf("transition resource %d to %s", id, to), err)
	}
	return out, nil
}

// AddEvent implements platform.Store. It locks the resource row so that
// the events of one resource commit in the order of their IDs, which the
// outbox relies on.
func (s *Store) AddEvent(ctx context.Context, ev platform.Event) (platform.Event, error) {
	now := s.timestamp()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := scanResource(tx.QueryRow(ctx, `SELECT `+resourceColumns+` FROM resources WHERE id = $1 FOR NO KEY UPDATE`, ev.ResourceID))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(ev.ResourceID)
		}
		if err != nil {
			return err
		}
		if ev.Kind == "" {
			ev.Kind = platform.EventNote
		}
		return s.recordEvent(ctx, tx, r, &ev, now)
	})
	if err != nil {
		return platform.Event{}, wrap(fmt.Sprintf("add %s event to resource %d", ev.Kind, ev.ResourceID), err)
	}
	return ev, nil
}

// recordOther records ev, an event that is not a state change (a note when
// it names no kind), in tx.
func (s *Store) recordOther(ctx context.Context, tx pgx.Tx, r *platform.Resource, ev platform.Event, now time.Time) error {
	ev.ResourceID, ev.From, ev.To = r.ID, "", ""
	if ev.Kind == "" {
		ev.Kind = platform.EventNote
	}
	return s.recordEvent(ctx, tx, r, &ev, now)
}

// recordEvent inserts ev, filling in its ID and At, and calls OnEvent.
func (s *Store) recordEvent(ctx context.Context, tx pgx.Tx, r *platform.Resource, ev *platform.Event, now time.Time) error {
	if ev.At.IsZero() {
		ev.At = now
	}
	err := tx.QueryRow(ctx, `INSERT INTO events (resource_id, at, actor_id, actor_name, kind, from_state, to_state, message, sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		ev.ResourceID, ev.At, ev.Actor.ID, ev.Actor.Name, string(ev.Kind), string(ev.From), string(ev.To), ev.Message, ev.Sealed).Scan(&ev.ID)
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	return s.recorded(ctx, tx, r, *ev)
}

// recorded calls OnEvent for ev, just recorded in tx.
func (s *Store) recorded(ctx context.Context, tx pgx.Tx, r *platform.Resource, ev platform.Event) error {
	if s.onEvent != nil {
		if err := s.onEvent(ctx, tx, r, ev); err != nil {
			return fmt.Errorf("on event %d: %w", ev.ID, err)
		}
	}
	return nil
}

// Events implements platform.Store.
func (s *Store) Events(ctx context.Context, resourceID int64) ([]platform.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE resource_id = $1 ORDER BY id`, resourceID)
	if err != nil {
		return nil, wrap(fmt.Sprintf("events of resource %d", resourceID), err)
	}
	evs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (platform.Event, error) { return scanEvent(row) })
	if err != nil {
		return nil, wrap(fmt.Sprintf("events of resource %d", resourceID), err)
	}
	return evs, nil
}

func scanEvent(row pgx.Row) (platform.Event, error) {
	var (
		ev             platform.Event
		kind, from, to string
	)
	err := row.Scan(&ev.ID, &ev.ResourceID, &ev.At, &ev.Actor.ID, &ev.Actor.Name, &kind, &from, &to, &ev.Message, &ev.Sealed)
	ev.Kind, ev.From, ev.To = platform.EventKind(kind), platform.State(from), platform.State(to)
	return ev, err
}

func scanResource(row pgx.Row) (*platform.Resource, error) {
	var (
		r                  platform.Resource
		params, outputs    []byte
		state              string
		readyAt, expiresAt *time.Time
		remindedAt, warned *time.Time
	)
	err := row.Scan(&r.ID, &r.Service, &r.ServiceType, &r.Name, &r.Team, &r.Environment, &params, &state, &r.Reason,
		&r.Requester.ID, &r.Requester.Name, &r.Requester.Email, &r.SelfService, &r.Origin.Platform, &r.Origin.Channel,
		&r.IdempotencyKey, &outputs, &r.CreatedAt, &r.UpdatedAt, &readyAt, &expiresAt, &remindedAt, &warned)
	if err != nil {
		return nil, err
	}
	r.State = platform.State(state)
	if readyAt != nil {
		r.ReadyAt = *readyAt
	}
	if expiresAt != nil {
		r.ExpiresAt = *expiresAt
	}
	if remindedAt != nil {
		r.RemindedAt = *remindedAt
	}
	if warned != nil {
		r.WarnedFor = *warned
	}
	if r.Parameters, err = decodeParameters(params); err != nil {
		return nil, fmt.Errorf("resource %d: parameters: %w", r.ID, err)
	}
	if len(outputs) > 0 {
		if err := json.Unmarshal(outputs, &r.Outputs); err != nil {
			return nil, fmt.Errorf("resource %d: outputs: %w", r.ID, err)
		}
		if len(r.Outputs) == 0 {
			r.Outputs = nil
		}
	}
	return &r, nil
}

func encodeJSON(params map[string]any, outputs map[string]string) (p, o []byte, err error) {
	if params == nil {
		params = map[string]any{}
	}
	if outputs == nil {
		outputs = map[string]string{}
	}
	if p, err = json.Marshal(params); err != nil {
		return nil, nil, fmt.Errorf("encode parameters: %w", err)
	}
	if o, err = json.Marshal(outputs); err != nil {
		return nil, nil, fmt.Errorf("encode outputs: %w", err)
	}
	return p, o, nil
}

// decodeParameters reads parameters back with their Go types: whole JSON
// numbers as int64, other numbers as float64, booleans and strings as is.
func decodeParameters(b []byte) (map[string]any, error) {
	out := map[string]any{}
	if len(b) == 0 {
		return out, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		return nil, err
	}
	for k, v := range out {
		out[k] = typed(v)
	}
	return out, nil
}

func typed(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, err := v.Float64()
		if err != nil {
			return v.String()
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f)
		}
		return f
	case []any:
		for i := range v {
			v[i] = typed(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = typed(v[k])
		}
	}
	return v
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
