package discordtest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// gatewayPath is where the fake's gateway listens.
const gatewayPath = "/ws/"

// gateway is the fake's one gateway session.
type gateway struct {
	conn     *websocket.Conn
	writeMu  sync.Mutex
	seq      int
	sessions int
}

func (s *Server) gatewayURL() string {
	return "ws" + strings.TrimPrefix(s.srv.URL, "http") + gatewayPath
}

// serveGateway speaks enough of Discord's gateway protocol for a bot that
// only receives interactions: Hello, Identify (checking the token), Ready,
// heartbeat acknowledgements, then the dispatches of Dispatch.
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	if r.URL.Query().Get("v") == "" || r.URL.Query().Get("encoding") != "json" {
		s.mu.Lock()
		s.violation("gateway connection %s without v and encoding=json", r.URL.RequestURI())
		s.mu.Unlock()
	}
	if err := conn.WriteJSON(map[string]any{"op": 10, "d": map[string]any{"heartbeat_interval": 45000}}); err != nil {
		return
	}
	var identify struct {
		Op   int `json:"op"`
		Data struct {
			Token string `json:"token"`
		} `json:"d"`
	}
	if err := conn.ReadJSON(&identify); err != nil {
		return
	}
	if identify.Op != 2 || identify.Data.Token != "Bot "+BotToken {
		s.mu.Lock()
		s.violation("gateway: expected Identify with the bot token, got op %d", identify.Op)
		s.mu.Unlock()
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4004, "Authentication failed."))
		return
	}
	s.mu.Lock()
	s.gw.conn, s.gw.seq = conn, 1
	s.gw.sessions++
	s.mu.Unlock()
	err = s.gwWrite(map[string]any{"op": 0, "t": "READY", "s": 1, "d": map[string]any{
		"v": 9, "session_id": "fake-session", "resume_gateway_url": s.gatewayURL(), "guilds": []any{},
		"user":        map[string]any{"id": BotID, "username": "idpbot", "bot": true, "discriminator": "0"},
		"application": map[string]any{"id": AppID, "flags": 0},
	}})
	for err == nil {
		var msg struct {
			Op int `json:"op"`
		}
		if err = conn.ReadJSON(&msg); err == nil && msg.Op == 1 {
			err = s.gwWrite(map[string]any{"op": 11})
		}
	}
	s.mu.Lock()
	if s.gw.conn == conn {
		s.gw.conn = nil
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Server) gwWrite(v any) error {
	s.mu.Lock()
	conn := s.gw.conn
	s.mu.Unlock()
	if conn == nil {
		return errors.New("no gateway session")
	}
	s.gw.writeMu.Lock()
	defer s.gw.writeMu.Unlock()
	return conn.WriteJSON(v)
}

// GatewayConnected reports whether a bot holds an identified gateway
// session.
func (s *Server) GatewayConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gw.conn != nil
}

// Dispatch sends an interaction to the bot over the gateway, as an
// INTERACTION_CREATE event.
func (s *Server) Dispatch(in Interaction) error {
	s.mu.Lock()
	s.gw.seq++
	seq := s.gw.seq
	s.mu.Unlock()
	return s.gwWrite(map[string]any{"op": 0, "t": "INTERACTION_CREATE", "s": seq, "d": json.RawMessage(in.Body)})
}

func (s *Server) closeGateway() {
	s.mu.Lock()
	conn := s.gw.conn
	s.gw.conn = nil
	s.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}
