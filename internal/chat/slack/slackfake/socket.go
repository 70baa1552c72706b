package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// SocketPingInterval is how often the fake pings a Socket Mode client, as
// Slack does, so the client's dead-connection timer stays quiet.
const SocketPingInterval = time.Second

// Ack is a Socket Mode acknowledgement sent by the app.
type Ack struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload"`
}

type socketConn struct {
	conn *websocket.Conn
	wmu  sync.Mutex
	done chan struct{}
}

func (c *socketConn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.conn.WriteJSON(v)
}

// socket is the Socket Mode side of the fake: one connection at a time,
// like an app with a single replica.
type socket struct {
	mu          sync.Mutex
	cur         *socketConn
	all         []*socketConn
	connections int
	seq         int
	acks        map[string]Ack
	changed     chan struct{}
}

func (s *socket) init() {
	s.acks = map[string]Ack{}
	s.changed = make(chan struct{})
}

// notify wakes the waiters; s.mu must be held.
func (s *socket) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *socket) closeAll() {
	s.mu.Lock()
	conns := s.all
	s.all = nil
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.conn.Close()
	}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.violation("socket mode: websocket upgrade: %v", err)
		return
	}
	c := &socketConn{conn: conn, done: make(chan struct{})}
	sk := &s.socket
	sk.mu.Lock()
	sk.connections++
	n := sk.connections
	sk.cur = c
	sk.all = append(sk.all, c)
	sk.notify()
	sk.mu.Unlock()
	defer func() {
		close(c.done)
		_ = conn.Close()
		sk.mu.Lock()
		if sk.cur == c {
			sk.cur = nil
		}
		sk.notify()
		sk.mu.Unlock()
	}()
	_ = c.write(map[string]any{"type": "hello", "num_connections": n,
		"connection_info": map[string]any{"app_id": "A0FAKE"},
		"debug_info":      map[string]any{"host": "fake-applink", "approximate_connection_time": 3600}})
	go func() {
		t := time.NewTicker(SocketPingInterval)
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-t.C:
				if conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}
	}()
	for {
		var a Ack
		if err := conn.ReadJSON(&a); err != nil {
			return
		}
		if a.EnvelopeID == "" {
			s.violation("socket mode: message without envelope_id")
			continue
		}
		sk.mu.Lock()
		if _, dup := sk.acks[a.EnvelopeID]; dup {
			s.violation("socket mode: envelope %s acknowledged twice", a.EnvelopeID)
		}
		sk.acks[a.EnvelopeID] = a
		sk.notify()
		sk.mu.Unlock()
	}
}

// SocketConnections returns how many Socket Mode connections were opened.
func (s *Server) SocketConnections() int {
	s.socket.mu.Lock()
	defer s.socket.mu.Unlock()
	return s.socket.connections
}

// WaitSocket waits until a Socket Mode client is connected.
func (s *Server) WaitSocket(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	s.waitSocket(tb, timeout, "a socket mode connection", func() bool { return s.socket.cur != nil })
}

func (s *Server) waitSocket(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.socket.mu.Lock()
		ok, ch := cond(), s.socket.changed
		s.socket.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// SendEnvelope sends a Socket Mode request of type typ ("slash_commands",
// "interactive") with payload to the connected client and returns its
// envelope id.
func (s *Server) SendEnvelope(typ string, payload any) (string, error) {
	sk := &s.socket
	sk.mu.Lock()
	c := sk.cur
	sk.seq++
	id := fmt.Sprintf("env-%04d", sk.seq)
	sk.mu.Unlock()
	if c == nil {
		return "", errors.New("no socket mode client connected")
	}
	return id, c.write(map[string]any{"envelope_id": id, "type": typ, "payload": payload,
		"accepts_response_payload": true, "retry_attempt": 0, "retry_reason": ""})
}

// SendDisconnect asks the connected client to reconnect, as Slack does
// before it rotates a connection.
func (s *Server) SendDisconnect() error {
	s.socket.mu.Lock()
	c := s.socket.cur
	s.socket.mu.Unlock()
	if c == nil {
		return errors.New("no socket mode client connected")
	}
	return c.write(map[string]any{"type": "disconnect", "reason": "refresh_requested",
		"debug_info": map[string]any{"host": "fake-applink"}})
}

// WaitAck waits for the acknowledgement of envelope id.
func (s *Server) WaitAck(tb testing.TB, id string, timeout time.Duration) Ack {
	tb.Helper()
	s.waitSocket(tb, timeout, "the ack of envelope "+id, func() bool { _, ok := s.socket.acks[id]; return ok })
	s.socket.mu.Lock()
	defer s.socket.mu.Unlock()
	return s.socket.acks[id]
}
