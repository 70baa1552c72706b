// Package metrics defines idpbot's Prometheus metrics on a registry it is
// given: the seed metrics of the original design (idp_*) and the bot's own
// (idpbot_*). Labels are bounded: platform, verb, service type, team,
// environment, state, outcome — never a user id or free text.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idpbot/idpbot/internal/platform"
)

// ProvisionBuckets are the buckets of idp_provision_time_seconds: sub-second
// ones for fast drivers and the original design's 30…1800 s.
var ProvisionBuckets = []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800}

// Metrics holds the counters and histograms the bot updates as it works.
// Gauges read from the database live in DBCollector.
type Metrics struct {
	creations     *prometheus.CounterVec
	updates       *prometheus.CounterVec
	provisionTime *prometheus.HistogramVec
	provisions    *prometheus.CounterVec
	tickets       *prometheus.CounterVec
	commands      *prometheus.CounterVec
	commandTime   *prometheus.HistogramVec
	acks          *prometheus.HistogramVec
	errors        *prometheus.CounterVec
	jobs          *prometheus.CounterVec
	jobTime       *prometheus.HistogramVec
	chatCalls     *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	rateWait      *prometheus.CounterVec
	retries       *prometheus.CounterVec
}

var (
	_ platform.Observer       = (*Metrics)(nil)
	_ platform.UpdateObserver = (*Metrics)(nil)
	_ platform.RetryObserver  = (*Metrics)(nil)
)

// New returns Metrics registered on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		creations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_resource_creations_total", Help: "Resource requests recorded, by service type, team and environment.",
		}, []string{"service_type", "team", "environment"}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_resource_updates_total", Help: "Parameter changes of resources that ended (applied, failed or rejected), by service type.",
		}, []string{"service_type", "result"}),
		provisionTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "idp_provision_time_seconds", Help: "Time from request to ready, by service type.", Buckets: ProvisionBuckets,
		}, []string{"service_type"}),
		provisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idpbot_provisions_total", Help: "Provisioning outcomes (ready or failed), by service type.",
		}, []string{"service_type", "outcome"}),
		tickets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_support_tickets_total", Help: "Support tickets recorded, by category.",
		}, []string{"category"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idpbot_commands_total", Help: "Commands and interactions handled, by platform, verb and outcome.",
		}, []string{"platform", "verb", "outcome"}),
		commandTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "idpbot_command_duration_seconds", Help: "Time to handle a command or interaction.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"platform", "verb"}),
		acks: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "idpbot_ack_duration_seconds", Help: "Time to acknowledge a chat platform request (Slack and Discord allow 3 s).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 3},
		}, []string{"platform", "kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idpbot_errors_total", Help: "Errors shown to users, by platform and error code.",
		}, []string{"platform", "code"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idpbot_jobs_total", Help: "Background jobs run, by kind and outcome.",
		}, []string{"kind", "outcome"}),
		jobTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "idpbot_job_duration_seconds", Help: "Background job run time, by kind.",
			Buckets: []float64{.005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 1800},
		}, []string{"kind"}),
		chatCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idpbot_chat_api_calls_total", Help: "Chat platform API calls, by platform, method and status.",
		}, []string{"platform", "method", "status"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idpbot_chat_rate_limited_total", Help: "Chat platform API calls answered with a rate limit (429).",
		}, []string{"platform"}),
		rateWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idpbot_chat_rate_limit_wait_seconds_total", Help: "Time messages were delayed by chat platform rate limits.",
		}, []string{"platform"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_retries_total", Help: "Failed operations retried (provisioning, update, deprovisioning), by service type and operation.",
		}, []string{"service_type", "operation"}),
	}
	reg.MustRegister(m.creations, m.updates, m.provisionTime, m.provisions, m.tickets, m.commands, m.commandTime,
		m.acks, m.errors, m.jobs, m.jobTime, m.chatCalls, m.rateLimited, m.rateWait, m.retries)
	return m
}

// Created implements platform.Observer.
func (m *Metrics) Created(r *platform.Resource) {
	m.creations.WithLabelValues(r.ServiceType, r.Team, r.Environment).Inc()
}

// Provisioned implements platform.Observer.
func (m *Metrics) Provisioned(r *platform.Resource, ready bool, took time.Duration) {
	outcome := "failed"
	if ready {
		outcome = "ready"
		m.provisionTime.WithLabelValues(r.ServiceType).Observe(took.Seconds())
	}
	m.provisions.WithLabelValues(r.ServiceType, outcome).Inc()
}

// Retried implements platform.RetryObserver.
func (m *Metrics) Retried(r *platform.Resource, operation string) {
	m.retries.WithLabelValues(r.ServiceType, operation).Inc()
}

// Command records one handled command or interaction.
func (m *Metrics) Command(platformName, verb, outcome string, took time.Duration) {
	m.commands.WithLabelValues(platformName, verb, outcome).Inc()
	m.commandTime.WithLabelValues(platformName, verb).Observe(took.Seconds())
}

// Ack records how long acknowledging a chat request took.
func (m *Metrics) Ack(platformName, kind string, took time.Duration) {
	m.acks.WithLabelValues(platformName, kind).Observe(took.Seconds())
}

// Error records an error shown to a user.
func (m *Metrics) Error(platformName string, code platform.Code) {
	m.errors.WithLabelValues(platformName, string(code)).Inc()
}

// Job records one background job run.
func (m *Metrics) Job(kind, outcome string, took time.Duration) {
	m.jobs.WithLabelValues(kind, outcome).Inc()
	m.jobTime.WithLabelValues(kind).Observe(took.Seconds())
}

// ChatCall records one chat API call; status is the HTTP status or "error".
func (m *Metrics) ChatCall(platformName, method, status string) {
	m.chatCalls.WithLabelValues(platformName, method, status).Inc()
}

// RateLimited records a 429 and how long delivery was delayed by it.
func (m *Metrics) RateLimited(platformName string, wait time.Duration) {
	m.rateLimited.WithLabelValues(platformName).Inc()
	m.rateWait.WithLabelValues(platformName).Add(wait.Seconds())
}

// Seed makes every seed series exist at 0 from the first scrape, so that a
// fresh deployment's dashboards and rate() see zeros rather than nothing:
// idp_resource_creations_total for each of the catalog's service types ×
// the organisation's teams × its environments, idp_provision_time_seconds
// idpbot_provisions_total (ready, failed) and idp_resource_updates_total
// (applied, failed, rejected) for each service type.
func (m *Metrics) Seed(c *platform.Catalog, org *platform.Org) {
	for _, typ := range c.Types() {
		m.provisionTime.WithLabelValues(typ)
		for _, outcome := range []string{"ready", "failed"} {
			m.provisions.WithLabelValues(typ, outcome)
		}
		for _, result := range []string{platform.UpdateApplied, platform.UpdateFailed, platform.UpdateRejected} {
			m.updates.WithLabelValues(typ, result)
		}
		for _, team := range org.TeamNames() {
			for _, env := range org.EnvironmentNames() {
				m.creations.WithLabelValues(typ, team, env)
			}
		}
	}
}

// SupportCategories makes idp_support_tickets_total exist at 0 for each
// category, so that rates and alerts see the first ticket of a category
// as an increase rather than a new series.
func (m *Metrics) SupportCategories(categories []string) {
	for _, c := range categories {
		m.tickets.WithLabelValues(c)
	}
}

// SupportTicket records a support ticket.
func (m *Metrics) SupportTicket(category string) {
	m.tickets.WithLabelValues(category).Inc()
}
