package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

func aliceActor() platform.Actor { return platform.Actor{ID: "slack:U0ALICE", Name: "alice"} }

func TestFormModalGolden(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	router := commands.NewRouter(f.Engine, commands.Options{})
	for _, service := range []string{"web-application", "postgresql-database", "api-gateway"} {
		t.Run(service, func(t *testing.T) {
			t.Parallel()
			form, err := router.Form(context.Background(), aliceActor(), service)
			if err != nil {
				t.Fatal(err)
			}
			v, err := FormModal(form, Metadata{Channel: testChannel})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "modal_"+service, v)
		})
	}
}

// TestModalLimits renders the form of every shipped service, for a member
// of one team and for an admin of many, and checks each modal against
// Slack's documented limits.
func TestModalLimits(t *testing.T) {
	t.Parallel()
	org := testOrg()
	for i := range 150 {
		org.Teams = append(org.Teams, platform.Team{Name: fmt.Sprintf("team-%03d", i)})
	}
	f := fixture(t, platformtest.WithOrg(org))
	router := commands.NewRouter(f.Engine, commands.Options{})
	admin := platform.Actor{ID: "slack:U0ADMIN", Name: "admin"}
	for _, svc := range f.Engine.Catalog().Services() {
		if err := Fits(svc); err != nil {
			t.Errorf("Fits(%s) = %v", svc.Name, err)
		}
		for _, actor := range []platform.Actor{aliceActor(), admin} {
			form, err := router.Form(context.Background(), actor, svc.Name)
			if err != nil {
				t.Fatal(err)
			}
			v, err := FormModal(form, Metadata{Channel: strings.Repeat("C", 20)})
			if err != nil {
				t.Fatalf("FormModal(%s as %s): %v", svc.Name, actor.ID, err)
			}
			checkModal(t, svc.Name+" as "+actor.ID, v)
			for _, f := range form.Fields {
				if !hasInput(v, f.Name) {
					t.Errorf("%s: no input block with block_id %q", svc.Name, f.Name)
				}
			}
		}
	}
	checkModal(t, "picker", pickerModal(f.Engine.Catalog().Services(), f.Engine.Availability, Metadata{Channel: testChannel}))
}

func hasInput(v slackapi.ModalViewRequest, id string) bool {
	for _, b := range v.Blocks.BlockSet {
		if in, ok := b.(*slackapi.InputBlock); ok && in.BlockID == id {
			return true
		}
	}
	return false
}

func checkModal(t *testing.T, name string, v slackapi.ModalViewRequest) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if p := slackfake.CheckView(data); len(p) > 0 {
		t.Errorf("%s: Slack would reject the modal: %q", name, p)
	}
	if n := len(v.Blocks.BlockSet); n > 100 {
		t.Errorf("%s: %d blocks", name, n)
	}
	if n := utf8.RuneCountInString(v.Title.Text); n > 24 {
		t.Errorf("%s: title %q is %d characters", name, v.Title.Text, n)
	}
	if n := len(v.PrivateMetadata); n > 3000 {
		t.Errorf("%s: private_metadata is %d bytes", name, n)
	}
	ids := map[string]bool{}
	for _, b := range v.Blocks.BlockSet {
		id := b.ID()
		if id == "" {
			continue
		}
		if ids[id] {
			t.Errorf("%s: duplicate block_id %q", name, id)
		}
		ids[id] = true
		if in, ok := b.(*slackapi.InputBlock); ok {
			if sel, ok := in.Element.(*slackapi.SelectBlockElement); ok && len(sel.Options) > 100 {
				t.Errorf("%s: %s has %d options", name, id, len(sel.Options))
			}
		}
	}
}

func TestFormModalElements(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	router := commands.NewRouter(f.Engine, commands.Options{})
	form, err := router.Form(context.Background(), aliceActor(), "postgresql-database")
	if err != nil {
		t.Fatal(err)
	}
	v, err := FormModal(form, Metadata{Channel: testChannel})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"name": "plain_text_input", "team": "static_select", "environment": "static_select",
		"size": "static_select", "high_availability": "checkboxes", "backup_retention_days": "number_input",
	}
	got := map[string]string{}
	for _, b := range v.Blocks.BlockSet {
		if in, ok := b.(*slackapi.InputBlock); ok {
			got[in.BlockID] = string(in.Element.ElementType())
		}
	}
	for id, typ := range want {
		if got[id] != typ {
			t.Errorf("block %s is %q, want %q", id, got[id], typ)
		}
	}
	var md Metadata
	if err := json.Unmarshal([]byte(v.PrivateMetadata), &md); err != nil || md != (Metadata{Service: "postgresql-database", Channel: testChannel}) {
		t.Errorf("private_metadata = %s (%v)", v.PrivateMetadata, err)
	}
	if v.CallbackID != CallbackCreate || v.Title.Text != "PostgreSQL Database" {
		t.Errorf("callback %q title %q", v.CallbackID, v.Title.Text)
	}
	if !contains(v, `"initial_value":"7","min_value":"1","max_value":"35"`) {
		t.Error("backup_retention_days is not a number input 1–35 with default 7")
	}
	if !contains(v, "https://wiki.example.com/platform/services/postgresql-database") {
		t.Error("the modal does not link the service's documentation")
	}
}

func TestFits(t *testing.T) {
	t.Parallel()
	opts := make([]string, 101)
	for i := range opts {
		opts[i] = fmt.Sprintf("o%d", i)
	}
	many := make([]platform.Field, 95)
	for i := range many {
		many[i] = platform.Field{Name: fmt.Sprintf("f%d", i), Kind: platform.KindString}
	}
	for _, tc := range []struct {
		name string
		svc  *platform.ServiceDefinition
		want string
	}{
		{"ok", &platform.ServiceDefinition{Name: "ok", Fields: []platform.Field{{Name: "size", Kind: platform.KindEnum, Options: opts[:100]}}}, ""},
		{"options", &platform.ServiceDefinition{Name: "big", Fields: []platform.Field{{Name: "size", Kind: platform.KindEnum, Options: opts}}}, "101 options"},
		{"fields", &platform.ServiceDefinition{Name: "wide", Fields: many}, "95 parameters"},
		{"long option", &platform.ServiceDefinition{Name: "long", Fields: []platform.Field{{Name: "x", Kind: platform.KindEnum, Options: []string{strings.Repeat("v", 151)}}}}, "1–150"},
	} {
		err := Fits(tc.svc)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Fits = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestClipAndTitle(t *testing.T) {
	t.Parallel()
	svc := &platform.ServiceDefinition{Name: "x", Title: "Ünïcödé Sérvice Wïth A Lóng Títle"}
	v, err := formModal(svc, nil, Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Title.Text; utf8.RuneCountInString(got) != 24 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("title = %q, want 24 valid runes ending in …", got)
	}
	if got := escape("a <b> & c"); got != "a &lt;b&gt; &amp; c" {
		t.Errorf("escape = %q", got)
	}
}

// lifecycle is the history of one database request, for message goldens.
func lifecycle() (*platform.Resource, []platform.Event) {
	at := platformtest.Start
	r := &platform.Resource{ID: 12, Service: "postgresql-database", ServiceType: "database", Name: "orders-db", Team: "payments",
		Environment: "development", State: platform.Ready, Requester: aliceActor(), Origin: platform.Origin{Platform: Platform, Channel: testChannel},
		Parameters: map[string]any{"size": "small", "high_availability": false, "backup_retention_days": 7},
		Outputs:    map[string]string{"host": "db.internal", "port": "5432", "database": "payments_development_orders_db", "username": "payments_development_orders_db"},
		CreatedAt:  at, UpdatedAt: at.Add(9 * time.Second), ReadyAt: at.Add(9 * time.Second)}
	evs := []platform.Event{
		{ID: 1, ResourceID: 12, Actor: aliceActor(), Kind: platform.EventTransition, To: platform.Pending, Message: "requested by alice"},
		{ID: 2, ResourceID: 12, Actor: platform.System, Kind: platform.EventVerdict, Message: "cost (warn): large databases cost <$400>/month & more"},
		{ID: 3, ResourceID: 12, Actor: platform.System, Kind: platform.EventTransition, From: platform.Pending, To: platform.Provisioning, Message: "provisioning started"},
		{ID: 4, ResourceID: 12, Actor: platform.System, Kind: platform.EventStep, Message: "creating role payments_development_orders_db"},
		{ID: 5, ResourceID: 12, Actor: platform.System, Kind: platform.EventStep, Message: "creating database payments_development_orders_db"},
		{ID: 6, ResourceID: 12, Actor: platform.System, Kind: platform.EventTransition, From: platform.Provisioning, To: platform.Ready, Message: "ready"},
		{ID: 7, ResourceID: 12, Actor: platform.System, Kind: platform.EventSecret, Sealed: []byte("sealed")},
	}
	return r, evs
}

func TestMessagesGolden(t *testing.T) {
	t.Parallel()
	r, evs := lifecycle()
	var thread []Msg
	for _, ev := range evs {
		if m, ok := EventMessage(r, ev); ok {
			thread = append(thread, m)
		} else if ev.Kind != platform.EventSecret {
			t.Errorf("event %d (%s) renders nothing", ev.ID, ev.Kind)
		}
	}
	golden(t, "thread", thread)
	golden(t, "root_ready", RootMessage(r))
	failed := *r
	failed.State, failed.Reason, failed.Outputs = platform.Failed, "provisioning failed after 10 attempts: the server refused the connection", nil
	golden(t, "root_failed", RootMessage(&failed))
	private := PrivateMessage(r, map[string]string{"password": "s3cr&t<pw>", "url": "postgres://u:s3cr&t<pw>@db.internal:5432/db"})
	golden(t, "private", private)
	if strings.Contains(private.Text, "s3cr") {
		t.Error("the notification text of the private message holds the password")
	}
	for _, m := range append(thread, RootMessage(r)) {
		data, _ := json.Marshal(m)
		if p := slackfake.CheckBlocks(blocksJSON(m), slackfake.SurfaceMessage); len(p) > 0 {
			t.Errorf("Slack would reject %s: %q", data, p)
		}
	}
}

func blocksJSON(m Msg) json.RawMessage {
	if len(m.Blocks) == 0 {
		return json.RawMessage("[]")
	}
	data, _ := json.Marshal(m.Blocks)
	return data
}

func TestReplyMessageGolden(t *testing.T) {
	t.Parallel()
	// Replies built here rather than by the router, so that these goldens
	// pin the renderer, not the wording of the commands.
	status := commands.Reply{Title: "orders-db #12: ready", Ephemeral: true, Sections: []commands.Section{
		{Fields: []commands.KV{{Key: "Service", Value: "postgresql-database"}, {Key: "Team", Value: "payments"},
			{Key: "Environment", Value: "development"}, {Key: "Parameters", Value: "size=medium\nhigh_availability=false\nbackup_retention_days=7"},
			{Key: "Requested", Value: "13:02 by alice"}}},
		{Heading: "History", Text: "13:02:00  pending  requested by alice\n13:02:01  provisioning <started> & running\n13:02:09  ready"},
	}}
	invalid := commands.Reply{Title: "The request for postgresql-database has 2 invalid fields.", Ephemeral: true,
		Err:    platform.Errorf(platform.Invalid, "invalid"),
		Errors: []platform.FieldError{{Field: "name", Message: "must be lowercase letters, digits and hyphens"}, {Field: "team", Message: "team payments has 5 of 5 postgresql-database", Rule: "quota"}}}
	internal := commands.Reply{Title: "Something went wrong (ref: 1a2b3c4d). The platform team can look it up with this reference.",
		Ephemeral: true, Err: platform.Errorf(platform.Internal, "x"), ErrRef: "1a2b3c4d"}
	for name, rep := range map[string]commands.Reply{"status": status, "invalid": invalid, "internal": internal} {
		m := ReplyMessage(rep)
		golden(t, "reply_"+name, m)
		if p := slackfake.CheckBlocks(blocksJSON(m), slackfake.SurfaceMessage); len(p) > 0 {
			t.Errorf("%s: Slack would reject the reply: %q", name, p)
		}
	}
	confirm := commands.Reply{Title: "Delete orders-db?", Ephemeral: true,
		Confirm: &commands.Confirm{Prompt: "Delete orders-db (#12, postgresql-database in payments/development)? This drops the database and its role.", Yes: "delete #12 --yes"}}
	m := ReplyMessage(confirm)
	golden(t, "reply_confirm", m)
	if !contains(m, `"style":"danger"`) || !contains(m, `"confirm":{`) || !contains(m, `"value":"delete #12 --yes"`) {
		t.Error("the confirmation is not a danger button with a confirm dialog running the --yes command")
	}
}

func TestReplyMessageKeepsToMessageLimits(t *testing.T) {
	t.Parallel()
	rep := commands.Reply{Title: strings.Repeat("long title ", 20)}
	for i := range 80 {
		rep.Sections = append(rep.Sections, commands.Section{Heading: fmt.Sprintf("Section %d", i), Text: strings.Repeat("x", 4000),
			Fields: make([]commands.KV, 13)})
		for j := range rep.Sections[i].Fields {
			rep.Sections[i].Fields[j] = commands.KV{Key: "k", Value: strings.Repeat("v", 2100)}
		}
	}
	m := ReplyMessage(rep)
	if len(m.Blocks) != 50 {
		t.Errorf("%d blocks, want 50 (the last one saying how many more)", len(m.Blocks))
	}
	if p := slackfake.CheckBlocks(blocksJSON(m), slackfake.SurfaceMessage); len(p) > 0 {
		t.Errorf("Slack would reject the reply: %q", p)
	}
}
