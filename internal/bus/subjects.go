package bus

import (
	"fmt"
	"strings"
)

// The roles of a node, each a service on the bus (docs/BUS.md).
const (
	RoleStore   = "store"
	RoleIndex   = "index"
	RolePlugins = "plugins"
	RoleLedger  = "ledger"
)

// Subject prefixes.
const (
	subjectPrefix = "ron."
	eventPrefix   = "ron.evt."
)

// Subject is the request subject of a role's verb: ron.<role>.<verb>.
func Subject(role, verb string) (string, error) {
	if err := checkToken("role", role); err != nil {
		return "", err
	}
	if err := checkToken("verb", verb); err != nil {
		return "", err
	}
	return subjectPrefix + role + "." + verb, nil
}

// EventSubject is the subject of an event kind: ron.evt.<kind>. A kind is one
// or more dot-separated tokens (e.g. "object.stored"); no wildcards.
func EventSubject(kind string) (string, error) {
	if err := checkKind(kind, false); err != nil {
		return "", err
	}
	return eventPrefix + kind, nil
}

// eventFilter is EventSubject allowing the wildcards "*" (one token) and
// ">" (the rest, last token only).
func eventFilter(kind string) (string, error) {
	if err := checkKind(kind, true); err != nil {
		return "", err
	}
	return eventPrefix + kind, nil
}

// queueGroup is the queue group of a role's instances.
func queueGroup(role string) string { return "ron." + role }

// serviceName is the micro service name of a role.
func serviceName(role string) string { return "ron-" + role }

// checkToken accepts one subject token of ASCII letters, digits, '_' and '-'.
func checkToken(what, tok string) error {
	if tok == "" {
		return fmt.Errorf("%w: empty %s", ErrBadToken, what)
	}
	if len(tok) > 64 {
		return fmt.Errorf("%w: %s %.20q... is over 64 bytes", ErrBadToken, what, tok)
	}
	for i := 0; i < len(tok); i++ {
		if !tokenByte(tok[i]) {
			return fmt.Errorf("%w: %s %q: %q is not allowed (letters, digits, '_' and '-' only)", ErrBadToken, what, tok, tok[i])
		}
	}
	return nil
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func checkKind(kind string, wildcards bool) error {
	if kind == "" {
		return fmt.Errorf("%w: empty event kind", ErrBadToken)
	}
	toks := strings.Split(kind, ".")
	for i, t := range toks {
		if wildcards && (t == "*" || t == ">" && i == len(toks)-1) {
			continue
		}
		if err := checkToken("event kind "+fmt.Sprintf("%q", kind)+" token", t); err != nil {
			if !wildcards && (t == "*" || t == ">") {
				return fmt.Errorf("%w: event kind %q: no wildcards here", ErrBadToken, kind)
			}
			return err
		}
	}
	return nil
}
