package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ronhost/ronhost/internal/plugins"
)

// The values of validate.dates: one of each TOML date-time kind in the
// host's text, and a user's object that looks like a tag.
var conformanceDates = map[string]any{
	"datetime":       "1979-05-27T07:32:00Z",
	"datetime_local": "1979-05-27T07:32:00.5",
	"date":           "1979-05-27",
	"time":           "07:32:00",
	"list":           []any{"1979-05-27T00:32:00.999-07:00", "00:32:00.999999", "plain"},
	"forged":         map[string]any{"$date": "1979-05-27"},
	"$date":          "not a date",
}

// checkDates validates the normalized first example with each date kind,
// sent as a node sends it (tagged for a plugin that declared "dates",
// strings for a v1 one): in [meta] created and updated, which every plugin
// must take, and under a key of its own, which a plugin may refuse. A fault
// fails, and so does a declaring plugin's normalized manifest with a
// malformed tag or an unescaped "$" key (the host refuses it); rejecting the
// host's [meta] warns.
func (s *suite) checkDates(ctx context.Context) outcome {
	if len(s.examples) == 0 {
		return skipf("no example was accepted (see describe.examples)")
	}
	ex := s.examples[0]
	declares := s.p.Info().HasFeature(plugins.FeatureDates)
	base := ex.normalized
	form := "as strings (ABI v1: the plugin does not declare \"dates\")"
	if declares {
		form = "tagged (the plugin declares \"dates\")"
		host, err := plugins.UntagDates(base)
		if err != nil {
			return failf("the normalized examples[0] holds a malformed tag, which the host refuses: %v\n  M2: %s", err, show(base))
		}
		base = host
	}
	v, err := decodeValue(base)
	doc, _ := v.(map[string]any)
	if err != nil || doc == nil {
		return failf("the normalized examples[0] is not a JSON object: %v", err)
	}
	if _, ok := doc["meta"].(map[string]any); !ok {
		return skipf("the normalized examples[0] has no [meta] table")
	}
	withMeta := clone(doc)
	m := withMeta["meta"].(map[string]any)
	m["created"], m["updated"] = "1979-05-27T07:32:00Z", "1979-05-27T00:32:00.999-07:00"
	withKey := clone(doc)
	withKey["conformance_dates"] = conformanceDates

	var warn string
	for _, c := range []struct {
		label  string
		doc    map[string]any
		isMeta bool
	}{
		{"examples[0] with [meta] created and updated", withMeta, true},
		{"examples[0] with every date kind under conformance_dates", withKey, false},
	} {
		man, err := json.Marshal(c.doc)
		if err == nil && declares {
			man, err = plugins.TagDates(man)
		}
		if err != nil {
			return failf("%s: %v", c.label, err)
		}
		in, err := s.validateInput(man, ex.size)
		if err != nil {
			return failf("%s: %v", c.label, err)
		}
		pr := probe{entry: plugins.EntryValidate, label: c.label + ", dates " + form, input: in}
		res, err := s.call(ctx, pr, false)
		if errors.Is(err, errSkipProbe) {
			continue
		}
		if err != nil {
			return failf("%s: %s%s", pr.label, faultText(err), inOnly(pr))
		}
		switch res.Status {
		case 1:
			if err := checkRejection(res.Output); err != nil {
				return failf("%s: %v%s", pr.label, err, inOut(pr, res))
			}
			if c.isMeta {
				warn = fmt.Sprintf("warning: ron_validate rejected %s: the host checked [meta], so a plugin should take any valid created and updated%s", pr.label, inOut(pr, res))
			}
		case 0:
			norm, err := checkValidated(res.Output)
			if err != nil {
				return failf("%s: %v%s", pr.label, err, inOut(pr, res))
			}
			if declares {
				if _, err := plugins.UntagDates(norm); err != nil {
					return failf("%s: the normalized manifest is refused by the host: %v (hand tags back exactly as they came, and a user's \"$x\" key as \"$$x\")%s", pr.label, err, inOut(pr, res))
				}
			}
		}
	}
	if warn != "" {
		return outcome{status: Warn, msg: warn}
	}
	return passf("every date kind, %s, in [meta] and in a key of the plugin's: no fault", form)
}

// clone copies a decoded JSON object one level deep, and its [meta].
func clone(doc map[string]any) map[string]any {
	out := make(map[string]any, len(doc)+1)
	for k, v := range doc {
		out[k] = v
	}
	if m, ok := doc["meta"].(map[string]any); ok {
		mc := make(map[string]any, len(m)+2)
		for k, v := range m {
			mc[k] = v
		}
		out["meta"] = mc
	}
	return out
}
