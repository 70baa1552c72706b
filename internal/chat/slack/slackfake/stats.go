package slackfake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// Stats are the figures a load test reads off the fake.
type Stats struct {
	// Methods counts the Web API calls received per method.
	Methods map[string]MethodStats
	// Posts counts the messages chat.postMessage posted per channel
	// (roots and replies; calls answered with an error post nothing).
	Posts map[string]int
	// Duplicates are the posts that repeated an earlier one — same
	// channel, thread, text and blocks — as they were posted, in order.
	Duplicates []Message
}

// MethodStats count the calls of one method.
type MethodStats struct {
	Calls int
	// RateLimited counts the calls answered 429, by the limits or by Fail.
	RateLimited int
}

// Stats returns the figures so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Methods: map[string]MethodStats{}, Posts: map[string]int{}}
	for _, c := range s.calls {
		m := st.Methods[c.Method]
		m.Calls++
		if c.Status == http.StatusTooManyRequests {
			m.RateLimited++
		}
		st.Methods[c.Method] = m
	}
	for _, m := range s.msgs {
		st.Posts[m.Channel]++
	}
	st.Duplicates = append(st.Duplicates, s.duplicates...)
	return st
}

// notePost records a post's identity and, when an earlier post had it, the
// post as a duplicate. s.mu is held.
func (s *Server) notePost(m *Message) {
	blocks := m.Blocks
	var buf bytes.Buffer
	if json.Compact(&buf, blocks) == nil {
		blocks = buf.Bytes()
	}
	key := strings.Join([]string{m.Channel, m.ThreadTS, m.Text, string(blocks)}, "\x00")
	if s.posted[key] {
		s.duplicates = append(s.duplicates, *m)
		return
	}
	s.posted[key] = true
}
