package slack

import (
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

// methodsUsed are the Web API methods the adapter calls; the end-to-end
// test checks it calls no other.
var methodsUsed = []string{
	"views.open", "views.update", "views.publish", "chat.postMessage", "chat.postEphemeral", "chat.update", "conversations.open",
	"users.info", "usergroups.users.list", "apps.connections.open",
}

// optionalMethods are Web API methods the adapter calls that degrade when
// their scopes are not granted: ChannelMembers answers 0 (unknown) without
// channels:read and groups:read; a redelivery that cannot read the history
// posts again without looking for its earlier attempt's message.
var optionalMethods = map[string][]string{
	"conversations.info":    {"channels:read", "groups:read"},
	"conversations.history": {"channels:history", "groups:history", "im:history"},
	"conversations.replies": {"channels:history", "groups:history", "im:history"},
}

// checkScopes fails the test for every Web API method the bot called that
// the app manifests' scopes were not checked for.
func checkScopes(t testing.TB, fake *slackfake.Server) {
	t.Helper()
	for _, c := range fake.Calls() {
		if _, optional := optionalMethods[c.Method]; !optional && !slices.Contains(methodsUsed, c.Method) {
			t.Errorf("the bot called %s, which the manifests' scopes were not checked for", c.Method)
		}
	}
}

// manifest is the part of a Slack app manifest the bot depends on.
type manifest struct {
	Features struct {
		AppHome struct {
			HomeTabEnabled     bool `json:"home_tab_enabled"`
			MessagesTabEnabled bool `json:"messages_tab_enabled"`
		} `json:"app_home"`
		BotUser *struct {
			DisplayName string `json:"display_name"`
		} `json:"bot_user"`
		SlashCommands []struct {
			Command   string `json:"command"`
			URL       string `json:"url"`
			UsageHint string `json:"usage_hint"`
		} `json:"slash_commands"`
	} `json:"features"`
	OAuthConfig struct {
		Scopes struct {
			Bot []string `json:"bot"`
		} `json:"scopes"`
	} `json:"oauth_config"`
	Settings struct {
		Interactivity struct {
			IsEnabled  bool   `json:"is_enabled"`
			RequestURL string `json:"request_url"`
		} `json:"interactivity"`
		SocketModeEnabled  bool `json:"socket_mode_enabled"`
		EventSubscriptions struct {
			RequestURL string   `json:"request_url"`
			BotEvents  []string `json:"bot_events"`
		} `json:"event_subscriptions"`
	} `json:"settings"`
}

func readManifest(t *testing.T, name string) manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "slack", name))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// allowed reports whether scopes allow calling method, per Slack's OpenAPI
// description (whose legacy chat:write:bot is today's chat:write).
func allowed(spec *slackfake.Spec, method string, scopes []string) bool {
	if method == "apps.connections.open" {
		return true // app-level token, scope connections:write
	}
	m, ok := spec.Method(method)
	if !ok {
		return false
	}
	for _, s := range m.Scopes {
		switch s {
		case "none":
			return true
		case "chat:write:bot", "chat:write:user":
			s = "chat:write"
		}
		if slices.Contains(scopes, s) {
			return true
		}
	}
	return false
}

func TestManifests(t *testing.T) {
	t.Parallel()
	spec, err := slackfake.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	minimal := []string{"commands", "chat:write", "chat:write.public", "im:write", "users:read", "users:read.email", "usergroups:read"}
	for _, tc := range []struct {
		file   string
		socket bool
	}{{"manifest.yaml", false}, {"manifest-socket-mode.yaml", true}} {
		m := readManifest(t, tc.file)
		if m.Features.BotUser == nil || len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/idp" ||
			m.Features.SlashCommands[0].UsageHint == "" {
			t.Errorf("%s: want a bot user and the /idp command with a usage hint; got %+v", tc.file, m.Features)
		}
		if !m.Settings.Interactivity.IsEnabled || m.Settings.SocketModeEnabled != tc.socket {
			t.Errorf("%s: interactivity %v, socket mode %v", tc.file, m.Settings.Interactivity.IsEnabled, m.Settings.SocketModeEnabled)
		}
		granted := map[string]bool{}
		for _, s := range m.OAuthConfig.Scopes.Bot {
			granted[s] = true
		}
		for _, s := range minimal {
			if !granted[s] {
				t.Errorf("%s: bot scope %s missing", tc.file, s)
			}
		}
		optional := slices.Concat(slices.Collect(maps.Values(optionalMethods))...)
		for _, s := range m.OAuthConfig.Scopes.Bot {
			if !slices.Contains(minimal, s) && !slices.Contains(optional, s) {
				t.Errorf("%s: bot scope %s is not needed by any method the adapter calls", tc.file, s)
			}
		}
		for method, scopes := range optionalMethods {
			if slices.ContainsFunc(scopes, func(s string) bool { return granted[s] }) && !allowed(spec, method, m.OAuthConfig.Scopes.Bot) {
				t.Errorf("%s: grants some of %v but not what %s needs", tc.file, scopes, method)
			}
		}
		for _, method := range methodsUsed {
			if !allowed(spec, method, m.OAuthConfig.Scopes.Bot) {
				t.Errorf("%s: no scope allows %s", tc.file, method)
			}
		}
		if !m.Features.AppHome.HomeTabEnabled || !m.Features.AppHome.MessagesTabEnabled {
			t.Errorf("%s: the Home tab and the messages tab (where the Home tab's answers go) must be enabled: %+v", tc.file, m.Features.AppHome)
		}
		if !slices.Contains(m.Settings.EventSubscriptions.BotEvents, "app_home_opened") {
			t.Errorf("%s: bot events %v lack app_home_opened", tc.file, m.Settings.EventSubscriptions.BotEvents)
		}
		cmdURL, interURL, eventsURL := m.Features.SlashCommands[0].URL, m.Settings.Interactivity.RequestURL, m.Settings.EventSubscriptions.RequestURL
		if tc.socket {
			if cmdURL != "" || interURL != "" || eventsURL != "" {
				t.Errorf("%s: Socket Mode takes no request URLs, got %q, %q and %q", tc.file, cmdURL, interURL, eventsURL)
			}
			continue
		}
		for _, u := range []struct{ raw, path string }{{cmdURL, "/slack/commands"}, {interURL, "/slack/interactions"}, {eventsURL, EventsPath}} {
			p, err := url.Parse(u.raw)
			if err != nil || p.Scheme != "https" || p.Path != u.path {
				t.Errorf("%s: request URL %q, want https://…%s (the handler's route)", tc.file, u.raw, u.path)
			}
		}
	}
}
