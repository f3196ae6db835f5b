package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ronhost/ronhost/docs/schema"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/sdk-wasm/jsonschema"
)

// What the host guarantees about an input (docs/ABI.md, "What the host
// guarantees"). An input that breaks a guarantee is one the host never
// sends: a plugin must not fault or hang on it, but whether it answers
// status 0 or 1 is its own business, so the suite warns, never fails, on a
// status 0. The suite judges a plugin by the job ABI v1 gives it: its own
// table's semantics, exact money, determinism, no fault on any input, and
// the limits.

// The host's limits on a manifest (core/manifest's, restated here: the
// suite must not import the node).
const (
	hostManifestBytes = 256 << 10
	hostManifestDepth = 32
	hostManifestKeys  = 32768
)

// neverSent returns why the host never sends in to entry, or "" when it may.
func (s *suite) neverSent(entry plugins.Entry, in []byte) string {
	if len(in) == 0 {
		return "the input is empty"
	}
	if !utf8.Valid(in) {
		return "the input is not valid UTF-8"
	}
	v, err := decodeValue(in)
	if err != nil {
		return "the input is not one well-formed JSON value (" + err.Error() + ")"
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "the input is not a JSON object"
	}
	var want []string
	switch entry {
	case plugins.EntryValidate:
		want = []string{"context", "manifest"}
	case plugins.EntrySplit:
		want = []string{"amount", "epoch", "manifest", "usage"}
	case plugins.EntryResolve:
		want = []string{"manifest", "path", "payload_size"}
	default:
		return ""
	}
	for _, k := range want {
		if _, ok := obj[k]; !ok {
			return fmt.Sprintf("the input has no %q", k)
		}
	}
	if len(obj) != len(want) {
		return "the input has members the host never sends (it sends " + strings.Join(want, ", ") + ")"
	}
	man, ok := obj["manifest"].(map[string]any)
	if !ok {
		return "the manifest is not a JSON object"
	}
	if why := manifestNeverSent(obj["manifest"], in); why != "" {
		return why
	}
	if why := s.hostTablesNeverSent(man); why != "" {
		return why
	}
	if meta, _ := man["meta"].(map[string]any); meta == nil || meta["tld"] != s.p.Info().TLD {
		return fmt.Sprintf("meta.tld is not %q (the host calls the plugin of the manifest's TLD)", s.p.Info().TLD)
	}
	switch entry {
	case plugins.EntryValidate:
		if err := s.schemas.ValidateValue(schema.Context, obj["context"], nil); err != nil {
			return "the context breaks context.schema.json (" + firstProblem(err) + ")"
		}
		if ctx := obj["context"].(map[string]any); ctx["tld"] != s.p.Info().TLD {
			return fmt.Sprintf("context.tld is not the plugin's TLD %q", s.p.Info().TLD)
		}
	case plugins.EntrySplit:
		if _, ok := obj["epoch"].(string); !ok {
			return "epoch is not a string"
		}
		if !isMoney(obj["amount"]) {
			return "amount is not an integer from 0 to 2^53-1"
		}
		if why := usageNeverSent(obj["usage"]); why != "" {
			return why
		}
	case plugins.EntryResolve:
		if p, ok := obj["path"].(string); !ok || !strings.HasPrefix(p, "/") {
			return "path is not a string starting with /"
		}
		if !isUint(obj["payload_size"]) {
			return "payload_size is not an integer from 0 to 2^63-1"
		}
	}
	return ""
}

// manifestNeverSent checks the manifest's shape against the host's limits:
// at most hostManifestBytes as the host encodes it (the input holds it
// once, so the input's length bounds it from above), hostManifestDepth
// levels, hostManifestKeys keys, and no null (TOML has none).
func manifestNeverSent(man any, in []byte) string {
	if len(in) > hostManifestBytes+4096 {
		// A manifest in a bigger input may still be small; measure it.
		if b, err := json.Marshal(man); err == nil && len(b) > hostManifestBytes {
			return fmt.Sprintf("the manifest is larger than the host's %d KiB", hostManifestBytes>>10)
		}
	}
	keys := 0
	var walk func(v any, depth int) string
	walk = func(v any, depth int) string {
		if depth > hostManifestDepth {
			return fmt.Sprintf("the manifest is nested deeper than the host's %d levels", hostManifestDepth)
		}
		switch x := v.(type) {
		case nil:
			return "the manifest holds a null (TOML has none)"
		case map[string]any:
			if keys += len(x); keys > hostManifestKeys {
				return fmt.Sprintf("the manifest has more than the host's %d keys", hostManifestKeys)
			}
			for _, e := range x {
				if why := walk(e, depth+1); why != "" {
					return why
				}
			}
		case []any:
			for _, e := range x {
				if why := walk(e, depth+1); why != "" {
					return why
				}
			}
		case json.Number:
			if _, err := strconv.ParseFloat(string(x), 64); err != nil {
				return "the manifest holds a number out of TOML's range"
			}
		}
		return ""
	}
	return walk(man, 0)
}

// hostTablesNeverSent checks [meta] and [payload], where present, as the
// host does before any plugin sees them: against docs/schema's
// meta.schema.json and payload.schema.json, which a test holds to the
// host's own checks.
func (s *suite) hostTablesNeverSent(man map[string]any) string {
	for _, t := range []struct{ name, schema string }{{"meta", schema.Meta}, {"payload", schema.Payload}} {
		v, present := man[t.name]
		if !present {
			continue
		}
		if err := s.schemas.ValidateValue(t.schema, v, nil); err != nil {
			var se *jsonschema.Error
			if errors.As(err, &se) && len(se.Problems) > 0 {
				p := se.Problems[0]
				return fmt.Sprintf("[%s] breaks %s, which the host checks (%s%s: %s)", t.name, t.schema, t.name, strings.ReplaceAll(p.Path, "/", "."), p.Message)
			}
			return fmt.Sprintf("[%s] breaks %s: %v", t.name, t.schema, err)
		}
	}
	return ""
}

func usageNeverSent(v any) string {
	u, ok := v.(map[string]any)
	if !ok {
		return "usage is not a JSON object"
	}
	if !isUint(u["requests"]) || !isUint(u["bytes"]) {
		return "usage.requests or usage.bytes is not a non-negative integer"
	}
	servers, ok := u["servers"].([]any)
	if !ok {
		return "usage.servers is not an array (the host always sends one, possibly empty)"
	}
	for _, sv := range servers {
		m, ok := sv.(map[string]any)
		if !ok {
			return "a server in usage.servers is not an object"
		}
		if _, ok := m["node"].(string); !ok {
			return "a server's node is not a string"
		}
		if _, ok := m["payout"].(string); !ok {
			return "a server's payout is not a string"
		}
		if !isUint(m["requests"]) || !isUint(m["bytes"]) {
			return "a server's requests or bytes is not a non-negative integer"
		}
	}
	return ""
}

func isUint(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	_, err := strconv.ParseUint(string(n), 10, 63)
	return err == nil
}

func isMoney(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	return err == nil && u <= plugins.MaxMoney
}

// adviceNeverSent is the advice under a warning.
const adviceNeverSent = "the host never sends such input, so this is a warning, not a failure; " +
	"answering it with status 1 and an error keeps the plugin safe in any host and in native tests"

// firstProblem renders the first problem of a schema error.
func firstProblem(err error) string {
	var se *jsonschema.Error
	if errors.As(err, &se) && len(se.Problems) > 0 {
		return se.Problems[0].String()
	}
	return err.Error()
}
