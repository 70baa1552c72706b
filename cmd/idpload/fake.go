package main

import (
	"fmt"
	"sync"
	"testing"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
)

// fakeTB lets the fake Slack, written for tests, run in this command: its
// failures are collected instead of failing a test, and its cleanups run
// when the load run ends. Only the methods slackfake calls are provided;
// the embedded nil testing.TB is never called.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	problems []string
	cleanups []func()
}

// fatal is what Fatalf panics with, for newFake to recover.
type fatal struct{ msg string }

func (t *fakeTB) Helper() {}

func (t *fakeTB) Errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.problems = append(t.problems, fmt.Sprintf(format, args...))
}

func (t *fakeTB) Fatalf(format string, args ...any) { panic(fatal{fmt.Sprintf(format, args...)}) }

func (t *fakeTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// close stops the fake and returns what it found the bot doing that the
// real Slack would reject.
func (t *fakeTB) close() []string {
	t.mu.Lock()
	cs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.problems
}

// newFake starts a fake Slack.
func newFake() (s *slackfake.Server, tb *fakeTB, err error) {
	tb = &fakeTB{}
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(fatal)
			if !ok {
				panic(p)
			}
			tb.close()
			s, err = nil, fmt.Errorf("fake slack: %s", f.msg)
		}
	}()
	return slackfake.New(tb), tb, nil
}
