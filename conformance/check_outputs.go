package conformance

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ronhost/ronhost/docs/schema"
	"github.com/ronhost/ronhost/sdk-wasm/jsonschema"
)

// checkOutputSchemas checks every answer of the run against the ABI's JSON
// Schemas (docs/schema): a status-0 output against ENTRY.output.schema.json,
// a status-1 output against errors.schema.json (calls made through the
// host's typed API, which keeps no output, aside). It lists each distinct
// problem once, with the first input that showed it.
func (s *suite) checkOutputSchemas(_ context.Context) outcome {
	type seen struct {
		label string
		n     int
	}
	problems := map[string]*seen{}
	checked := 0
	for _, c := range s.calls {
		if c.fault != nil || c.wall || c.res.Status != 0 && c.res.Status != 1 {
			continue
		}
		name := schema.Errors
		if c.res.Status == 0 {
			name = schema.Output(strings.TrimPrefix(string(c.entry), "ron_"))
		}
		checked++
		err := s.schemas.Validate(name, c.res.Output)
		if err == nil {
			continue
		}
		var se *jsonschema.Error
		var msgs []string
		if errors.As(err, &se) {
			for _, p := range se.Problems {
				msgs = append(msgs, p.String())
			}
		} else {
			return failf("%v", err) // the suite's own schemas are broken
		}
		for _, m := range msgs {
			key := fmt.Sprintf("%s, status %d, %s: %s", c.entry, c.res.Status, name, m)
			if p, ok := problems[key]; ok {
				p.n++
				continue
			}
			problems[key] = &seen{label: c.label, n: 1}
		}
	}
	if len(problems) == 0 {
		return passf("%d outputs match docs/schema", checked)
	}
	keys := make([]string, 0, len(problems))
	for k := range problems {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems in outputs against the ABI's JSON Schemas (docs/schema):", len(keys))
	for _, k := range keys {
		fmt.Fprintf(&b, "\n- %s (%d outputs, first on input: %s)", k, problems[k].n, problems[k].label)
	}
	return failf("%s", b.String())
}
