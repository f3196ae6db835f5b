package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/internal/secretfile"
)

// busCommand: the bus's role credentials (docs/BUS.md, Permissions).
func busCommand() *command {
	creds := &command{name: "creds", args: "--secret FILE --roles R,.. [--out FILE]",
		summary: "write the role key of the processes that run ROLES, derived from the operator's bus secret (created on first use); both files 0600"}
	creds.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(creds, "bus creds")
		secretPath := fs.String("secret", "", "the operator's bus secret: give it to the embedded servers (bus.secret_file) and to no one else; created if missing")
		roles := fs.String("roles", "", "the roles of the processes that will present the key, comma-separated (their node.roles)")
		out := fs.String("out", "", "the role key file to write, for bus.role_key (default: ROLES joined by '+', .key, beside the secret)")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		if *secretPath == "" || *roles == "" {
			return usageError("bus creds: --secret and --roles are required")
		}
		list, err := busRoles(*roles)
		if err != nil {
			return err
		}
		secret, created, err := loadOrCreateSecret(*secretPath)
		if err != nil {
			return err
		}
		key, err := bus.RoleKey(secret, list)
		if err != nil {
			return err
		}
		pub, err := bus.RolePublicKey(key)
		if err != nil {
			return err
		}
		set, _ := bus.RoleSet(list)
		path := *out
		if path == "" {
			path = filepath.Join(filepath.Dir(*secretPath), strings.ReplaceAll(set, ",", "+")+".key")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("bus creds: %w", err)
		}
		got, err := secretfile.LoadOrCreate(path, bus.SecretSize, func() ([]byte, error) { return key, nil })
		if err != nil {
			return fmt.Errorf("bus creds: %w", err)
		}
		if !bytes.Equal(got, key) {
			return fmt.Errorf("bus creds: %s holds another key (of other roles, or of another secret): remove it or choose --out", path)
		}
		return a.emit(map[string]any{"roles": set, "public_key": pub, "role_key": path, "secret": *secretPath, "secret_created": created},
			func(w io.Writer) {
				if created {
					fmt.Fprintf(w, "created the bus secret %s (0600): give it to the embedded NATS servers only (bus.secret_file)\n", *secretPath)
				}
				fmt.Fprintf(w, "role key of %s: %s (0600), public key %s\nset bus.role_key = %q in the config of the processes that run %s\n",
					set, path, pub, path, set)
			})
	}

	conf := &command{name: "nats-conf", args: "--secret FILE [--out FILE] ROLES...",
		summary: "write the nats-server authorization block that admits the role keys of each ROLES set (e.g. store,dht index gateway) on an existing NATS deployment"}
	conf.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(conf, "bus nats-conf")
		secretPath := fs.String("secret", "", "the operator's bus secret (ronhost bus creds made it)")
		out := fs.String("out", "", "write the block to this file (default: standard output)")
		sets, err := parse(fs, args, 1, -1)
		if err != nil {
			return err
		}
		if *secretPath == "" {
			return usageError("bus nats-conf: --secret is required")
		}
		secret, err := secretfile.Load(*secretPath, bus.SecretSize)
		if err != nil {
			return fmt.Errorf("bus nats-conf: %w", err)
		}
		var lists [][]string
		for _, s := range sets {
			list, err := busRoles(s)
			if err != nil {
				return err
			}
			lists = append(lists, list)
		}
		text, err := node.BusContract().NATSAuthorization(secret, lists)
		if err != nil {
			return err
		}
		if *out == "" {
			_, err = io.WriteString(a.stdout, text)
			return err
		}
		return os.WriteFile(*out, []byte(text), 0o644) // public keys and permissions only
	}

	return &command{name: "bus", summary: "role credentials for the NATS bus: role keys, nats-server authorization",
		sub: []*command{creds, conf}}
}

// busRoles parses a comma-separated role set.
func busRoles(s string) ([]string, error) {
	list := strings.Split(s, ",")
	if err := config.CheckRoles(list); err != nil {
		return nil, usageError("%v", err)
	}
	return list, nil
}

// loadOrCreateSecret reads the bus secret at path, making it the first time.
func loadOrCreateSecret(path string) ([]byte, bool, error) {
	_, err := os.Stat(path)
	created := errors.Is(err, fs.ErrNotExist)
	if created {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("bus creds: %w", err)
		}
	}
	secret, err := secretfile.LoadOrCreate(path, bus.SecretSize, func() ([]byte, error) {
		b := make([]byte, bus.SecretSize)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("bus creds: %w", err)
	}
	return secret, created, nil
}
