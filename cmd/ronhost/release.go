package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/release"
	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

// releaseDir accepts a release directory or the path of its SHA256SUMS.
func releaseDir(p string) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return p, nil
	}
	if filepath.Base(p) != release.SumsFile {
		return "", usageError("%s is neither a release directory nor its %s", p, release.SumsFile)
	}
	return filepath.Dir(p), nil
}

func verifyReleaseCommand() *command {
	c := &command{name: "verify-release", args: "[--key ed25519:HEX]... DIR|DIR/SHA256SUMS [FILE...]",
		summary: "check a release's signed SHA256SUMS, then its files (the named ones, or every one present)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "verify-release")
		var keys []string
		fs.Func("key", "a release key to trust, ed25519:<64 hex> (repeatable; default: the keys this binary carries)", func(s string) error {
			if _, ok := ronsig.ParseKey(s); !ok {
				return fmt.Errorf("%q is not a key (want ed25519:<64 lowercase hex>)", s)
			}
			keys = append(keys, s)
			return nil
		})
		pos, err := parse(fs, args, 1, -1)
		if err != nil {
			return err
		}
		dir, err := releaseDir(pos[0])
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			keys = release.Keys()
		}
		if len(keys) == 0 {
			return fmt.Errorf("%w: this binary carries no release key; pass the one published with the release as --key ed25519:<hex> (docs/OPERATING.md)", release.ErrNoKey)
		}
		rep, err := release.Verify(dir, keys, pos[1:])
		if err != nil {
			return err
		}
		return a.emit(rep, func(w io.Writer) {
			fmt.Fprintf(w, "%s: signed by %s\n", release.SumsFile, rep.Publisher)
			for _, n := range rep.Verified {
				fmt.Fprintf(w, "OK      %s\n", n)
			}
			for _, n := range rep.Absent {
				fmt.Fprintf(w, "absent  %s\n", n)
			}
		})
	}
	return c
}

func signReleaseCommand() *command {
	c := &command{name: "sign-release", args: "--key KEYFILE DIR|DIR/SHA256SUMS",
		summary: "sign a release's SHA256SUMS with a release key (writes SHA256SUMS.sig beside it)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "sign-release")
		keyPath := fs.String("key", "", "the release key file (made by 'ronhost plugin keygen'; keep it offline)")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		if *keyPath == "" {
			return usageError("sign-release: --key is required")
		}
		dir, err := releaseDir(pos[0])
		if err != nil {
			return err
		}
		kb, err := os.ReadFile(*keyPath)
		if err != nil {
			return err
		}
		key, err := plugins.ParsePrivateKey(kb)
		if err != nil {
			return err
		}
		sums, err := os.ReadFile(filepath.Join(dir, release.SumsFile))
		if err != nil {
			return err
		}
		if _, err := release.ParseSums(sums); err != nil {
			return err
		}
		sig := release.Sign(ed25519.PrivateKey(key), sums)
		out := filepath.Join(dir, release.SigFile)
		if err := os.WriteFile(out, sig.Marshal(), 0o644); err != nil {
			return err
		}
		return a.emit(map[string]string{"signature": out, "publisher": sig.Publisher, "sums": sig.Sums}, func(w io.Writer) {
			fmt.Fprintf(w, "signed %s (%d files)\npublisher %s\nwrote     %s\n", release.SumsFile, strings.Count(string(sums), "\n"), sig.Publisher, out)
		})
	}
	return c
}
