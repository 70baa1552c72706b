package discordtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// Stats are the figures a load test reads off the fake.
type Stats struct {
	// Routes counts the calls received per route name.
	Routes map[string]RouteStats
	// Buckets counts the 429s of the route limits per bucket, named by
	// route and top-level resource ("POST /channels/{channel_id}/messages 10").
	Buckets map[string]int
	// Global counts the 429s of the global limit.
	Global int
	// Posts counts the messages created per channel (a repeated nonce
	// creates none; calls answered with an error create none).
	Posts map[string]int
	// Duplicates are the messages created that repeated an earlier one in
	// the same channel (thread) — same content, embeds and components — in
	// order.
	Duplicates []Message
}

// RouteStats count the calls of one route.
type RouteStats struct {
	Calls int
	// RateLimited counts the calls answered 429: by a route limit, the
	// global limit or a Fault.
	RateLimited int
}

// Stats returns the figures so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Routes: map[string]RouteStats{}, Buckets: map[string]int{}, Posts: map[string]int{}, Global: s.limiter.global}
	for _, c := range s.calls {
		r := st.Routes[c.Route]
		r.Calls++
		if c.Status == http.StatusTooManyRequests {
			r.RateLimited++
		}
		st.Routes[c.Route] = r
	}
	for k, n := range s.limiter.limited {
		st.Buckets[k] = n
	}
	for k, n := range s.posts {
		st.Posts[k] = n
	}
	st.Duplicates = append(st.Duplicates, s.duplicates...)
	return st
}

// notePost counts a created message and records it as a duplicate when an
// earlier one had the same channel, content, embeds and components. s.mu
// is held.
func (s *Server) notePost(m *Message) {
	s.posts[m.ChannelID]++
	embeds, _ := json.Marshal(m.Embeds)
	comps := []byte(m.Components)
	var buf bytes.Buffer
	if json.Compact(&buf, comps) == nil {
		comps = buf.Bytes()
	}
	if string(comps) == "null" {
		comps = nil
	}
	key := strings.Join([]string{m.ChannelID, m.Content, string(embeds), string(comps)}, "\x00")
	if s.posted[key] {
		s.duplicates = append(s.duplicates, *m)
		return
	}
	s.posted[key] = true
}
