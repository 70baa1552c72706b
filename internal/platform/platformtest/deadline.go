package platformtest

import (
	"context"
	"sync"
)

// Deadline is a context whose deadline passes when the test calls Expire,
// for tests of what a driver does when its attempt's timeout runs out.
// Contexts derived from it (the driver's own, with its Timeout) end as they
// do at a timeout, with context.DeadlineExceeded, but at the moment the
// test chooses (the n-th poll, a line of output) rather than after
// wall-clock time, which a loaded machine may spend before the first poll.
type Deadline struct {
	context.Context
	done chan struct{}
	once sync.Once
}

// NewDeadline returns a Deadline that has not passed.
func NewDeadline() *Deadline {
	return &Deadline{Context: context.Background(), done: make(chan struct{})}
}

// Done is closed once Expire is called.
func (d *Deadline) Done() <-chan struct{} { return d.done }

// Err is context.DeadlineExceeded once Expire is called, nil before.
func (d *Deadline) Err() error {
	select {
	case <-d.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Expire makes the deadline pass; later calls do nothing.
func (d *Deadline) Expire() { d.once.Do(func() { close(d.done) }) }
