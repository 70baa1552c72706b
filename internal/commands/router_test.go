package commands_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	alice    = platformtest.Alice
	bob      = platformtest.Bob
	admin    = platformtest.Admin
	approver = platformtest.Approver
	outsider = platformtest.Outsider
)

// env is a Router over an Engine fixture.
type env struct {
	f      *platformtest.Fixture
	router *commands.Router
	logs   *bytes.Buffer
}

func newEnv(t *testing.T, opts ...platformtest.Option) *env {
	t.Helper()
	f := platformtest.Engine(t, opts...)
	logs := &bytes.Buffer{}
	return &env{f: f, logs: logs, router: commands.NewRouter(f.Engine, commands.Options{
		Now:    f.Clock.Peek,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})}
}

func (e *env) run(actor platform.Actor, text string) commands.Reply {
	return e.router.Handle(context.Background(), commands.Request{Actor: actor, Platform: "console", Channel: "tty", Text: text})
}

func (e *env) count(t *testing.T) int {
	t.Helper()
	rs, err := e.f.Store.Resources(context.Background(), platform.ResourceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

// mustCreate runs a create command that must succeed and provisions it.
func (e *env) mustCreate(t *testing.T, actor platform.Actor, text string) *platform.Resource {
	t.Helper()
	reply := e.run(actor, text)
	if reply.Err != nil || reply.Resource == nil {
		t.Fatalf("%s: %s", text, reply.Text())
	}
	if err := e.f.Engine.Provision(context.Background(), reply.Resource.ID); err != nil {
		t.Fatal(err)
	}
	return reply.Resource
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
	for i, line := range strings.Split(got, "\n") {
		if n := len([]rune(line)); n > commands.Width {
			t.Errorf("%s line %d has %d columns: %q", path, i+1, n, line)
		}
	}
}

// Kept gives a help once it was built for the same roles and topic,
// exactly as Handle gives it, and nothing for anything else.
func TestKeptHelp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	kept := func(actor platform.Actor, text string) (commands.Reply, bool) {
		return e.router.Kept(commands.Request{Actor: actor, Platform: "console", Channel: "tty", Text: text})
	}
	if _, ok := kept(alice, "help"); ok {
		t.Fatal("Kept before any help was built, want nothing")
	}
	want := e.run(alice, "help")
	for _, text := range []string{"help", "/idp help", "HELP", "--help", "?", "-h"} {
		got, ok := kept(alice, text)
		if !ok || got.Text() != want.Text() || got.Same != want.Same {
			t.Errorf("Kept(%q) = %v, %q; want Handle's help", text, ok, got.Text())
		}
	}
	if _, ok := kept(admin, "help"); ok {
		t.Error("Kept gave an admin the help built for alice's roles")
	}
	if got, ok := kept(alice, "help create"); ok {
		t.Errorf("Kept(help create) = %q before it was built, want nothing", got.Text())
	}
	create := e.run(alice, "help create")
	if got, ok := kept(alice, "help Create"); !ok || got.Text() != create.Text() {
		t.Errorf("Kept(help Create) = %v, want Handle's", ok)
	}
	for _, text := range []string{"", "list", "catalog", "help create extra", "help --x", "help \"unterminated", "status orders-db"} {
		if got, ok := kept(alice, text); ok {
			t.Errorf("Kept(%q) = %q, want nothing: Handle answers it", text, got.Text())
		}
	}
}

func TestHelpGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reply := e.run(alice, "help")
	golden(t, "help", reply.Text())
	if !reply.Ephemeral || reply.Err != nil {
		t.Errorf("help reply: ephemeral %v err %v", reply.Ephemeral, reply.Err)
	}
	for _, verb := range []string{"help", "catalog", "create", "list", "status", "delete"} {
		if !strings.Contains(reply.Text(), "/idp "+verb) {
			t.Errorf("help does not mention %s", verb)
		}
	}
	for _, text := range []string{"", "   ", "/idp", "/idp   "} {
		short := e.run(alice, text)
		want := "idpbot: request infrastructure from chat. Commands: help, catalog, create, list,\nhome, status, delete, update, extend, retry, credentials, audit, support.\n\n" +
			"Start with /idp catalog. /idp help describes every command; /idp help <command>\nexplains one.\n"
		if diff := cmp.Diff(want, short.Text()); diff != "" || !short.Ephemeral || short.Err != nil {
			t.Errorf("Handle(%q) is not the short help (-want +got):\n%s", text, diff)
		}
	}
	one := e.run(alice, "help delete")
	if len(one.Sections) != 1 || !strings.Contains(one.Text(), "--yes") {
		t.Errorf("help delete = %s", one.Text())
	}
	// Every spelling of an option is in the command's help.
	for cmd, want := range map[string]string{
		"help delete": "Options: --yes or -y: delete without asking to confirm.",
		"help create": "Options: --dry-run or -n: check only.",
		"help list":   "--env or --environment E: only environment E; --mine: only the ones you requested; --all or -a: include deleted",
	} {
		if flat := strings.Join(strings.Fields(e.run(alice, cmd).Text()), " "); !strings.Contains(flat, want) {
			t.Errorf("%s lacks %q:\n%s", cmd, want, flat)
		}
	}
	if n := strings.Count(one.Text(), "/idp delete <name|#id>"); n != 1 {
		t.Errorf("help delete shows its usage %d times, want once:\n%s", n, one.Text())
	}
	if got := e.run(alice, "help crate").Title; got != `Unknown command "crate". Did you mean create? See /idp help.` {
		t.Errorf("help crate = %q", got)
	}
}

func TestCatalogGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	golden(t, "catalog", e.run(alice, "catalog").Text())
	tests := []struct {
		text  string
		names []string
		err   string
	}{
		{text: "catalog database", names: []string{"PostgreSQL Database (postgresql-database)"}},
		{text: "catalog Compute", names: []string{"Web Application (web-application)"}},
		{text: "catalog api-gateway", names: []string{"API Gateway (api-gateway)"}},
		{text: "catalog databse", err: `There is no service or service type "databse" in the catalog. Did you mean database?`},
		{text: "catalog queue", err: `There is no service or service type "queue" in the catalog. Types: compute, database, networking.`},
		{text: "catalog a b", err: "catalog takes at most one service type or name, like /idp catalog database."},
		{text: "catalog --all", err: `Unknown option "--all": catalog takes no options.`},
	}
	for _, tt := range tests {
		reply := e.run(alice, tt.text)
		if tt.err != "" {
			if reply.Title != tt.err || reply.Err == nil {
				t.Errorf("%s = %q, want error %q", tt.text, reply.Title, tt.err)
			}
			continue
		}
		var got []string
		for _, s := range reply.Sections {
			got = append(got, s.Heading)
		}
		if diff := cmp.Diff(tt.names, got); diff != "" {
			t.Errorf("%s sections mismatch (-want +got):\n%s", tt.text, diff)
		}
	}
}

func TestCatalogAvailability(t *testing.T) {
	t.Parallel()
	e := newEnv(t, platformtest.WithDriver("kubernetes", platformtest.NewDriver()))
	text := e.run(alice, "catalog web-application").Text()
	if !strings.Contains(text, "Availability   available") {
		t.Errorf("web-application with a kubernetes driver:\n%s", text)
	}
	e.f.Driver.SetUnavailable("no postgres target configured")
	if text := e.run(alice, "catalog database").Text(); !strings.Contains(text, "unavailable: no postgres target configured") {
		t.Errorf("postgres with its driver unavailable:\n%s", text)
	}
}

func TestStatusGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCreate(t, bob, "create postgresql-database name=orders-db size=medium high_availability=yes")
	e.f.Clock.Advance(90e9)
	e.f.Driver.SetStatus(0, platform.LiveStatus{Health: platform.Changed, Summary: "the database and its role exist; the connection limit was changed",
		Checks: []platform.LiveCheck{
			{Name: "database", Recorded: "payments_development_orders_db", Live: "exists", OK: true},
			{Name: "connection limit", Recorded: "50", Live: "80"},
		}}, nil)
	reply := e.run(bob, "status orders-db")
	golden(t, "status", reply.Text())
	if reply.Resource != nil || reply.Err != nil || !reply.Ephemeral {
		t.Errorf("status reply: resource %v err %v ephemeral %v", reply.Resource, reply.Err, reply.Ephemeral)
	}
	for _, ref := range []string{"#1", "1", "orders-db"} {
		if got := e.run(alice, "status "+ref).Title; got != "orders-db #1: ready" {
			t.Errorf("status %s = %q", ref, got)
		}
	}
	errs := map[string]string{
		"status":                 "Which resource? Use /idp status <name> or /idp status #<id>; /idp list shows them.",
		"status a b":             "status takes one resource, got 2. Use the #id when names are ambiguous.",
		"status orders-db --yes": `Unknown option "--yes": status takes no options.`,
		"status missing":         `There is no resource "missing" that you can see. Try /idp list.`,
	}
	for text, want := range errs {
		if got := e.run(bob, text).Title; got != want {
			t.Errorf("%s = %q, want %q", text, got, want)
		}
	}
	// Another team's resource does not exist for outsiders.
	if got := e.run(platformtest.Carol, "status #1").Title; got != `There is no resource "#1" that you can see. Try /idp list.` {
		t.Errorf("carol's status #1 = %q", got)
	}
}

func TestStatusOfFailedAndPending(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.f.Driver.Fail(platformtest.OpProvision, platformtest.Permanent("the postgres target refused: permission denied to create role"), 1)
	e.mustCreate(t, bob, "create postgresql-database name=broken")
	text := e.run(bob, "status broken").Text()
	for _, want := range []string{"broken #1: failed", "Reason        the postgres target refused: permission denied to create role", "failed        the postgres target refused"} {
		if !strings.Contains(text, want) {
			t.Errorf("status of a failed resource lacks %q:\n%s", want, text)
		}
	}
	reply := e.run(bob, "create postgresql-database name=waiting")
	if reply.Err != nil {
		t.Fatal(reply.Text())
	}
	e.f.Clock.Advance(125e9)
	if text := e.run(bob, "status waiting").Text(); !strings.Contains(text, "Waiting for   2m") {
		t.Errorf("status of a pending resource:\n%s", text)
	}
}

func TestUnknownVerbs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := map[string]string{
		"crate postgresql-database": `Unknown command "crate". Did you mean create? See /idp help.`,
		"CRATE":                     `Unknown command "CRATE". Did you mean create? See /idp help.`,
		"stauts x":                  `Unknown command "stauts". Did you mean status? See /idp help.`,
		"ls":                        `Unknown command "ls". Did you mean list? See /idp help.`,
		"provision x":               `Unknown command "provision". Commands: help, catalog, create, list, home, status, delete, update, extend, retry, credentials, audit, support, approve, forget, reject. See /idp help.`,
		"'x; DROP TABLE resources'": `Unknown command "x; DROP TABLE resources". Commands: help, catalog, create, list, home, status, delete, update, extend, retry, credentials, audit, support, approve, forget, reject. See /idp help.`,
		strings.Repeat("z", 10000):  `Unknown command "` + strings.Repeat("z", 32) + `…". Commands: help, catalog, create, list, home, status, delete, update, extend, retry, credentials, audit, support, approve, forget, reject. See /idp help.`,
	}
	for text, want := range tests {
		reply := e.run(alice, text)
		if reply.Title != want || platform.ErrorCode(reply.Err) != platform.Invalid || !reply.Ephemeral {
			t.Errorf("%.30q = %q (%v), want %q", text, reply.Title, reply.Err, want)
		}
	}
	if got := e.run(alice, "/idp help").Title; !strings.HasPrefix(got, "idpbot: request") {
		t.Errorf("a repeated /idp prefix is not ignored: %q", got)
	}
}

// Whatever a person types, a reply echoes at most a short excerpt of it.
func TestLongInputIsNotEchoed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("a", 10000)
	for _, text := range []string{
		"create postgresql-database name=" + long + " --dry-run",
		"create postgresql-database name=db team=" + long + " --dry-run",
		"create postgresql-database name=db environment=" + long + " --dry-run",
		"create postgresql-database name=" + long,
		"create " + long,
		"status " + long,
		"delete " + long,
		"extend orders-db " + long,
		"list --team " + long,
		"catalog " + long,
		"help " + long,
		"support " + long + " help",
	} {
		reply := e.run(bob, text)
		if got := reply.Text(); strings.Contains(strings.Join(strings.Fields(got), ""), strings.Repeat("a", 100)) {
			t.Errorf("%.50q echoes the input in full (%d bytes):\n%.300s", text, len(got), got)
		}
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reply := e.run(bob, `create postgresql-database name=orders-db size=medium "backup_retention_days= 14"`)
	if reply.Err != nil || reply.Resource == nil {
		t.Fatalf("create: %s", reply.Text())
	}
	if reply.Ephemeral {
		t.Error("a created request is announced only to its requester")
	}
	r := reply.Resource
	want := map[string]any{"size": "medium", "high_availability": false, "backup_retention_days": int64(14)}
	if diff := cmp.Diff(want, r.Parameters); diff != "" {
		t.Errorf("parameters mismatch (-want +got):\n%s", diff)
	}
	if r.Team != "payments" || r.Environment != "development" || r.Origin != (platform.Origin{Platform: "console", Channel: "tty"}) {
		t.Errorf("resource team %q env %q origin %+v", r.Team, r.Environment, r.Origin)
	}
	if got := reply.Title; got != "Requested orders-db #1: postgresql-database for payments in development." {
		t.Errorf("title = %q", got)
	}
	// The environment alias and a production request needing approval.
	reply = e.run(bob, "create postgresql-database name=orders-db env=production high_availability=true")
	if reply.Err != nil || reply.Resource.State != platform.AwaitingApproval || !strings.Contains(reply.Text(), "awaiting_approval (needs 1 approval before provisioning)") {
		t.Errorf("production create:\n%s", reply.Text())
	}
	if !strings.Contains(e.logs.String(), "request_id=2") {
		t.Errorf("the submission is not logged with its request_id:\n%s", e.logs.String())
	}
}

// Values in another spelling (any case for an option, yes/no/1/0 for a
// boolean, leading zeros) are accepted on purpose, and the reply says how
// each was read; values typed as recorded get no such note.
func TestCreateShowsNormalisedValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const note = `Taken as size=small (typed "Small"), high_availability=true (typed "yes"), backup_retention_days=7 (typed "07").`
	for _, text := range []string{
		"create postgresql-database name=a-db size=Small high_availability=yes backup_retention_days=07 --dry-run",
		"create postgresql-database name=a-db size=Small high_availability=yes backup_retention_days=07",
	} {
		reply := e.run(bob, text)
		if reply.Err != nil || len(reply.Sections) == 0 || reply.Sections[0].Text != note {
			t.Errorf("%s: first section is not %q:\n%s", text, note, reply.Text())
		}
	}
	if reply := e.run(bob, "create postgresql-database name=b-db size=small high_availability=true"); strings.Contains(reply.Text(), "Taken as") {
		t.Errorf("values typed as recorded are noted:\n%s", reply.Text())
	}
	sub := e.router.Submit(context.Background(), commands.Submission{Actor: bob, Platform: "discord", Channel: "C1", Service: "postgresql-database",
		Values: map[string]string{"name": "c-db", "high_availability": "1"}})
	if sub.Err != nil || !strings.Contains(sub.Text(), `Taken as high_availability=true (typed "1").`) {
		t.Errorf("a form's submission does not say how it was read:\n%s", sub.Text())
	}
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	const shape = "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (like orders-db)"
	tests := []struct {
		actor  platform.Actor
		text   string
		title  string
		errors []platform.FieldError
	}{
		{bob, "create", "Which service? Use /idp create <service>, one of: api-gateway, postgresql-database, web-application. See /idp catalog.", nil},
		{bob, "create postgres name=db", `There is no service "postgres" in the catalog. Did you mean postgresql-database?`, []platform.FieldError{{Field: "service", Message: "unknown service"}}},
		{bob, "create redis name=db", `There is no service "redis" in the catalog. Available: api-gateway, postgresql-database, web-application.`, []platform.FieldError{{Field: "service", Message: "unknown service"}}},
		{bob, "create web-application name=shop", "web-application is unavailable: no kubernetes target configured", nil},
		{bob, "create postgresql-database", "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "name", Message: "is required"}}},
		{bob, "create postgresql-database size=large", "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "name", Message: "is required"}}},
		{bob, `create postgresql-database "name=orders db"`, "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "name", Message: shape}}},
		{bob, `create postgresql-database "name=x'; DROP TABLE resources; --"`, "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "name", Message: shape}}},
		{bob, `create postgresql-database 'name=$(rm -rf ~)'`, "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "name", Message: shape}}},
		{bob, "create postgresql-database name=数据库", "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "name", Message: shape}}},
		{bob, "create postgresql-database name=" + strings.Repeat("a", 10240), "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "name", Message: "must be at most 63 characters (got 10240)"}}},
		{bob, "create postgresql-database name=db size=" + strings.Repeat("a", 10240), "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "size", Message: "must be one of small, medium, large"}}},
		{bob, "create postgresql-database name=db size=huge high_availability=maybe backup_retention_days=0", "The request for postgresql-database has 3 invalid fields.", []platform.FieldError{
			{Field: "size", Message: "must be one of small, medium, large"},
			{Field: "high_availability", Message: "must be true or false"},
			{Field: "backup_retention_days", Message: "must be 1–35 (got 0)"},
		}},
		{bob, "create postgresql-database name=db sise=large", "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "sise", Message: "is not a field of postgresql-database (did you mean size?)"}}},
		{bob, "create postgresql-database name=db colour=red", "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "colour", Message: "is not a field of postgresql-database (fields: name, team, environment, size, high_availability, backup_retention_days)"}}},
		{bob, "create postgresql-database name=db name=other", `"name" is given twice.`, nil},
		{bob, "create postgresql-database name=db large", `Expected key=value, got "large". Example: /idp create postgresql-database name=orders-db.`, nil},
		{bob, "create postgresql-database =db", `Expected key=value, got "=db". Example: /idp create postgresql-database name=orders-db.`, nil},
		{bob, "create postgresql-database name=db --yes", `Unknown option "--yes" for create. Options: --dry-run, --for-team T.`, nil},
		{bob, "create postgresql-database name=db -n=1", "--dry-run takes no value.", nil},
		{bob, "create postgresql-database name=db team=platform", "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "team", Message: "you are not in team platform"}}},
		{alice, "create postgresql-database name=db", "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "team", Message: "is required (one of payments, platform)"}}},
		{bob, "create postgresql-database name=db environment=prod", "The request for postgresql-database has 1 invalid field.", []platform.FieldError{{Field: "environment", Message: `there is no environment "prod" (did you mean production?)`}}},
		{bob, "create postgresql-database name=DB environment=qa team=platform", "The request for postgresql-database has 3 invalid fields.", []platform.FieldError{
			{Field: "name", Message: shape},
			{Field: "team", Message: "you are not in team platform"},
			{Field: "environment", Message: `there is no environment "qa" (one of development, staging, production)`},
		}},
		{outsider, "create postgresql-database name=db", "You are not a member of any team, so you cannot request resources yet. Ask the platform team to add you to one.", nil},
	}
	e := newEnv(t)
	for _, tt := range tests {
		reply := e.run(tt.actor, tt.text)
		if reply.Err == nil || reply.Resource != nil || reply.ErrRef != "" {
			t.Errorf("%.60s: err %v, resource %v, ref %q; want a user error", tt.text, reply.Err, reply.Resource, reply.ErrRef)
		}
		if reply.Title != tt.title {
			t.Errorf("%.60s: title %q, want %q", tt.text, reply.Title, tt.title)
		}
		if diff := cmp.Diff(tt.errors, reply.Errors); diff != "" {
			t.Errorf("%.60s: errors mismatch (-want +got):\n%s", tt.text, diff)
		}
	}
	// The fix for the "sise" typo would not hide the duplicate: nothing was
	// created by any of the above.
	if n := e.count(t); n != 0 {
		t.Errorf("%d resources created by bad commands", n)
	}
}

func TestCreateQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 5 {
		if reply := e.run(bob, fmt.Sprintf("create postgresql-database name=db%d", i)); reply.Err != nil {
			t.Fatal(reply.Text())
		}
	}
	reply := e.run(bob, "create postgresql-database name=db5")
	want := []platform.FieldError{{Field: "team", Message: "team payments has 5 of 5 postgresql-database", Rule: "quota"}}
	if platform.ErrorCode(reply.Err) != platform.Forbidden || !cmp.Equal(want, reply.Errors) || reply.Plan == nil {
		t.Errorf("sixth create: %v %v plan %v", reply.Err, reply.Errors, reply.Plan)
	}
	if text := reply.Text(); !strings.Contains(text, "team: team payments has 5 of 5 postgresql-database (rule quota)") {
		t.Errorf("denial text:\n%s", text)
	}
	dry := e.run(bob, "create postgresql-database name=db5 --dry-run")
	if !strings.Contains(dry.Text(), "✗ quota (deny): team payments has 5 of 5 postgresql-database") || dry.Title != "Dry run: db5 would be denied by policy. Nothing was created." {
		t.Errorf("dry run over quota:\n%s", dry.Text())
	}
	if flat := strings.Join(strings.Fields(dry.Text()), " "); !strings.Contains(flat, "Quota payments: 5 of 5 postgresql-database used; none left, so this request would be denied") {
		t.Errorf("dry run over quota does not say the quota is used up:\n%s", dry.Text())
	}
}

func TestCreateDryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, text := range []string{
		"create postgresql-database name=orders-db env=production high_availability=true --dry-run",
		"create --dry-run postgresql-database name=orders-db env=production high_availability=true",
		"create postgresql-database --dry-run name=orders-db env=production high_availability=true",
		"create postgresql-database name=orders-db -n env=production high_availability=true",
	} {
		reply := e.run(bob, text)
		if reply.Err != nil || reply.Resource != nil || reply.Plan == nil || !reply.Ephemeral {
			t.Fatalf("%s: %s", text, reply.Text())
		}
		got := reply.Text()
		for _, want := range []string{
			"Dry run: orders-db would be created. Nothing was created.",
			"Validation\n  ok",
			"✓ quota (allow): payments: 0 of 5 postgresql-database",
			"Quota      payments: 0 of 5 postgresql-database used; 4 left after this",
			"Approvals  1 approval needed before provisioning, from an approver\n             (console:approver) or a platform admin, never the requester",
			"Parameters   size=small high_availability=true backup_retention_days=7",
			"Driver       postgres",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: dry run lacks %q:\n%s", text, want, got)
			}
		}
	}
	invalid := e.run(bob, "create postgresql-database name=Bad --dry-run")
	if invalid.Title != "Dry run: Bad has invalid fields. Nothing was created." || len(invalid.Errors) != 1 || !strings.Contains(invalid.Text(), "✗ name: must be lowercase") {
		t.Errorf("dry run with a bad name:\n%s", invalid.Text())
	}
	local := e.run(bob, "create postgresql-database name=db size=huge --dry-run")
	if platform.ErrorCode(local.Err) != platform.Invalid || !strings.Contains(local.Text(), "size: must be one of small, medium, large") {
		t.Errorf("dry run with a bad value:\n%s", local.Text())
	}
	engineInvalid := e.run(bob, "create postgresql-database name=db team=platform --dry-run")
	if engineInvalid.Title != "Dry run: db has invalid fields. Nothing was created." || !strings.Contains(engineInvalid.Text(), "✗ team: you are not in team platform") {
		t.Errorf("dry run for another team:\n%s", engineInvalid.Text())
	}
	if n := e.count(t); n != 0 {
		t.Errorf("dry runs created %d resources", n)
	}
}

func TestCreateInteractiveForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reply := e.router.Handle(context.Background(), commands.Request{Actor: bob, Platform: "slack", Text: "create postgresql-database --dry-run", Interactive: true})
	if reply.Form == nil || reply.Err != nil {
		t.Fatalf("interactive create: %s", reply.Text())
	}
	form := reply.Form
	type field struct {
		Name     string
		Options  []string
		Default  any
		Required bool
	}
	var got []field
	for _, f := range form.Fields {
		got = append(got, field{f.Name, f.Options, f.Default, f.Required})
	}
	want := []field{
		{Name: "name", Required: true},
		{Name: "team", Options: []string{"payments"}, Default: "payments", Required: true},
		{Name: "environment", Options: []string{"development", "staging", "production"}, Default: "development", Required: true},
		{Name: "size", Options: []string{"small", "medium", "large"}, Default: "small"},
		{Name: "high_availability", Default: false},
		{Name: "backup_retention_days", Default: int64(7)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("form fields mismatch (-want +got):\n%s", diff)
	}
	if !form.DryRun || form.Service.Name != "postgresql-database" || form.Unavailable != nil {
		t.Errorf("form dry-run %v service %s unavailable %v", form.DryRun, form.Service.Name, form.Unavailable)
	}
	// With pairs, an interactive create submits directly.
	direct := e.router.Handle(context.Background(), commands.Request{Actor: bob, Platform: "slack", Text: "create postgresql-database name=db", Interactive: true})
	if direct.Resource == nil {
		t.Errorf("interactive create with pairs: %s", direct.Text())
	}
	// An unavailable service is refused before any form.
	refused := e.router.Handle(context.Background(), commands.Request{Actor: bob, Text: "create web-application", Interactive: true})
	if refused.Form != nil || refused.Title != "web-application is unavailable: no kubernetes target configured" {
		t.Errorf("interactive create of an unavailable service: %s", refused.Text())
	}
}

func TestForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	af, err := e.router.Form(ctx, alice, "postgresql-database")
	if err != nil {
		t.Fatal(err)
	}
	team, _ := af.Field("team")
	if !cmp.Equal([]string{"payments", "platform"}, team.Options) || team.Default != nil {
		t.Errorf("alice's team field: %+v", team)
	}
	adm, err := e.router.Form(ctx, admin, "postgresql-database")
	if err != nil {
		t.Fatal(err)
	}
	if team, _ := adm.Field("team"); !cmp.Equal([]string{"payments", "platform"}, team.Options) {
		t.Errorf("admin's team options: %v", team.Options)
	}
	if _, err := e.router.Form(ctx, outsider, "postgresql-database"); platform.ErrorCode(err) != platform.Forbidden {
		t.Errorf("outsider's form: %v", err)
	}
	if _, err := e.router.Form(ctx, alice, "postgres"); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("form of an unknown service: %v", err)
	}
	web, err := e.router.Form(ctx, alice, "web-application")
	if err != nil || platform.ErrorMessage(web.Unavailable) != "web-application is unavailable: no kubernetes target configured" {
		t.Errorf("web-application form: %v, unavailable %v", err, web.Unavailable)
	}
	checks := []struct{ field, value, want string }{
		{"name", "orders-db", ""},
		{"name", "", "is required"},
		{"name", "Orders", "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (like orders-db)"},
		{"name", strings.Repeat("a", 100), "must be at most 63 characters (got 100)"},
		{"team", "", "is required"},
		{"team", "payments", ""},
		{"team", "paymnts", "must be one of payments, platform (did you mean payments?)"},
		{"environment", "", ""},
		{"environment", "prod", "must be one of development, staging, production (did you mean production?)"},
		{"size", "", ""},
		{"size", "Large", ""},
		{"high_availability", "yes", ""},
		{"high_availability", "sure", "must be true or false"},
		{"backup_retention_days", "36", "must be 1–35 (got 36)"},
		{"backup_retention_days", "7", ""},
		{"colour", "red", "is not a field of postgresql-database"},
	}
	for _, c := range checks {
		got := ""
		if err := af.Check(c.field, c.value); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("Check(%s, %q) = %q, want %q", c.field, c.value, got, c.want)
		}
	}
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	reply := e.router.Submit(ctx, commands.Submission{Actor: alice, Platform: "slack", Channel: "C1", Service: "postgresql-database",
		Values: map[string]string{"name": " orders-db ", "team": "platform", "environment": "", "size": "", "high_availability": "", "backup_retention_days": "30"}})
	if reply.Err != nil || reply.Resource == nil {
		t.Fatalf("Submit: %s", reply.Text())
	}
	r := reply.Resource
	if r.Name != "orders-db" || r.Team != "platform" || r.Environment != "development" || r.Parameters["backup_retention_days"] != int64(30) || r.Parameters["size"] != "small" {
		t.Errorf("submitted resource: %+v", r)
	}
	// Field errors come back per field, in form order, for inline display.
	bad := e.router.Submit(ctx, commands.Submission{Actor: alice, Service: "postgresql-database",
		Values: map[string]string{"backup_retention_days": "99", "name": "orders-db", "team": "platform"}})
	want := []platform.FieldError{{Field: "backup_retention_days", Message: "must be 1–35 (got 99)"}}
	if diff := cmp.Diff(want, bad.Errors); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
	dup := e.router.Submit(ctx, commands.Submission{Actor: alice, Service: "postgresql-database",
		Values: map[string]string{"name": "orders-db", "team": "platform"}})
	if platform.ErrorCode(dup.Err) != platform.Conflict || dup.Title != "team platform already has a postgresql-database called orders-db in development (#1)" {
		t.Errorf("duplicate Submit = %q (%v)", dup.Title, dup.Err)
	}
	// A redelivered submission creates nothing new.
	keyed := commands.Submission{Actor: alice, Service: "postgresql-database", IdempotencyKey: "V1", Values: map[string]string{"name": "keyed", "team": "platform"}}
	first, again := e.router.Submit(ctx, keyed), e.router.Submit(ctx, keyed)
	if first.Resource == nil || again.Resource == nil || first.Resource.ID != again.Resource.ID {
		t.Errorf("redelivered Submit: %s / %s", first.Text(), again.Text())
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if got := e.run(bob, "list").Title; got != "No resources of your teams. Add --all to include deleted ones, or request one with /idp create <service>." {
		t.Errorf("empty list = %q", got)
	}
	e.mustCreate(t, bob, "create postgresql-database name=orders-db")
	e.mustCreate(t, alice, "create postgresql-database name=metrics-db team=platform env=staging")
	e.mustCreate(t, alice, "create postgresql-database name=gone team=payments")
	if reply := e.run(alice, "delete gone --yes"); reply.Err != nil {
		t.Fatal(reply.Text())
	}
	if err := e.f.Engine.Deprovision(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	e.f.Clock.Advance(3 * 60e9)
	tests := []struct {
		actor platform.Actor
		text  string
		title string
		rows  []string
	}{
		{alice, "list", "2 resources of your teams:", []string{"#2", "#1"}},
		{alice, "list --all", "3 resources of your teams:", []string{"#3", "#2", "#1"}},
		{bob, "list", "1 resource of your teams:", []string{"#1"}},
		{alice, "list --team platform", "1 resource of team platform:", []string{"#2"}},
		{alice, "list --env=staging", "1 resource of your teams, in staging:", []string{"#2"}},
		{alice, "list --mine --all", "2 resources of your teams, requested by you:", []string{"#3", "#2"}},
		{admin, "list", "2 resources of all teams:", []string{"#2", "#1"}},
		{bob, "list --team platform", "You are not in team platform.", nil},
		{bob, "list --team paymnts", `There is no team "paymnts". Did you mean payments?`, nil},
		{bob, "list --env prod", `There is no environment "prod". Did you mean production?`, nil},
		{bob, "list --env qa", `There is no environment "qa". Known: development, staging, production.`, nil},
		{bob, "list payments", `list takes no arguments, only options: --team T, --env E, --state S, --mine, --all, --pending, --after #id, --before #id (got "payments").`, nil},
		{bob, "list --team", "--team needs a value, like --team T.", nil},
		{outsider, "list", "No resources of your teams. Add --all to include deleted ones, or request one with /idp create <service>.", nil},
	}
	for _, tt := range tests {
		reply := e.run(tt.actor, tt.text)
		if reply.Title != tt.title {
			t.Errorf("%s (%s) title = %q, want %q", tt.text, tt.actor.Name, reply.Title, tt.title)
		}
		var rows []string
		if len(reply.Sections) > 0 && reply.Err == nil {
			for _, line := range strings.Split(reply.Sections[0].Text, "\n")[1:] {
				rows = append(rows, strings.Fields(line)[0])
			}
		}
		if diff := cmp.Diff(tt.rows, rows); diff != "" {
			t.Errorf("%s (%s) rows mismatch (-want +got):\n%s", tt.text, tt.actor.Name, diff)
		}
	}
	table := e.run(alice, "list").Sections[0].Text
	want := "ID  NAME        SERVICE              TEAM/ENV              STATE  AGE\n" +
		"#2  metrics-db  postgresql-database  platform/staging      ready  3m\n" +
		"#1  orders-db   postgresql-database  payments/development  ready  3m"
	if diff := cmp.Diff(want, table); diff != "" {
		t.Errorf("table mismatch (-want +got):\n%s", diff)
	}
}

func TestDeleteConfirm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.mustCreate(t, bob, "create postgresql-database name=orders-db")
	reply := e.run(bob, "delete orders-db")
	if reply.Confirm == nil || reply.Confirm.Yes != "delete #1 --yes" || reply.Resource != nil {
		t.Fatalf("delete without --yes: %+v", reply)
	}
	if got := reply.Confirm.Prompt; got != "Delete orders-db #1 (postgresql-database of team payments in development)? What it provisioned is removed for good." {
		t.Errorf("prompt = %q", got)
	}
	if got, _ := e.f.Store.Resource(context.Background(), r.ID); got.State != platform.Ready {
		t.Errorf("asking to confirm changed the state to %s", got.State)
	}
	done := e.run(bob, reply.Confirm.Yes)
	if done.Err != nil || done.Resource == nil || done.Resource.State != platform.Deleting || done.Ephemeral {
		t.Fatalf("confirmed delete: %s", done.Text())
	}
	if done.Title != "Deleting orders-db #1 (postgresql-database of team payments in development)." {
		t.Errorf("title = %q", done.Title)
	}
	if got := e.run(bob, "delete #1 --yes").Title; got != "orders-db #1 is already being deleted." {
		t.Errorf("second delete = %q", got)
	}
	if err := e.f.Engine.Deprovision(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.f.Driver.Count(platformtest.OpDeprovision); n != 1 {
		t.Errorf("%d deprovision calls, want 1", n)
	}
}

func TestDeleteRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCreate(t, bob, "create postgresql-database name=orders-db")
	if reply := e.run(bob, "create postgresql-database name=pending-db"); reply.Err != nil {
		t.Fatal(reply.Text())
	}
	tests := []struct {
		actor platform.Actor
		text  string
		want  string
	}{
		{approver, "delete orders-db", "You are not in team payments, which owns orders-db."},
		{approver, "delete orders-db --yes", "You are not in team payments, which owns orders-db."},
		{platformtest.Carol, "delete orders-db", `There is no resource "orders-db" that you can see. Try /idp list.`},
		{bob, "delete pending-db", "pending-db #2 is pending; delete it once it is ready or failed."},
		{bob, "delete", "Which resource? Use /idp delete <name> or /idp delete #<id>; /idp list shows them."},
		{bob, "delete a b --yes", "delete takes one resource, got 2. Use the #id when names are ambiguous."},
		{bob, "delete orders-db -y=1", "--yes takes no value."},
		{bob, "delete orders-db --yes --force", `Unknown option "--force" for delete. Options: --yes.`},
		{bob, "delete orders-db --yse", `Unknown option "--yse" for delete. Did you mean --yes? Options: --yes.`},
	}
	for _, tt := range tests {
		reply := e.run(tt.actor, tt.text)
		if reply.Title != tt.want || reply.Confirm != nil || reply.Err == nil {
			t.Errorf("%s (%s) = %q, confirm %v; want error %q", tt.text, tt.actor.Name, reply.Title, reply.Confirm, tt.want)
		}
	}
	if got, _ := e.f.Store.Resource(context.Background(), 1); got.State != platform.Ready {
		t.Errorf("refused deletions changed the state to %s", got.State)
	}
	// Admins may delete any team's resource.
	if reply := e.run(admin, "delete #1 --yes"); reply.Err != nil {
		t.Errorf("admin delete: %s", reply.Text())
	}
}

var refPattern = regexp.MustCompile(`^Something went wrong \(ref: ([0-9a-f]{8})\)$`)

func TestInternalErrorsAreLoggedNotShown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCreate(t, bob, "create postgresql-database name=orders-db")
	e.f.Store.Fail = func(string) error {
		return errors.New(`dial tcp 10.0.0.5:5432: connect: connection refused (password "hunter2")`)
	}
	for _, text := range []string{"create postgresql-database name=db2", "list", "status orders-db", "delete orders-db --yes", "create postgresql-database name=db3 --dry-run"} {
		reply := e.run(bob, text)
		m := refPattern.FindStringSubmatch(reply.Title)
		if m == nil || reply.ErrRef != m[1] || reply.Err == nil || len(reply.Errors) != 0 {
			t.Errorf("%s: title %q ref %q err %v", text, reply.Title, reply.ErrRef, reply.Err)
			continue
		}
		if strings.Contains(reply.Text(), "refused") || strings.Contains(reply.Text(), "hunter2") {
			t.Errorf("%s shows the internal error: %s", text, reply.Text())
		}
		if !strings.Contains(e.logs.String(), "ref="+m[1]) || !strings.Contains(e.logs.String(), "connection refused") {
			t.Errorf("%s: the log lacks ref %s with the chain:\n%s", text, m[1], e.logs.String())
		}
	}
}

// Whatever is typed, Handle answers with a message for the user: never a
// panic, never an internal error.
func FuzzHandle(f *testing.F) {
	for _, seed := range []string{
		"", "help", "catalog database", "create postgresql-database name=db size=large --dry-run",
		`create postgresql-database "name=a b" 'size=x'`, "list --team payments --env production --mine --all",
		"status #1", "delete orders-db --yes", "create x =", "--", "- -- ---", "status #99999999999999999999",
		"create postgresql-database backup_retention_days=-9223372036854775809 name=x",
		"\"", "'", "\\", "“", "create postgresql-database name=db\u200b", "status \u202eevil",
	} {
		f.Add(seed)
	}
	e := newEnvF(f)
	f.Fuzz(func(t *testing.T, text string) {
		for _, actor := range []platform.Actor{bob, admin, outsider} {
			reply := e.router.Handle(context.Background(), commands.Request{Actor: actor, Platform: "console", Text: text, Interactive: true})
			if reply.ErrRef != "" || reply.Title == "" {
				t.Fatalf("Handle(%q) = %q (ref %q, err %v)", text, reply.Title, reply.ErrRef, reply.Err)
			}
			_ = reply.Text()
		}
	})
}

func newEnvF(f *testing.F) *env {
	fx := platformtest.Engine(f)
	return &env{f: fx, router: commands.NewRouter(fx.Engine, commands.Options{Now: fx.Clock.Peek})}
}

// The help is built once per topic and set of roles, and shared: asking
// again gives the same reply, marked Same, and someone with other roles
// gets their own.
func TestHelpSharedPerRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first, again := e.run(alice, "help"), e.run(alice, "help")
	if first.Same == "" {
		t.Fatalf("help reply has no Same key: %+v", first)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("second help differs (-first +again):\n%s", diff)
	}
	adm := e.run(admin, "help")
	if adm.Same == first.Same || adm.Text() == first.Text() {
		t.Errorf("admin's help shares %q with alice's: %s", first.Same, adm.Text())
	}
	if one := e.run(alice, "help DELETE"); one.Same == first.Same || one.Same != e.run(alice, "help delete").Same {
		t.Errorf("help DELETE is %q, help delete %q, help %q", one.Same, e.run(alice, "help delete").Same, first.Same)
	}
	if bad := e.run(alice, "help crate"); bad.Same != "" {
		t.Errorf("an error reply is marked Same %q", bad.Same)
	}
	// Appending to a copy's sections, then changing them, never reaches the
	// shared reply.
	first.Sections = append(first.Sections, commands.Section{Heading: "mine"})
	first.Sections[0].Heading = "changed"
	if got := e.run(alice, "help"); cmp.Diff(again, got) != "" {
		t.Errorf("the shared help changed: %s", got.Text())
	}
}
