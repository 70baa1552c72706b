package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/idpbot/idpbot/internal/drivers/livestatus"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/jackc/pgx/v5"
)

var _ platform.StatusReader = (*Driver)(nil)

// liveDatabase is what Status reads of the resource's database.
type liveDatabase struct {
	owner   string
	comment *string
	// publicPrivileges are the privileges PUBLIC holds on it (Provision
	// revokes them all), sorted.
	publicPrivileges []string
}

// Status reads, without changing anything, whether the resource's database
// and role exist, whether the role can log in, and whether the role's
// connection limit and the settings recorded on the database still match
// the resource's parameters. A database or role that is gone is Missing, a
// role that cannot log in Degraded, a limit or setting that differs
// Changed. It takes no advisory lock, so it never waits for a running
// provisioning attempt. An error means the target could not be read.
func (d *Driver) Status(ctx context.Context, job platform.Job) (platform.LiveStatus, error) {
	res := job.Resource
	if res == nil {
		return platform.LiveStatus{}, errors.New("status: job has no resource")
	}
	if err := checkNames(res); err != nil {
		return platform.LiveStatus{}, err
	}
	s, err := settingsOf(job)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout())
	defer cancel()
	name := identifier(res.Team, res.Environment, res.Name)
	conn, err := d.dial(ctx)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	defer closeConn(ctx, conn)

	r, err := lookupRole(ctx, conn, name)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	db, err := readDatabase(ctx, conn, name)
	if err != nil {
		return platform.LiveStatus{}, err
	}
	return compare(res, name, s, r, db), nil
}

// dial opens a session on the target, without the resource's lock.
func (d *Driver) dial(ctx context.Context) (*pgx.Conn, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(d.cfg.AdminURL)
	if err != nil {
		return nil, platform.Wrap(platform.Unavailable, err, "the postgres target's admin_url is not a valid connection string")
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = applicationName
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classify(ctx, "connect to postgres target", err)
	}
	return conn, nil
}

// readDatabase returns the database called name, or nil when there is none.
func readDatabase(ctx context.Context, conn *pgx.Conn, name string) (*liveDatabase, error) {
	var db liveDatabase
	err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(d.datdba), shobj_description(d.oid, 'pg_database'),
		ARRAY(SELECT DISTINCT a.privilege_type FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE a.grantee = 0 ORDER BY 1)
		FROM pg_database d WHERE d.datname = $1`, name).
		Scan(&db.owner, &db.comment, &db.publicPrivileges)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(ctx, "read database "+name, err)
	}
	return &db, nil
}

// compare turns what was read into a LiveStatus: the worst finding decides
// the health (missing, then degraded, then changed).
func compare(res *platform.Resource, name string, s settings, r *role, db *liveDatabase) platform.LiveStatus {
	var (
		checks   []platform.LiveCheck
		missing  []string
		degraded []string
		changed  []string
	)
	add := func(c platform.LiveCheck) { checks = append(checks, c) }

	// The role.
	switch {
	case r == nil:
		add(platform.LiveCheck{Name: "role", Recorded: name, Live: "absent"})
		missing = append(missing, "role "+name+" is gone")
	default:
		m, ours := parseMarker(r.comment)
		if !ours || m.ResourceID != res.ID {
			add(platform.LiveCheck{Name: "role", Recorded: name + " (created by idpbot for " + res.Ref() + ")", Live: name + " (not idpbot's for this request)"})
			missing = append(missing, "role "+name+" was replaced by one idpbot did not create")
			break
		}
		add(platform.LiveCheck{Name: "role", Recorded: name, Live: name, OK: true})
		add(platform.LiveCheck{Name: "login", Recorded: "yes", Live: yesNo(r.canLogin), OK: r.canLogin})
		if !r.canLogin {
			degraded = append(degraded, "role "+name+" cannot log in")
		}
		rec, live := strconv.Itoa(s.connectionLimit), limitText(r.connLimit)
		add(platform.LiveCheck{Name: "connection limit", Recorded: rec, Live: live, OK: r.connLimit == s.connectionLimit})
		if r.connLimit != s.connectionLimit {
			changed = append(changed, fmt.Sprintf("connection limit is %s, recorded %s (size %s)", live, rec, s.size))
		}
	}

	// The database and the settings recorded on it.
	switch {
	case db == nil:
		add(platform.LiveCheck{Name: "database", Recorded: name, Live: "absent"})
		missing = append(missing, "database "+name+" is gone")
	case db.owner != name:
		add(platform.LiveCheck{Name: "database owner", Recorded: name, Live: db.owner})
		changed = append(changed, "database "+name+" is owned by "+db.owner)
	default:
		add(platform.LiveCheck{Name: "database", Recorded: name, Live: name, OK: true})
		public := "none"
		if len(db.publicPrivileges) > 0 {
			public = strings.Join(db.publicPrivileges, ", ")
			changed = append(changed, "everyone (PUBLIC) may "+public+" on database "+name)
		}
		add(platform.LiveCheck{Name: "public access", Recorded: "none", Live: public, OK: public == "none"})
		m, _ := parseMarker(db.comment)
		ha := "unrecorded"
		if m.HighAvailability != nil {
			ha = yesNo(*m.HighAvailability)
		}
		add(platform.LiveCheck{Name: "high availability", Recorded: yesNo(s.highAvailability), Live: ha, OK: ha == yesNo(s.highAvailability)})
		if ha != yesNo(s.highAvailability) {
			changed = append(changed, fmt.Sprintf("high availability is recorded on the database as %s, requested %s", ha, yesNo(s.highAvailability)))
		}
		days := "unrecorded"
		if m.BackupRetentionDays != nil {
			days = strconv.FormatInt(*m.BackupRetentionDays, 10)
		}
		want := strconv.FormatInt(s.backupDays, 10)
		add(platform.LiveCheck{Name: "backup retention days", Recorded: want, Live: days, OK: days == want})
		if days != want {
			changed = append(changed, fmt.Sprintf("backup retention is recorded on the database as %s days, requested %s", days, want))
		}
	}

	st := livestatus.Verdict(checks, missing, degraded, changed,
		fmt.Sprintf("The database and its role exist; connection limit %d as recorded.", s.connectionLimit))
	return st
}

// limitText renders a role's connection limit; -1 means none.
func limitText(n int) string {
	if n < 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}
