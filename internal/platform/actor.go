package platform

import "strings"

// Actor is a person acting through a chat platform. ID is the platform-qualified
// identity used in the config file and the audit log: "console:alice",
// "slack:U012AB3CD", "discord:80351110224678912". Name is for display only.
type Actor struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// Groups are the platform groups the actor belongs to, as resolved by its
	// adapter: "slack-usergroup:S0614TZR7", "discord-role:1134567890".
	Groups []string `json:"groups,omitempty"`
}

// Platform returns the prefix of the actor's ID ("slack", "console", …).
func (a Actor) Platform() string {
	p, _, _ := strings.Cut(a.ID, ":")
	return p
}

// Display returns the name to show for the actor.
func (a Actor) Display() string {
	if a.Name != "" {
		return a.Name
	}
	_, id, ok := strings.Cut(a.ID, ":")
	if !ok {
		return a.ID
	}
	return id
}

// System is the actor of transitions the bot makes on its own.
var System = Actor{ID: "system:idpbot", Name: "idpbot"}
