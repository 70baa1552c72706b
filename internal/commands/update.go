package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/idpbot/idpbot/internal/platform"
)

// update changes a ready resource's parameters: /idp update orders-db
// size=medium. Without key=value it shows what can be changed and the
// current values.
func (r *Router) update(ctx context.Context, req Request, a args) Reply {
	if len(a.pos) == 0 {
		return r.fail(ctx, invalidf("Which resource? Use /idp update <name|#id> key=value…, like /idp update orders-db size=medium."))
	}
	res, err := r.engine.Find(ctx, req.Actor, a.pos[0])
	if err != nil {
		return r.fail(ctx, err)
	}
	svc, err := r.engine.Catalog().Lookup(res.Service)
	if err != nil {
		return r.fail(ctx, platform.Wrap(platform.Unavailable, err, fmt.Sprintf("%s is no longer in the catalog; %s cannot be updated.", res.Service, res.Name)))
	}
	if len(a.pos) == 1 {
		return updateHelp(res, svc)
	}
	changes, err := ParseChanges(svc, res, a.pos[1:])
	if err != nil {
		return r.fail(ctx, err)
	}
	out, c, err := r.engine.Update(ctx, req.Actor, res.Ref(), changes)
	if err != nil {
		return r.fail(ctx, err)
	}
	r.log.InfoContext(ctx, "update requested", "request_id", out.ID, "service", out.Service, "team", out.Team, "env", out.Environment, "actor", req.Actor.ID, "status", string(c.Status))
	return UpdatedReply(out, c)
}

// ParseChanges reads key=value words into the typed values of svc's
// parameters for a change of res, reporting every bad one as a field
// error (Invalid).
func ParseChanges(svc *platform.ServiceDefinition, res *platform.Resource, words []string) (map[string]any, error) {
	changes := map[string]any{}
	var errs []platform.FieldError
	for _, w := range words {
		key, value, ok := strings.Cut(w, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || key == "" {
			return nil, invalidf("Expected key=value, got %s. Example: /idp update %s size=medium.", quoteInput(w, 32), res.Name)
		}
		if _, dup := changes[key]; dup || hasError(errs, key) {
			return nil, invalidf("%s is given twice.", quoteInput(key, 32))
		}
		fd, ok := svc.Field(key)
		if !ok {
			msg := "is not a parameter of " + svc.Name
			names := make([]string, len(svc.Fields))
			for i, f := range svc.Fields {
				names[i] = f.Name
			}
			if c := platform.Closest(key, names); c != "" {
				msg += " (did you mean " + c + "?)"
			} else if key == "name" || key == "team" || key == "environment" {
				msg = "cannot be changed by an update: create a new resource instead"
			} else {
				msg += " (parameters: " + strings.Join(names, ", ") + ")"
			}
			errs = append(errs, platform.FieldError{Field: truncate(key, 32), Message: msg})
			continue
		}
		v, err := fd.Parse(value)
		if err != nil {
			errs = append(errs, platform.FieldError{Field: key, Message: err.Error()})
			continue
		}
		changes[key] = v
	}
	if len(errs) > 0 {
		return nil, &platform.Error{Code: platform.Invalid, Message: fmt.Sprintf("The change of %s has %s; nothing was changed.", res.Name, plural(len(errs), "invalid field")), Fields: errs}
	}
	return changes, nil
}

// UpdatedReply tells the person who asked for change c of res what
// changes (old → new) and what happens next: an approval, or the update
// in the thread.
func UpdatedReply(res *platform.Resource, c *platform.Change) Reply {
	var lines []string
	for _, d := range c.Diff() {
		lines = append(lines, "• "+d.String())
	}
	reply := Reply{Sections: []Section{{Heading: "Changes", Text: strings.Join(lines, "\n")}}}
	if c.Status == platform.ChangePending {
		// Nothing happens to the resource until the change is approved.
		reply.Ephemeral = true
		reply.Title = fmt.Sprintf("The change of %s %s waits for approval.", res.Name, res.Ref())
		reply.Sections = append(reply.Sections, Section{Text: fmt.Sprintf("It needs %s (/idp approve %s); %s stays as it is until then, and a rejection drops the change.", plural(c.Needed, "approval"), res.Ref(), res.Name)})
		return reply
	}
	reply.Resource = res
	reply.Title = fmt.Sprintf("Updating %s %s (%s of team %s in %s).", res.Name, res.Ref(), res.Service, res.Team, res.Environment)
	reply.Sections = append(reply.Sections, Section{Text: "Progress follows in this thread."})
	return reply
}

// updateHelp shows what can be changed on res and the current values.
func updateHelp(res *platform.Resource, svc *platform.ServiceDefinition) Reply {
	params := svc.Defaults(res.Parameters)
	var fields []KV
	var example string
	for _, f := range svc.Fields {
		v := platform.FormatValue(params[f.Name])
		if v == "" {
			v = "(unset)"
		}
		hint := f.Constraint()
		if f.Immutable {
			hint = "immutable"
		} else if example == "" {
			example = f.Name + "=" + exampleValue(f, params[f.Name])
		}
		fields = append(fields, KV{Key: f.Name, Value: v + " (" + hint + ")"})
	}
	text := fmt.Sprintf("%s is %s.", res.Name, res.State)
	if example != "" {
		text += fmt.Sprintf(" Change it with /idp update %s %s.", res.Name, example)
	}
	return Reply{
		Title:     fmt.Sprintf("Update %s %s", res.Name, res.Ref()),
		Ephemeral: true,
		Sections:  []Section{{Heading: "Current values", Fields: fields}, {Text: text}},
	}
}

// exampleValue returns a value of f other than current, for an example.
func exampleValue(f platform.Field, current any) string {
	cur := platform.FormatValue(current)
	switch f.Kind {
	case platform.KindEnum:
		for _, o := range f.Options {
			if o != cur {
				return o
			}
		}
	case platform.KindBoolean:
		if cur == "true" {
			return "false"
		}
		return "true"
	case platform.KindInteger:
		if f.Max != nil && cur == fmt.Sprint(*f.Max) && f.Min != nil {
			return fmt.Sprint(*f.Min)
		}
		if f.Max != nil {
			return fmt.Sprint(*f.Max)
		}
		return "1"
	}
	return "…"
}
