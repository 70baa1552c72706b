package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/idpbot/idpbot/internal/platform"
)

// catalog lists the services, all or those of one type (or one service).
func (r *Router) catalog(ctx context.Context, _ Request, a args) Reply {
	cat := r.engine.Catalog()
	services := cat.Services()
	title := fmt.Sprintf("Service catalog: %s. Request one with /idp create <service>.", plural(len(services), "service"))
	switch len(a.pos) {
	case 0:
	case 1:
		filter := a.pos[0]
		if typed := cat.ByType(filter); len(typed) > 0 {
			services = typed
			title = fmt.Sprintf("Service catalog, type %s: %s.", typed[0].Type, plural(len(typed), "service"))
			break
		}
		svc, err := cat.Lookup(filter)
		if err != nil {
			msg := fmt.Sprintf("There is no service or service type %s in the catalog.", quoteInput(filter, 40))
			if c := platform.Closest(filter, append(cat.Types(), cat.Names()...)); c != "" {
				msg += fmt.Sprintf(" Did you mean %s?", c)
			} else {
				msg += " Types: " + strings.Join(cat.Types(), ", ") + "."
			}
			return r.fail(ctx, platform.Errorf(platform.NotFound, "%s", msg))
		}
		services, title = []*platform.ServiceDefinition{svc}, "Service catalog: "+svc.Name+"."
	default:
		return r.fail(ctx, invalidf("catalog takes at most one service type or name, like /idp catalog database."))
	}
	reply := Reply{Title: title, Ephemeral: true}
	for _, svc := range services {
		reply.Sections = append(reply.Sections, r.serviceSection(svc))
	}
	return reply
}

func (r *Router) serviceSection(svc *platform.ServiceDefinition) Section {
	kind := svc.Type
	if svc.Tier != "" {
		kind += ", tier " + svc.Tier
	}
	if svc.Version != "" {
		kind += ", version " + svc.Version
	}
	fields := []KV{{Key: "Type", Value: kind}}
	if svc.Owner != "" {
		fields = append(fields, KV{Key: "Owner", Value: svc.Owner})
	}
	if svc.Documentation != "" {
		fields = append(fields, KV{Key: "Documentation", Value: svc.Documentation})
	}
	if len(svc.Dependencies) > 0 {
		fields = append(fields, KV{Key: "Depends on", Value: strings.Join(svc.Dependencies, ", ")})
	}
	availability := "available"
	if err := r.engine.Availability(svc); err != nil {
		availability = "unavailable: " + strings.TrimPrefix(platform.ErrorMessage(err), svc.Name+" is unavailable: ")
	}
	fields = append(fields, KV{Key: "Availability", Value: availability})
	var params []string
	for _, f := range svc.Fields {
		params = append(params, describeField(f))
	}
	if len(params) == 0 {
		params = []string{"none"}
	}
	fields = append(fields, KV{Key: "Parameters", Value: strings.Join(params, "\n")})
	heading := svc.Name
	if svc.Title != "" {
		heading = fmt.Sprintf("%s (%s)", svc.Title, svc.Name)
	}
	return Section{Heading: heading, Text: svc.Description, Fields: fields}
}

// describeField renders a parameter as "name (kind) constraint; default x".
func describeField(f platform.Field) string {
	constraint := f.Constraint()
	kind := string(f.Kind)
	switch f.Kind {
	case platform.KindInteger:
		constraint = strings.TrimPrefix(strings.TrimPrefix(constraint, "integer"), " ")
	case platform.KindString:
		kind = "text"
		constraint = strings.TrimPrefix(strings.TrimPrefix(constraint, "text"), ", ")
		if f.Pattern != "" {
			constraint = strings.TrimPrefix(constraint+", matching "+f.Pattern, ", ")
		}
	}
	s := fmt.Sprintf("%s (%s)", f.Name, kind)
	if constraint != "" {
		s += " " + constraint
	}
	if f.Default != nil {
		s += "; default " + platform.FormatValue(f.Default)
	}
	if f.Required && f.Default == nil {
		s += "; required"
	}
	if f.Description != "" {
		s += " — " + f.Description
	}
	return s
}
