package bus

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nkeys"
)

// Role credentials.
//
// The operator keeps one secret (SecretSize random bytes). The credentials
// of the processes that run a set of roles are an nkey derived from it:
// RoleKey(secret, roles), the seed of an ed25519 key pair. A process holds
// only its own role key, never the secret, so it cannot derive another
// set's. It connects as the user named by its role set (RoleSet, e.g.
// "index,plugins") and proves it holds the key by signing the server's
// nonce (NATS nkey authentication: the key never crosses the wire).
//
// An embedded server given the secret (Options.Secret) derives the public
// key of the set a client names and grants it Contract.Permissions for
// that set. An existing NATS deployment is given the public keys and
// permissions as a nats-server authorization block (NATSAuthorization).

// SecretSize is the size of the operator's bus secret, and of a role key.
const SecretSize = 32

// RoleSet is the canonical name of a set of roles: the roles sorted and
// joined by ",". It is the user name of a role-key connection.
func RoleSet(roles []string) (string, error) {
	if len(roles) == 0 {
		return "", fmt.Errorf("%w: no roles", ErrBadToken)
	}
	s := slices.Clone(roles)
	slices.Sort(s)
	for i, r := range s {
		if err := checkToken("role", r); err != nil {
			return "", err
		}
		if i > 0 && s[i-1] == r {
			return "", fmt.Errorf("%w: role %q twice", ErrBadToken, r)
		}
	}
	return strings.Join(s, ","), nil
}

// RoleKey derives the role key (an nkey seed, SecretSize bytes) of the
// processes running roles from the operator's secret:
// HMAC-SHA256(secret, "ronhost bus role key v1\n" + RoleSet(roles)).
func RoleKey(secret []byte, roles []string) ([]byte, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("%w: the bus secret must be %d bytes, not %d", ErrConfig, SecretSize, len(secret))
	}
	set, err := RoleSet(roles)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("ronhost bus role key v1\n" + set))
	return m.Sum(nil), nil
}

// rolePair is the nkey pair of a role key.
func rolePair(key []byte) (nkeys.KeyPair, error) {
	if len(key) != SecretSize {
		return nil, fmt.Errorf("%w: a role key must be %d bytes, not %d", ErrConfig, SecretSize, len(key))
	}
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, key)
	if err != nil {
		return nil, fmt.Errorf("%w: role key: %v", ErrConfig, err)
	}
	return kp, nil
}

// RolePublicKey is the nkey public key ("U...") of a role key: what the
// servers know of it.
func RolePublicKey(key []byte) (string, error) {
	kp, err := rolePair(key)
	if err != nil {
		return "", err
	}
	return kp.PublicKey()
}

// roleInbox is the inbox prefix of the connections of a role key: replies
// to them come under it, and only they may subscribe to it.
func roleInbox(pub string) string { return "_INBOX." + pub }

// NATSAuthorization renders, for an existing NATS deployment, the
// nats-server authorization block that admits the role keys of each role
// set in sets (derived from secret) with their permissions. Add the
// operator's own user to its users to watch the bus with the nats CLI.
func (c Contract) NATSAuthorization(secret []byte, sets [][]string) (string, error) {
	var b strings.Builder
	b.WriteString("# ronhost bus role credentials (ronhost bus nats-conf); each user is the nkey of\n")
	b.WriteString("# the role key of one role set (ronhost bus creds). Include this in nats-server.conf.\n")
	b.WriteString("authorization {\n  users = [\n")
	seen := map[string]bool{}
	for _, roles := range sets {
		set, err := RoleSet(roles)
		if err != nil {
			return "", err
		}
		if seen[set] {
			continue
		}
		seen[set] = true
		key, err := RoleKey(secret, roles)
		if err != nil {
			return "", err
		}
		pub, err := RolePublicKey(key)
		if err != nil {
			return "", err
		}
		p, err := c.Permissions(roles, roleInbox(pub))
		if err != nil {
			return "", err
		}
		quote := func(list []string) string {
			q := make([]string, len(list))
			for i, s := range list {
				q[i] = fmt.Sprintf("%q", s)
			}
			return "[" + strings.Join(q, ", ") + "]"
		}
		fmt.Fprintf(&b, "    # roles: %s\n", set)
		fmt.Fprintf(&b, "    {nkey: %q, permissions: {publish: {allow: %s}, subscribe: {allow: %s}, allow_responses: {max: 1, expires: %q}}}\n",
			pub, quote(p.Publish), quote(p.Subscribe), responseWindow.String())
	}
	b.WriteString("  ]\n}\n")
	return b.String(), nil
}
