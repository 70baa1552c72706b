package main

import (
	"bytes"
	"encoding/json"
	"strings"

	catalogload "github.com/idpbot/idpbot/internal/platform/catalog"
)

// obj is a JSON object that keeps its keys in order, so the generated
// schemas read like the Go types and diff cleanly.
type obj []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the keys in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(e.k)
		if err != nil {
			return nil, err
		}
		v, err := marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without HTML escaping: the descriptions say
// <name>, which editors show as written.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

const draft = "https://json-schema.org/draft/2020-12/schema"

// durationDef is the schema of a Duration: what catalog.ParseDuration
// accepts.
var durationDef = obj{
	{"type", "string"},
	{"pattern", `^\s*([0-9]+d|([0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+)\s*$`},
	{"description", `A duration such as "90s", "30m", "168h" or "7d".`},
}

// configSchema is the JSON Schema of the config file, generated from the
// shape of Config and the doc comments of its Go types.
func configSchema(docs map[string]string) obj {
	s := obj{
		{"$schema", draft},
		{"title", "idpbot config file (IDPBOT_CONFIG)"},
		{"description", "Teams, environments, quotas, roles, policies, channels, schedules and driver targets. Generated from the Go types of cmd/bot by go generate ./cmd/bot; do not edit."},
	}
	s = append(s, shapeSchema(configShape(), docs)...)
	return append(s, kv{"$defs", obj{{"duration", durationDef}}})
}

// shapeSchema is the schema of one shape. Mappings may be null (an empty
// section keeps its defaults), as the loader allows.
func shapeSchema(s *shape, docs map[string]string) obj {
	switch s.kind {
	case kindObject:
		props := obj{}
		for _, f := range s.fields {
			fs := shapeSchema(f.shape, docs)
			if d := keyDoc(docs[f.doc], f); d != "" {
				fs = append(obj{{"description", d}}, fs...)
			}
			props = append(props, kv{f.key, fs})
		}
		return obj{{"type", []string{"object", "null"}}, {"properties", props}, {"additionalProperties", false}}
	case kindMap:
		return obj{{"type", []string{"object", "null"}}, {"additionalProperties", shapeSchema(s.elem, docs)}}
	case kindList:
		return obj{{"type", "array"}, {"items", shapeSchema(s.elem, docs)}}
	case kindString:
		return obj{{"type", "string"}}
	case kindInt:
		return obj{{"type", "integer"}}
	case kindBool:
		return obj{{"type", "boolean"}}
	case kindDuration:
		return obj{{"$ref", "#/$defs/duration"}}
	case kindInterval:
		return obj{{"anyOf", []any{obj{{"$ref", "#/$defs/duration"}}, obj{{"enum", []any{0, "0", "0s"}}}}}}
	}
	panic("schema: unknown shape kind")
}

// keyDoc is a field's doc comment with its leading Go name ("TokenEnv
// names…") written as the key the file uses ("token_env names…").
func keyDoc(doc string, f field) string {
	goName := f.doc[strings.LastIndex(f.doc, ".")+1:]
	if rest, ok := strings.CutPrefix(doc, goName+" "); ok {
		return f.key + " " + rest
	}
	return doc
}

// driverSettings describes the settings of each known driver's bindings
// (provisioner.settings in a catalog entry). A driver not listed here takes
// any settings. Settings a driver does not read are refused, so that a typo
// shows in the editor.
//
// A new driver adds its entry to this table, and nothing else changes.
var driverSettings = []struct {
	driver string
	// settings are the driver's keys and their schemas; nil means the
	// driver takes any settings (they are passed through).
	settings obj
	// open drivers also take keys of their own choosing (the manifests
	// driver hands them to its templates as .Settings).
	open bool
}{
	{"postgres", obj{}, false},
	{"gitops", obj{}, false},
	{"kubernetes", obj{
		{"group", obj{{"type", "string"}, {"description", "kubernetes-namespace: the group given edit rights in the namespace; {{team}} is replaced (default {{team}})."}}},
		{"cluster_role", obj{{"type", "string"}, {"description", "kubernetes-namespace: the ClusterRole bound to the group (default edit)."}}},
		{"port", obj{{"type", "integer"}, {"minimum", 1}, {"maximum", 65535}, {"description", "web-application: the container and Service port (default 8080)."}}},
		{"host", obj{{"type", "string"}, {"description", "api-gateway: the host name; {{name}}, {{team}} and {{environment}} are replaced (default <name>.<team>-<env>.<domain of the target>)."}}},
	}, false},
	{"webhook", obj{
		{"url", obj{{"type", "string"}, {"description", "Overrides drivers.webhook.url for this service."}}},
		{"status_url", obj{{"type", "string"}, {"description", "Overrides drivers.webhook.status_url for this service: polled for completion, and read with action status for the live status."}}},
	}, false},
	// exec hands every setting to its command on stdin; status_command is
	// the one it reads itself.
	{"exec", obj{
		{"status_command", obj{{"type", "array"}, {"items", obj{{"type", "string"}}}, {"minItems", 1},
			{"description", "The argv run with IDP_ACTION=status to read the live status: stdout is a live-status JSON document, exit 3 means gone."}}},
	}, true},
	{"manifests", manifestsSettings(), true},
}

// manifestsSettings are the keys the manifests driver reads
// (internal/drivers/manifests.Spec); any other key is free for the
// templates.
func manifestsSettings() obj {
	str := func(desc string) obj { return obj{{"type", "string"}, {"description", desc}} }
	check := obj{
		{"type", "object"},
		{"description", "A state of an object: a status condition (condition, status default True, reason) or a JSONPath whose value is value or one of values."},
		{"properties", obj{
			{"condition", str("A status condition type, such as Ready.")},
			{"status", str("The condition's status (default True).")},
			{"reason", str("The condition's reason, when it matters.")},
			{"jsonpath", str("A JSONPath into the object, such as {.status.phase}.")},
			{"value", str("The value the JSONPath must have.")},
			{"values", obj{{"type", "array"}, {"items", obj{{"type", "string"}}}, {"description", "Values the JSONPath may have."}}},
		}},
		{"additionalProperties", false},
	}
	manifest := obj{
		{"type", "object"},
		{"properties", obj{
			{"template", str("A Go text/template rendering one object as YAML (see deploy/drivers/README.md for the data and functions).")},
			{"operator", str("What serves the object's kind (CloudNativePG), named when the cluster lacks it.")},
			{"ready", check},
			{"failed", obj{{"type", "array"}, {"items", check}, {"description", "States in which the operator has given up: any of them fails the request with its message."}}},
			{"progress", str("A JSONPath to the operator's progress message (default: the Ready condition's message).")},
			{"outputs", obj{{"type", "object"}, {"additionalProperties", obj{{"type", "string"}}}, {"description", "Output name to a JSONPath into the object, shown in the thread."}}},
		}},
		{"required", []string{"template"}},
		{"additionalProperties", false},
	}
	return obj{
		{"manifests", obj{{"type", "array"}, {"items", manifest}, {"minItems", 1}, {"description", "The objects applied, in order, each with how to tell its state."}}},
		{"secret", obj{
			{"type", "object"},
			{"description", "A Secret in the team's namespace whose keys are delivered privately to the requester."},
			{"properties", obj{
				{"name", str("The Secret's name, a template like the manifests' ({{ .Name }}-app).")},
				{"keys", obj{{"type", "object"}, {"additionalProperties", obj{{"type", "string"}}}, {"description", "Name shown to the requester to the Secret's key."}}},
			}},
			{"required", []string{"name", "keys"}},
			{"additionalProperties", false},
		}},
		{"timeout", obj{{"$ref", "#/$defs/duration"}, {"description", "How long the objects may take to be ready (default drivers.manifests.timeout)."}}},
	}
}

// catalogSchema is the JSON Schema of one catalog file. The catalog is
// decoded by hand (internal/platform/catalog), so its keys are listed here;
// TestCatalogSchemaKeys keeps them in step with the loader's.
func catalogSchema() obj {
	str := func(desc string) obj { return obj{{"type", "string"}, {"description", desc}} }
	names := func(desc string) obj {
		return obj{{"type", "array"}, {"items", obj{{"type", "string"}, {"pattern", "^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$"}}}, {"uniqueItems", true}, {"description", desc}}
	}
	var rules []any
	for _, d := range driverSettings {
		if d.settings == nil {
			continue
		}
		rules = append(rules, obj{
			{"if", obj{{"properties", obj{{"driver", obj{{"const", d.driver}}}}}, {"required", []string{"driver"}}}},
			{"then", obj{{"properties", obj{{"settings", obj{{"properties", d.settings}, {"additionalProperties", d.open}}}}}}},
		})
	}
	binding := obj{
		{"type", "object"},
		{"properties", obj{
			{"driver", str("The provisioner driver: postgres, kubernetes, gitops, webhook, exec, or another registered one.")},
			{"environments", obj{{"type", "array"}, {"items", obj{{"type", "string"}}}, {"minItems", 1}, {"uniqueItems", true},
				{"description", "The environments this binding provisions; left out, every environment no other binding lists."}}},
			{"settings", obj{{"type", "object"}, {"description", "Driver settings for this service; each driver's are described by its if/then rule."}}},
		}},
		{"required", []string{"driver"}},
		{"additionalProperties", false},
		{"allOf", rules},
	}
	return obj{
		{"$schema", draft},
		{"title", "idpbot catalog entry"},
		{"description", "One service of the catalog: what can be provisioned, its form (parameters, a JSON Schema) and how it is built (provisioner). Generated by go generate ./cmd/bot; do not edit."},
		{"type", "object"},
		{"properties", obj{
			{"name", obj{{"type", "string"}, {"pattern", "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"}, {"description", "The service's slug, as typed after /idp create (a DNS-1123 label)."}}},
			{"title", obj{{"type", "string"}, {"maxLength", catalogload.MaxTitleLength}, {"description", "The form's title (a Slack modal title: at most 24 characters)."}}},
			{"description", str("What the service is, shown in /idp list and the form.")},
			{"type", str("The kind of service: compute, database, networking, platform…")},
			{"version", str("The version offered (quote numbers: \"15\").")},
			{"owner", str("The team that owns the service definition.")},
			{"tier", str("A support tier label.")},
			{"documentation", obj{{"type", "string"}, {"pattern", "^https?://[^/]+"}, {"description", "An http(s) link to the service's documentation."}}},
			{"dependencies", names("Services a team must have before requesting this one.")},
			{"parameters", obj{{"$ref", draft}, {"description", "A JSON Schema object: its properties become the form's fields (ui:order orders them; title and description become labels and hints; immutable: true on a property means an update may not change it)."}}},
			{"provisioner", obj{
				{"description", "How the service is built: one binding, or a list of them per environment."},
				{"oneOf", []any{
					obj{{"$ref", "#/$defs/binding"}},
					obj{{"type", "array"}, {"items", obj{{"$ref", "#/$defs/binding"}}}, {"minItems", 1}},
				}},
			}},
			{"outputs", names("The outputs the driver reports, shown in the request's thread.")},
			{"ttl", obj{{"$ref", "#/$defs/duration"}, {"description", "Resources of this service expire after this long unless extended."}}},
			{"approval", obj{{"type", "object"}, {"properties", obj{
				{"required", obj{{"type", "integer"}, {"minimum", 0}, {"maximum", 10}, {"description", "How many approvals a request needs, at least the environment's."}}},
			}}, {"additionalProperties", false}}},
		}},
		{"required", []string{"name", "title", "description", "type", "owner", "provisioner"}},
		{"additionalProperties", false},
		{"$defs", obj{{"binding", binding}, {"duration", durationDef}}},
	}
}
