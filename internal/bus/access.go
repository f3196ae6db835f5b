package bus

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrForbidden is wrapped by the errors of a Bus asked to do what its
// roles may not (Options.Contract): serve another role's verbs, call a verb
// its roles do not call, emit an event its roles do not emit.
var ErrForbidden = errors.New("bus: not allowed to this process's roles")

// RoleAccess is one role's part of the bus contract: what a process
// running it may do on the bus. Every permission is derived from this one
// list (Contract.Permissions), so a process can serve only its roles'
// verbs, call only the verbs its roles call, and emit only their events.
type RoleAccess struct {
	Role   string
	Serves []string // its verbs, requested on ron.<Role>.<verb>
	Calls  []string // the verbs it requests, as "role.verb"
	Emits  []string // the event kinds it publishes on ron.evt.<kind>
}

// Contract is every role of the bus, and what each may do.
type Contract []RoleAccess

// Check validates the contract: known tokens, no role twice, every call
// naming a verb some role serves.
func (c Contract) Check() error {
	served := map[string]bool{}
	seen := map[string]bool{}
	for _, r := range c {
		if err := checkToken("role", r.Role); err != nil {
			return fmt.Errorf("bus: contract: %w", err)
		}
		if seen[r.Role] {
			return fmt.Errorf("bus: contract: role %q twice", r.Role)
		}
		seen[r.Role] = true
		for _, v := range r.Serves {
			if _, err := Subject(r.Role, v); err != nil {
				return fmt.Errorf("bus: contract: %w", err)
			}
			served[r.Role+"."+v] = true
		}
	}
	for _, r := range c {
		for _, call := range r.Calls {
			if !served[call] {
				return fmt.Errorf("bus: contract: %s calls %q, which no role serves", r.Role, call)
			}
		}
		for _, k := range r.Emits {
			if err := checkKind(k, false); err != nil {
				return fmt.Errorf("bus: contract: %s emits %q: %w", r.Role, k, err)
			}
		}
	}
	return nil
}

// Roles lists the contract's roles in its order.
func (c Contract) Roles() []string {
	out := make([]string, len(c))
	for i, r := range c {
		out[i] = r.Role
	}
	return out
}

func (c Contract) find(role string) (RoleAccess, bool) {
	for _, r := range c {
		if r.Role == role {
			return r, true
		}
	}
	return RoleAccess{}, false
}

// Permissions is what one connection may do on the bus: the subjects it
// may publish to and subscribe to. Replies need no publish permission: a
// connection may answer each request delivered to it once, within
// responseWindow (NATS's allow_responses).
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// responseWindow bounds how long after a request its responder may reply
// (a handler runs under the bus's RequestTimeout, far less).
const responseWindow = 10 * time.Minute

// Permissions returns the permissions of a connection running roles whose
// replies come to subjects under inbox (nats.go's inbox prefix):
//   - publish: ron.<role>.<verb> and its cancels ron.<role>.<verb>.cancel
//     for every verb the roles serve (another instance of a role is as
//     trusted as this one) or call, and ron.evt.<kind> for every event they
//     emit;
//   - subscribe: ron.<role>.<verb> for every verb they serve and
//     ron.<role>.*.cancel for each role serving verbs, the service
//     discovery subjects of their services ($SRV.PING|INFO|STATS, and those
//     followed by ron-<role>), and inbox.>.
//
// Nothing else: not the events (only the operator watches them), not
// another role's verbs, not another connection's inbox.
func (c Contract) Permissions(roles []string, inbox string) (Permissions, error) {
	if err := c.Check(); err != nil {
		return Permissions{}, err
	}
	if _, err := RoleSet(roles); err != nil {
		return Permissions{}, err
	}
	if inbox == "" || strings.ContainsAny(inbox, "*> \t") || strings.HasSuffix(inbox, ".") {
		return Permissions{}, fmt.Errorf("%w: inbox prefix %q", ErrBadToken, inbox)
	}
	p := Permissions{Publish: []string{}, Subscribe: []string{}}
	add := func(list *[]string, s string) {
		if !slices.Contains(*list, s) {
			*list = append(*list, s)
		}
	}
	serves := false
	for _, name := range roles {
		r, ok := c.find(name)
		if !ok {
			return Permissions{}, fmt.Errorf("bus: no role %q in the contract (roles: %s)", name, strings.Join(c.Roles(), ", "))
		}
		for _, v := range r.Serves {
			add(&p.Publish, subjectPrefix+r.Role+"."+v)
			add(&p.Publish, subjectPrefix+r.Role+"."+v+cancelSuffix)
		}
		for _, call := range r.Calls {
			add(&p.Publish, subjectPrefix+call)
			add(&p.Publish, subjectPrefix+call+cancelSuffix)
		}
		for _, k := range r.Emits {
			add(&p.Publish, eventPrefix+k)
		}
		for _, v := range r.Serves {
			add(&p.Subscribe, subjectPrefix+r.Role+"."+v)
		}
		if len(r.Serves) > 0 {
			serves = true
			add(&p.Subscribe, subjectPrefix+r.Role+".*"+cancelSuffix)
			add(&p.Subscribe, "$SRV.*."+serviceName(r.Role))
			add(&p.Subscribe, "$SRV.*."+serviceName(r.Role)+".*")
		}
	}
	if serves {
		for _, v := range []string{"PING", "INFO", "STATS"} {
			add(&p.Subscribe, "$SRV."+v)
		}
	}
	add(&p.Subscribe, inbox+".>")
	return p, nil
}

// server is p as nats-server's permissions.
func (p Permissions) server() *server.Permissions {
	// A nil Allow would allow everything: an empty one allows nothing.
	pub := append([]string{}, p.Publish...)
	sub := append([]string{}, p.Subscribe...)
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
		Response:  &server.ResponsePermission{MaxMsgs: 1, Expires: responseWindow},
	}
}

// grants is what a Bus checks before it sends: the same rules the server
// enforces, so that a process learns at once (ErrForbidden) what the
// server would refuse in silence.
type grants struct {
	roles  string          // the role set, for messages
	serves map[string]bool // "role.verb"
	calls  map[string]bool // "role.verb"
	emits  map[string]bool // event kinds
}

func newGrants(c Contract, roles []string) (*grants, error) {
	set, err := RoleSet(roles)
	if err != nil {
		return nil, err
	}
	g := &grants{roles: set, serves: map[string]bool{}, calls: map[string]bool{}, emits: map[string]bool{}}
	for _, name := range roles {
		r, ok := c.find(name)
		if !ok {
			return nil, fmt.Errorf("%w: no role %q in the contract (roles: %s)", ErrConfig, name, strings.Join(c.Roles(), ", "))
		}
		for _, v := range r.Serves {
			g.serves[r.Role+"."+v] = true
			g.calls[r.Role+"."+v] = true
		}
		for _, call := range r.Calls {
			g.calls[call] = true
		}
		for _, k := range r.Emits {
			g.emits[k] = true
		}
	}
	return g, nil
}

func (g *grants) mayServe(role, verb string) error {
	if g == nil || g.serves[role+"."+verb] {
		return nil
	}
	return fmt.Errorf("%w: ron.%s.%s is not a verb of this process's roles (%s)", ErrForbidden, role, verb, g.roles)
}

func (g *grants) mayCall(role, verb string) error {
	if g == nil || g.calls[role+"."+verb] {
		return nil
	}
	return fmt.Errorf("%w: the roles %s neither serve nor call ron.%s.%s (docs/BUS.md, Permissions)", ErrForbidden, g.roles, role, verb)
}

func (g *grants) mayEmit(kind string) error {
	if g == nil || g.emits[kind] {
		return nil
	}
	return fmt.Errorf("%w: the roles %s do not emit %s events", ErrForbidden, g.roles, kind)
}
