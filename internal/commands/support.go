package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idpbot/idpbot/internal/platform"
)

// DefaultSupportCategories are the support ticket categories when the
// configuration names none.
var DefaultSupportCategories = []string{"access", "bug", "question", "request", "other"}

// MaxTicketLength is the longest support ticket text, in runes.
const MaxTicketLength = 2000

// Ticket is a support request someone made with /idp support.
type Ticket struct {
	ID        int64
	Category  string
	Text      string
	Requester platform.Actor
	// Platform and Channel are where the ticket was made.
	Platform string
	Channel  string
	// Teams are the requester's teams when the ticket was made.
	Teams []string
	// IdempotencyKey identifies the chat delivery and its actor (see
	// platform.IdempotencyKey), so that a redelivered command records one
	// ticket.
	IdempotencyKey string
	CreatedAt      time.Time
}

// TicketStore records support tickets and has them posted to the support
// channel. The jobs package implements it.
type TicketStore interface {
	// CreateTicket records t (ID and CreatedAt are set by the store) and,
	// in the same transaction, enqueues its post to the support channels.
	// A ticket whose IdempotencyKey was recorded already is returned as
	// it was.
	CreateTicket(ctx context.Context, t Ticket) (Ticket, error)
}

// SupportMetrics counts support tickets (idp_support_tickets_total); the
// metrics package implements it.
type SupportMetrics interface {
	SupportTicket(category string)
}

// TicketCard is the message a support ticket is posted as.
func TicketCard(t Ticket) Reply {
	who := t.Requester.Display()
	if t.Requester.ID != "" && t.Requester.ID != who {
		who += " (" + t.Requester.ID + ")"
	}
	fields := []KV{{Key: "From", Value: who}}
	if len(t.Teams) > 0 {
		fields = append(fields, KV{Key: "Teams", Value: strings.Join(t.Teams, ", ")})
	}
	if t.Platform != "" {
		where := t.Platform
		if t.Channel != "" && t.Channel != t.Platform {
			where += " " + t.Channel
		}
		fields = append(fields, KV{Key: "Asked in", Value: where})
	}
	if !t.CreatedAt.IsZero() {
		fields = append(fields, KV{Key: "At", Value: t.CreatedAt.UTC().Format("2006-01-02 15:04 MST")})
	}
	return Reply{
		Title:    fmt.Sprintf("Support ticket #%d (%s) from %s", t.ID, t.Category, t.Requester.Display()),
		Sections: []Section{{Text: t.Text}, {Fields: fields}},
	}
}

// support records a support ticket.
func (r *Router) support(ctx context.Context, req Request, a args) Reply {
	usage := fmt.Sprintf("Use /idp support <category> <text>, with a category of %s.", strings.Join(r.categories, ", "))
	if len(a.pos) == 0 {
		return r.fail(ctx, invalidf("What do you need help with? %s", usage))
	}
	category := strings.ToLower(a.pos[0])
	if !slices.Contains(r.categories, category) {
		msg := fmt.Sprintf("There is no support category %s.", quoteInput(a.pos[0], 32))
		if c := platform.Closest(category, r.categories); c != "" {
			msg += fmt.Sprintf(" Did you mean %s?", c)
		}
		return r.fail(ctx, &platform.Error{Code: platform.Invalid, Message: msg + " Categories: " + strings.Join(r.categories, ", ") + ".",
			Fields: []platform.FieldError{{Field: "category", Message: "must be one of " + strings.Join(r.categories, ", ")}}})
	}
	text := strings.TrimSpace(strings.Join(a.pos[1:], " "))
	if text == "" {
		return r.fail(ctx, &platform.Error{Code: platform.Invalid, Message: fmt.Sprintf("Describe the problem after the category, like /idp support %s I cannot reach orders-db.", category),
			Fields: []platform.FieldError{{Field: "text", Message: "is required"}}})
	}
	if n := utf8.RuneCountInString(text); n > MaxTicketLength {
		return r.fail(ctx, &platform.Error{Code: platform.Invalid, Message: fmt.Sprintf("The text is %d characters long; keep it under %d, and put details in a link.", n, MaxTicketLength),
			Fields: []platform.FieldError{{Field: "text", Message: fmt.Sprintf("must be at most %d characters", MaxTicketLength)}}})
	}
	if r.tickets == nil {
		return r.fail(ctx, platform.Errorf(platform.Unavailable, "Support tickets are not set up here; ask the platform team directly."))
	}
	t, err := r.tickets.CreateTicket(ctx, Ticket{
		Category:       category,
		Text:           text,
		Requester:      req.Actor,
		Platform:       req.Platform,
		Channel:        req.Channel,
		Teams:          r.engine.Org().TeamsOf(req.Actor),
		IdempotencyKey: req.IdempotencyKey,
	})
	if err != nil {
		return r.fail(ctx, err)
	}
	if r.metrics != nil {
		r.metrics.SupportTicket(category)
	}
	r.log.InfoContext(ctx, "support ticket recorded", "ticket", t.ID, "category", category, "actor", req.Actor.ID)
	return Reply{
		Title:     fmt.Sprintf("Support ticket #%d (%s) recorded. The platform team sees it in their support channel and will get back to you.", t.ID, category),
		Ephemeral: true,
	}
}
