package platform

import "time"

// Observer is told about lifecycle milestones, for metrics. Methods must be
// fast and must not fail.
type Observer interface {
	// Created is called after a request was recorded.
	Created(r *Resource)
	// Provisioned is called when a resource became ready (took: request to
	// ready) or failed.
	Provisioned(r *Resource, ready bool, took time.Duration)
}

type nopObserver struct{}

func (nopObserver) Created(*Resource)                          {}
func (nopObserver) Provisioned(*Resource, bool, time.Duration) {}
