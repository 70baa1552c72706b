package slackfake

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"unicode/utf8"
)

// Block Kit limits, as documented by Slack (docs.slack.dev/reference/block-kit).
const (
	MaxModalBlocks         = 100
	MaxMessageBlocks       = 50
	MaxModalTitle          = 24
	MaxPrivateMetadata     = 3000
	MaxCallbackID          = 255
	MaxBlockID             = 255
	MaxActionID            = 255
	MaxSectionText         = 3000
	MaxSectionFields       = 10
	MaxSectionFieldText    = 2000
	MaxHeaderText          = 150
	MaxContextElements     = 10
	MaxActionsElements     = 25
	MaxInputLabel          = 2000
	MaxInputHint           = 2000
	MaxSelectOptions       = 100
	MaxCheckboxOptions     = 10
	MaxOptionText          = 75
	MaxOptionValue         = 150
	MaxOptionDescription   = 75
	MaxPlaceholder         = 150
	MaxTextInputLength     = 3000
	MaxButtonText          = 75
	MaxButtonValue         = 2000
	MaxURL                 = 3000
	MaxConfirmTitle        = 100
	MaxConfirmText         = 300
	MaxConfirmButton       = 30
	MaxMessageText         = 40000
	MaxViewSubmissionError = 2000
)

// Surface is where blocks are shown; limits differ between them.
type Surface string

// Surfaces.
const (
	SurfaceModal   Surface = "modal"
	SurfaceMessage Surface = "message"
	// SurfaceHome is an app's Home tab (views.publish).
	SurfaceHome Surface = "home"
)

// checker collects Block Kit problems with a JSON-path-like location each.
type checker struct{ problems []string }

func (c *checker) fail(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

// CheckView returns the problems Slack would reject a modal view for.
func CheckView(view json.RawMessage) []string {
	var v map[string]any
	if err := json.Unmarshal(view, &v); err != nil {
		return []string{"view: not a JSON object: " + err.Error()}
	}
	return checkView(v)
}

func checkView(v map[string]any) []string {
	c := &checker{}
	if v["type"] != "modal" {
		c.fail("view.type", "must be modal, got %v", v["type"])
	}
	c.text("view.title", v["title"], true, MaxModalTitle, true)
	c.text("view.submit", v["submit"], true, MaxModalTitle, false)
	c.text("view.close", v["close"], true, MaxModalTitle, false)
	c.maxString("view.private_metadata", v["private_metadata"], MaxPrivateMetadata)
	c.maxString("view.callback_id", v["callback_id"], MaxCallbackID)
	blocks, _ := v["blocks"].([]any)
	if v["blocks"] == nil {
		c.fail("view.blocks", "is required")
	}
	hasInput := c.blocks("view.blocks", blocks, SurfaceModal)
	if hasInput && v["submit"] == nil {
		c.fail("view.submit", "is required when the view has input blocks")
	}
	return c.problems
}

// CheckBlocks returns the problems Slack would reject blocks for on surface.
func CheckBlocks(blocks json.RawMessage, surface Surface) []string {
	var bs []any
	if err := json.Unmarshal(blocks, &bs); err != nil {
		return []string{"blocks: not a JSON array: " + err.Error()}
	}
	c := &checker{}
	c.blocks("blocks", bs, surface)
	return c.problems
}

// InputBlockIDs returns the block_id of every input block of a view, the
// only keys a view_submission "errors" response may use.
func InputBlockIDs(view json.RawMessage) map[string]bool {
	var v struct {
		Blocks []struct {
			Type    string `json:"type"`
			BlockID string `json:"block_id"`
		} `json:"blocks"`
	}
	out := map[string]bool{}
	if json.Unmarshal(view, &v) != nil {
		return out
	}
	for _, b := range v.Blocks {
		if b.Type == "input" && b.BlockID != "" {
			out[b.BlockID] = true
		}
	}
	return out
}

// CheckErrorsResponse returns the problems of a view_submission response
// with response_action "errors" for view: every key must be the block_id of
// an input block and every message within Slack's length.
func CheckErrorsResponse(view json.RawMessage, errs map[string]string) []string {
	ids := InputBlockIDs(view)
	var out []string
	if len(errs) == 0 {
		out = append(out, "errors: empty errors response")
	}
	for k, msg := range errs {
		if !ids[k] {
			out = append(out, fmt.Sprintf("errors.%s: not the block_id of an input block", k))
		}
		if msg == "" || utf8.RuneCountInString(msg) > MaxViewSubmissionError {
			out = append(out, fmt.Sprintf("errors.%s: message must be 1–%d characters", k, MaxViewSubmissionError))
		}
	}
	return out
}

// blocks checks a block list and reports whether it holds an input block.
func (c *checker) blocks(path string, blocks []any, surface Surface) bool {
	limit := MaxMessageBlocks
	if surface == SurfaceModal || surface == SurfaceHome {
		limit = MaxModalBlocks
	}
	if len(blocks) > limit {
		c.fail(path, "%d blocks, at most %d allowed in a %s", len(blocks), limit, surface)
	}
	ids := map[string]bool{}
	hasInput := false
	for i, raw := range blocks {
		p := fmt.Sprintf("%s[%d]", path, i)
		b, ok := raw.(map[string]any)
		if !ok {
			c.fail(p, "not an object")
			continue
		}
		if id, ok := b["block_id"].(string); ok {
			if id == "" || len(id) > MaxBlockID {
				c.fail(p+".block_id", "must be 1–%d characters", MaxBlockID)
			}
			if ids[id] {
				c.fail(p+".block_id", "duplicate block_id %q", id)
			}
			ids[id] = true
		}
		switch b["type"] {
		case "section":
			c.section(p, b)
		case "divider":
		case "header":
			c.text(p+".text", b["text"], true, MaxHeaderText, true)
		case "context":
			els, _ := b["elements"].([]any)
			if len(els) == 0 || len(els) > MaxContextElements {
				c.fail(p+".elements", "must hold 1–%d elements, got %d", MaxContextElements, len(els))
			}
			for j, e := range els {
				em, _ := e.(map[string]any)
				if em["type"] == "image" {
					continue
				}
				c.text(fmt.Sprintf("%s.elements[%d]", p, j), e, false, MaxSectionText, true)
			}
		case "actions":
			els, _ := b["elements"].([]any)
			if len(els) == 0 || len(els) > MaxActionsElements {
				c.fail(p+".elements", "must hold 1–%d elements, got %d", MaxActionsElements, len(els))
			}
			actionIDs := map[string]bool{}
			for j, e := range els {
				ep := fmt.Sprintf("%s.elements[%d]", p, j)
				em, _ := e.(map[string]any)
				if id, _ := em["action_id"].(string); id != "" {
					if actionIDs[id] {
						c.fail(ep+".action_id", "duplicate action_id %q", id)
					}
					actionIDs[id] = true
				}
				c.element(ep, e, false)
			}
		case "input":
			hasInput = true
			c.text(p+".label", b["label"], true, MaxInputLabel, true)
			c.text(p+".hint", b["hint"], true, MaxInputHint, false)
			if b["element"] == nil {
				c.fail(p+".element", "is required")
			} else {
				c.element(p+".element", b["element"], true)
			}
		case "image", "rich_text", "video", "file":
		default:
			c.fail(p+".type", "unknown block type %v", b["type"])
		}
	}
	return hasInput
}

func (c *checker) section(p string, b map[string]any) {
	fields, hasFields := b["fields"].([]any)
	if b["text"] == nil && !hasFields {
		c.fail(p, "a section needs text or fields")
	}
	c.text(p+".text", b["text"], false, MaxSectionText, false)
	if hasFields {
		if len(fields) == 0 || len(fields) > MaxSectionFields {
			c.fail(p+".fields", "must hold 1–%d fields, got %d", MaxSectionFields, len(fields))
		}
		for j, f := range fields {
			c.text(fmt.Sprintf("%s.fields[%d]", p, j), f, false, MaxSectionFieldText, true)
		}
	}
	if acc := b["accessory"]; acc != nil {
		c.element(p+".accessory", acc, false)
	}
}

var inputElements = map[string]bool{
	"plain_text_input": true, "number_input": true, "static_select": true, "multi_static_select": true,
	"checkboxes": true, "radio_buttons": true, "datepicker": true, "timepicker": true, "datetimepicker": true,
	"email_text_input": true, "url_text_input": true, "users_select": true, "conversations_select": true,
	"channels_select": true, "external_select": true, "rich_text_input": true, "file_input": true,
}

func (c *checker) element(p string, raw any, input bool) {
	e, ok := raw.(map[string]any)
	if !ok {
		c.fail(p, "not an object")
		return
	}
	typ, _ := e["type"].(string)
	if input && !inputElements[typ] {
		c.fail(p+".type", "%q cannot be the element of an input block", typ)
	}
	c.maxString(p+".action_id", e["action_id"], MaxActionID)
	c.text(p+".placeholder", e["placeholder"], true, MaxPlaceholder, false)
	switch typ {
	case "button":
		c.text(p+".text", e["text"], true, MaxButtonText, true)
		c.maxString(p+".value", e["value"], MaxButtonValue)
		c.maxString(p+".url", e["url"], MaxURL)
		if s, ok := e["style"]; ok && s != "primary" && s != "danger" {
			c.fail(p+".style", "must be primary or danger, got %v", s)
		}
		c.confirm(p+".confirm", e["confirm"])
	case "static_select":
		opts, _ := e["options"].([]any)
		if groups, ok := e["option_groups"].([]any); ok {
			for _, g := range groups {
				gm, _ := g.(map[string]any)
				gopts, _ := gm["options"].([]any)
				opts = append(opts, gopts...)
			}
		}
		if len(opts) == 0 || len(opts) > MaxSelectOptions {
			c.fail(p+".options", "must hold 1–%d options, got %d", MaxSelectOptions, len(opts))
		}
		c.options(p+".options", opts, true)
		if init, ok := e["initial_option"]; ok && !containsOption(opts, init) {
			c.fail(p+".initial_option", "is not one of the options")
		}
		c.confirm(p+".confirm", e["confirm"])
	case "checkboxes", "radio_buttons":
		opts, _ := e["options"].([]any)
		if len(opts) == 0 || len(opts) > MaxCheckboxOptions {
			c.fail(p+".options", "must hold 1–%d options, got %d", MaxCheckboxOptions, len(opts))
		}
		c.options(p+".options", opts, false)
		if inits, ok := e["initial_options"].([]any); ok {
			for j, init := range inits {
				if !containsOption(opts, init) {
					c.fail(fmt.Sprintf("%s.initial_options[%d]", p, j), "is not one of the options")
				}
			}
		}
		if init, ok := e["initial_option"]; ok && !containsOption(opts, init) {
			c.fail(p+".initial_option", "is not one of the options")
		}
	case "plain_text_input":
		minL, hasMin := number(e["min_length"])
		maxL, hasMax := number(e["max_length"])
		if hasMin && (minL < 0 || minL > MaxTextInputLength) {
			c.fail(p+".min_length", "must be 0–%d", MaxTextInputLength)
		}
		if hasMax && (maxL < 1 || maxL > MaxTextInputLength) {
			c.fail(p+".max_length", "must be 1–%d", MaxTextInputLength)
		}
		if hasMin && hasMax && minL > maxL {
			c.fail(p, "min_length %v exceeds max_length %v", minL, maxL)
		}
		if iv, ok := e["initial_value"].(string); ok && hasMax && float64(utf8.RuneCountInString(iv)) > maxL {
			c.fail(p+".initial_value", "longer than max_length")
		}
	case "number_input":
		dec, ok := e["is_decimal_allowed"].(bool)
		if !ok {
			c.fail(p+".is_decimal_allowed", "is required")
		}
		minV, hasMin := c.numeric(p+".min_value", e["min_value"], dec)
		maxV, hasMax := c.numeric(p+".max_value", e["max_value"], dec)
		if hasMin && hasMax && minV.Cmp(maxV) > 0 {
			c.fail(p, "min_value exceeds max_value")
		}
		if init, ok := c.numeric(p+".initial_value", e["initial_value"], dec); ok {
			if hasMin && init.Cmp(minV) < 0 || hasMax && init.Cmp(maxV) > 0 {
				c.fail(p+".initial_value", "outside min_value…max_value")
			}
		}
	case "overflow", "datepicker", "timepicker", "datetimepicker", "image", "multi_static_select",
		"email_text_input", "url_text_input", "users_select", "conversations_select", "channels_select",
		"external_select", "rich_text_input", "file_input":
	default:
		c.fail(p+".type", "unknown element type %q", typ)
	}
}

func (c *checker) numeric(p string, v any, decimal bool) (*big.Rat, bool) {
	s, ok := v.(string)
	if v == nil {
		return nil, false
	}
	if !ok {
		c.fail(p, "must be a string")
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		c.fail(p, "%q is not a number", s)
		return nil, false
	}
	if !decimal && !r.IsInt() {
		c.fail(p, "%q is not a whole number but is_decimal_allowed is false", s)
	}
	return r, true
}

func (c *checker) options(p string, opts []any, plainOnly bool) {
	values := map[string]bool{}
	for j, o := range opts {
		op := fmt.Sprintf("%s[%d]", p, j)
		om, ok := o.(map[string]any)
		if !ok {
			c.fail(op, "not an object")
			continue
		}
		c.text(op+".text", om["text"], plainOnly, MaxOptionText, true)
		c.text(op+".description", om["description"], plainOnly, MaxOptionDescription, false)
		v, _ := om["value"].(string)
		if v == "" || utf8.RuneCountInString(v) > MaxOptionValue {
			c.fail(op+".value", "must be 1–%d characters", MaxOptionValue)
		}
		if values[v] {
			c.fail(op+".value", "duplicate option value %q", v)
		}
		values[v] = true
	}
}

func (c *checker) confirm(p string, raw any) {
	if raw == nil {
		return
	}
	cm, ok := raw.(map[string]any)
	if !ok {
		c.fail(p, "not an object")
		return
	}
	c.text(p+".title", cm["title"], true, MaxConfirmTitle, true)
	c.text(p+".text", cm["text"], false, MaxConfirmText, true)
	c.text(p+".confirm", cm["confirm"], true, MaxConfirmButton, true)
	c.text(p+".deny", cm["deny"], true, MaxConfirmButton, true)
	if s, ok := cm["style"]; ok && s != "primary" && s != "danger" {
		c.fail(p+".style", "must be primary or danger")
	}
}

// text checks a text composition object.
func (c *checker) text(p string, raw any, plainOnly bool, max int, required bool) {
	if raw == nil {
		if required {
			c.fail(p, "is required")
		}
		return
	}
	t, ok := raw.(map[string]any)
	if !ok {
		c.fail(p, "must be a text object")
		return
	}
	switch t["type"] {
	case "plain_text":
	case "mrkdwn":
		if plainOnly {
			c.fail(p+".type", "must be plain_text")
		}
		if _, ok := t["emoji"]; ok {
			c.fail(p+".emoji", "only plain_text takes emoji")
		}
	default:
		c.fail(p+".type", "must be plain_text or mrkdwn, got %v", t["type"])
	}
	s, _ := t["text"].(string)
	if n := utf8.RuneCountInString(s); n == 0 || n > max {
		c.fail(p+".text", "must be 1–%d characters, got %d", max, n)
	}
}

func (c *checker) maxString(p string, v any, max int) {
	if v == nil {
		return
	}
	s, ok := v.(string)
	if !ok {
		c.fail(p, "must be a string")
		return
	}
	if utf8.RuneCountInString(s) > max {
		c.fail(p, "longer than %d characters (%d)", max, utf8.RuneCountInString(s))
	}
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func containsOption(opts []any, o any) bool {
	for _, x := range opts {
		if reflect.DeepEqual(x, o) {
			return true
		}
	}
	return false
}
