package platform

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// Team is a group of people who own resources together.
type Team struct {
	Name string
	// Members are actor IDs ("slack:U012AB3CD", "console:dev1") or
	// "email:dev1@example.com".
	Members []string
	// Groups are platform groups whose members are members of the team:
	// "slack-usergroup:S0614TZR7", "discord-role:1134567890".
	Groups []string
	// Quotas override Org.DefaultQuotas per service.
	Quotas map[string]int
}

// Environment is a deployment stage resources are created in.
type Environment struct {
	Name string
	// TTL is the default lifetime of resources created here (0: none).
	TTL time.Duration
	// Approvals is how many approvals a request here needs (0: none).
	Approvals int
}

// Org is who may do what: teams, environments, quotas and roles. It is the
// part of the configuration the Engine enforces.
type Org struct {
	Teams        []Team
	Environments []Environment
	// DefaultQuotas is the number of active resources of each service a team
	// may have. A service with no entry has no limit.
	DefaultQuotas map[string]int
	// Admins and Approvers hold roles: actor IDs, "email:" addresses or
	// platform groups ("slack-usergroup:S0614TZR7", "discord-role:…").
	Admins    []string
	Approvers []string
}

// Team returns the team called name.
func (o *Org) Team(name string) (Team, bool) {
	for _, t := range o.Teams {
		if t.Name == name {
			return t, true
		}
	}
	return Team{}, false
}

// TeamNames returns the names of every team, sorted.
func (o *Org) TeamNames() []string {
	out := make([]string, len(o.Teams))
	for i, t := range o.Teams {
		out[i] = t.Name
	}
	sort.Strings(out)
	return out
}

// Environment returns the environment called name.
func (o *Org) Environment(name string) (Environment, bool) {
	for _, e := range o.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// EnvironmentNames returns the environments in configured order.
func (o *Org) EnvironmentNames() []string {
	out := make([]string, len(o.Environments))
	for i, e := range o.Environments {
		out[i] = e.Name
	}
	return out
}

// TeamsOf returns the names of the teams a is a member of, sorted.
func (o *Org) TeamsOf(a Actor) []string {
	var out []string
	for _, t := range o.Teams {
		if isMember(t.Members, a) || inGroups(t.Groups, a) {
			out = append(out, t.Name)
		}
	}
	sort.Strings(out)
	return out
}

// MayManage reports whether a may act on a resource of team (delete,
// extend, update, retry, rotate): a member of the team or an admin.
func (o *Org) MayManage(a Actor, team string) bool { return o.IsMember(a, team) || o.IsAdmin(a) }

// IsMember reports whether a is a member of team.
func (o *Org) IsMember(a Actor, team string) bool {
	t, ok := o.Team(team)
	return ok && (isMember(t.Members, a) || inGroups(t.Groups, a))
}

// Groups returns every platform group named by a team or a role, so
// adapters know which groups to resolve.
func (o *Org) Groups() []string {
	var out []string
	for _, t := range o.Teams {
		out = append(out, t.Groups...)
	}
	for _, id := range append(slices.Clone(o.Admins), o.Approvers...) {
		if isGroup(id) && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// isGroup reports whether a member entry names a platform group.
func isGroup(id string) bool {
	return strings.HasPrefix(id, "slack-usergroup:") || strings.HasPrefix(id, "discord-role:")
}

func inGroups(groups []string, a Actor) bool {
	for _, g := range groups {
		for _, ag := range a.Groups {
			if g == ag {
				return true
			}
		}
	}
	return false
}

// IsAdmin reports whether a is a platform admin.
func (o *Org) IsAdmin(a Actor) bool { return isMember(o.Admins, a) }

// IsApprover reports whether a may approve requests.
func (o *Org) IsApprover(a Actor) bool { return isMember(o.Approvers, a) || o.IsAdmin(a) }

// Quota returns how many active resources of service team may have, and
// whether there is a limit at all.
func (o *Org) Quota(team, service string) (int, bool) {
	if t, ok := o.Team(team); ok {
		if q, ok := t.Quotas[service]; ok {
			return q, true
		}
	}
	q, ok := o.DefaultQuotas[service]
	return q, ok
}

// isMember reports whether a is one of ids: by actor ID, by email
// (case-insensitive) or by one of a's platform groups.
func isMember(ids []string, a Actor) bool {
	for _, id := range ids {
		if id == a.ID && id != "" {
			return true
		}
		if email, ok := strings.CutPrefix(id, "email:"); ok && a.Email != "" && strings.EqualFold(email, a.Email) {
			return true
		}
		if isGroup(id) && slices.Contains(a.Groups, id) {
			return true
		}
	}
	return false
}

// Roles returns the roles of a, most powerful first: "admin", "approver",
// and "member" when a is in at least one team.
func (o *Org) Roles(a Actor) []string {
	var out []string
	if o.IsAdmin(a) {
		out = append(out, "admin")
	}
	if isMember(o.Approvers, a) {
		out = append(out, "approver")
	}
	if len(o.TeamsOf(a)) > 0 {
		out = append(out, "member")
	}
	return out
}
