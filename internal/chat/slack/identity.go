package slack

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
	"golang.org/x/sync/singleflight"

	"github.com/idpbot/idpbot/internal/platform"
)

// groupPrefix marks the Slack user groups of a team in the config file.
const groupPrefix = "slack-usergroup:"

// lookupTimeout bounds one users.info or usergroups.users.list call made
// while a person waits for an answer.
const lookupTimeout = 1500 * time.Millisecond

// identity turns a Slack user into a platform.Actor: its email (users.info)
// when the config names people by email, and the configured user groups it
// belongs to (usergroups.users.list). Both are cached for ttl; a lookup
// that fails degrades to ids only and is retried after a short while.
type identity struct {
	api    *slackapi.Client
	log    *slog.Logger
	now    func() time.Time
	ttl    time.Duration
	emails bool
	groups []string

	flight  singleflight.Group
	mu      sync.RWMutex // every command reads the caches; a lookup writes them
	users   map[string]cached[string]
	members map[string]cached[map[string]bool]
}

type cached[T any] struct {
	val T
	at  time.Time
	ok  bool
}

func newIdentity(api *slackapi.Client, org *platform.Org, ttl time.Duration, now func() time.Time, log *slog.Logger) *identity {
	id := &identity{api: api, log: log, now: now, ttl: ttl,
		users: map[string]cached[string]{}, members: map[string]cached[map[string]bool]{}}
	if org == nil {
		return id
	}
	for _, t := range org.Teams {
		for _, m := range t.Members {
			id.emails = id.emails || strings.HasPrefix(m, "email:")
		}
	}
	for _, m := range slices.Concat(org.Admins, org.Approvers) {
		id.emails = id.emails || strings.HasPrefix(m, "email:")
	}
	for _, g := range org.Groups() {
		if gid, ok := strings.CutPrefix(g, groupPrefix); ok && gid != "" && !slices.Contains(id.groups, gid) {
			id.groups = append(id.groups, gid)
		}
	}
	return id
}

// actor returns the actor for a Slack user.
func (id *identity) actor(ctx context.Context, userID, name string) platform.Actor {
	a, ok := id.known(userID, name)
	if ok || userID == "" {
		return a
	}
	var wg sync.WaitGroup
	if id.emails {
		wg.Go(func() { a.Email = id.email(ctx, userID) })
	}
	groups := make([]bool, len(id.groups))
	for i, g := range id.groups {
		wg.Go(func() { groups[i] = id.member(ctx, g)[userID] })
	}
	wg.Wait()
	for i, in := range groups {
		if in {
			a.Groups = append(a.Groups, groupPrefix+id.groups[i])
		}
	}
	return a
}

// known returns the actor of a Slack user from the cache alone, and
// whether it is complete (false: actor looks up what it lacks).
func (id *identity) known(userID, name string) (platform.Actor, bool) {
	a := platform.Actor{ID: "slack:" + userID, Name: name}
	if userID == "" {
		return a, false
	}
	return id.cachedActor(a, userID)
}

// cachedActor completes a from the cache alone, when every lookup it needs
// is cached and fresh.
func (id *identity) cachedActor(a platform.Actor, userID string) (platform.Actor, bool) {
	id.mu.RLock()
	defer id.mu.RUnlock()
	if id.emails {
		c, ok := id.users[userID]
		if !ok || !id.fresh(c.at, c.ok) {
			return a, false
		}
		a.Email = c.val
	}
	for _, g := range id.groups {
		c, ok := id.members[g]
		if !ok || !id.fresh(c.at, c.ok) {
			return a, false
		}
		if c.val[userID] {
			a.Groups = append(a.Groups, groupPrefix+g)
		}
	}
	return a, true
}

// fresh reports whether a cache entry may be used: successful lookups for
// ttl, failed ones for a tenth of it (at most a minute).
func (id *identity) fresh(at time.Time, ok bool) bool {
	age := id.now().Sub(at)
	if ok {
		return age < id.ttl
	}
	return age < min(id.ttl/10, time.Minute)
}

func (id *identity) email(ctx context.Context, userID string) string {
	id.mu.RLock()
	c, hit := id.users[userID]
	id.mu.RUnlock()
	if hit && id.fresh(c.at, c.ok) {
		return c.val
	}
	v := id.lookup(ctx, "user:"+userID, func(ctx context.Context) (any, error) {
		u, err := id.api.GetUserInfoContext(ctx, userID)
		if err != nil {
			return "", err
		}
		return u.Profile.Email, nil
	}, func(v any, ok bool) {
		email, _ := v.(string)
		id.users[userID] = cached[string]{val: email, at: id.now(), ok: ok}
	})
	email, _ := v.(string)
	return email
}

func (id *identity) member(ctx context.Context, group string) map[string]bool {
	id.mu.RLock()
	c, hit := id.members[group]
	id.mu.RUnlock()
	if hit && id.fresh(c.at, c.ok) {
		return c.val
	}
	v := id.lookup(ctx, "group:"+group, func(ctx context.Context) (any, error) {
		users, err := id.api.GetUserGroupMembersContext(ctx, group)
		if err != nil {
			return map[string]bool{}, err
		}
		set := make(map[string]bool, len(users))
		for _, u := range users {
			set[u] = true
		}
		return set, nil
	}, func(v any, ok bool) {
		set, _ := v.(map[string]bool)
		id.members[group] = cached[map[string]bool]{val: set, at: id.now(), ok: ok}
	})
	set, _ := v.(map[string]bool)
	return set
}

// lookup runs fetch once for concurrent callers of the same key, on a
// context of its own so that one caller giving up does not fail the others,
// stores the result with store (under id.mu) and returns it. The caller
// stops waiting when ctx ends; the lookup still completes and is cached.
func (id *identity) lookup(ctx context.Context, key string, fetch func(context.Context) (any, error), store func(v any, ok bool)) any {
	ch := id.flight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
		defer cancel()
		v, err := fetch(fctx)
		if err != nil {
			id.log.WarnContext(ctx, "slack identity lookup failed; using the user id only", "lookup", key, "err", err)
		}
		id.mu.Lock()
		store(v, err == nil)
		id.mu.Unlock()
		return v, nil
	})
	select {
	case res := <-ch:
		return res.Val
	case <-ctx.Done():
		id.log.WarnContext(ctx, "slack identity lookup too slow; using the user id only", "lookup", key)
		return nil
	}
}
