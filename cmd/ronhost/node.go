package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/names"
	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/internal/core/token"
)

// Commands that configure a node or talk to a running one.
func nodeCommands() []*command {
	return []*command{configCommand(), tokenCommand(), nameCommand(), payoutsCommand(), publishCommand(), mailboxCommand(), overlayCommand()}
}

func configCommand() *command {
	initc := &command{name: "init", args: "[--force] [--public [--announce ADDR,..]]",
		summary: "write DATA/config.toml (or --config FILE) with every default, commented; --public: a node on the internet (overlay on every interface, port 4470, relaying for nodes behind NATs)"}
	initc.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(initc, "config init")
		force := fs.Bool("force", false, "overwrite an existing file")
		public := fs.Bool("public", false, "the profile of a node on the internet: the overlay listens on every interface on port 4470 (TCP and QUIC) and relays; the API stays on loopback")
		announce := fs.String("announce", "", "with --public: this node's public addresses (IP, DNS name or multiaddr, comma-separated) to announce")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		if *announce != "" && !*public {
			return usageError("--announce goes with --public")
		}
		conf := config.Default()
		if *public {
			var err error
			if conf, err = config.Public(strings.Split(*announce, ",")); err != nil {
				return err
			}
		}
		dir, err := a.data()
		if err != nil {
			return err
		}
		path, err := a.configPath(dir)
		if err != nil {
			return err
		}
		if _, err := os.Stat(path); err == nil && !*force {
			return fmt.Errorf("%s exists; pass --force to overwrite it with the defaults", path)
		}
		b, err := conf.Marshal()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
		return a.emit(map[string]string{"path": path}, func(w io.Writer) { fmt.Fprintf(w, "wrote %s\n", path) })
	}
	show := &command{name: "show", summary: "print the configuration in effect: the file, then RON_* variables"}
	show.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(show, "config show")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		dir, err := a.data()
		if err != nil {
			return err
		}
		c, err := a.config(dir)
		if err != nil {
			return err
		}
		if a.jsonOut {
			return a.emit(c, nil)
		}
		b, err := c.Marshal()
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(b)
		return err
	}
	return &command{name: "config", summary: "write or show the node's configuration", sub: []*command{initc, show}}
}

func tokenCommand() *command {
	mint := &command{name: "mint", args: "[--expires D] [--methods M,..] [--path P] [--max-bytes N]",
		summary: "mint a capability token with the node's root key (DATA/keys/token.key)"}
	mint.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(mint, "token mint")
		expires := fs.Duration("expires", 0, "valid for this long (e.g. 24h); 0 means no expiry")
		methods := fs.String("methods", "", "allowed HTTP methods, comma-separated (e.g. GET,POST)")
		path := fs.String("path", "", "allowed path prefix (e.g. /v1/publish)")
		maxBytes := fs.String("max-bytes", "", "largest request body (e.g. 10MiB)")
		from := fs.String("from", "", "attenuate this token instead of minting from the root key")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		var cavs []token.Caveat
		if *expires > 0 {
			cavs = append(cavs, token.Expires(time.Now().Add(*expires)))
		}
		if *methods != "" {
			cavs = append(cavs, token.Methods(strings.Split(strings.ToUpper(*methods), ",")...))
		}
		if *path != "" {
			cavs = append(cavs, token.PathPrefix(*path))
		}
		if *maxBytes != "" {
			n, err := config.ParseSize(*maxBytes)
			if err != nil {
				return usageError("--max-bytes: %v", err)
			}
			cavs = append(cavs, token.MaxBytes(int64(n)))
		}
		var t token.Token
		if *from != "" {
			parent, err := token.Parse(*from)
			if err != nil {
				return err
			}
			t = parent.Attenuate(cavs...)
		} else {
			dir, err := a.data()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
				return err
			}
			k, err := token.LoadOrCreateKey(filepath.Join(dir, "keys", "token.key"))
			if err != nil {
				return err
			}
			if t, err = token.Mint(k, cavs...); err != nil {
				return err
			}
		}
		return a.emit(map[string]string{"token": t.String(), "id": t.ID()}, func(w io.Writer) { fmt.Fprintln(w, t.String()) })
	}
	revoke := &command{name: "revoke", args: "TOKEN|ID",
		summary: "revoke a token and every token attenuated from it (DATA/keys/revoked; a running node refuses it at its next request)"}
	revoke.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(revoke, "token revoke")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		var id [16]byte
		var until time.Time // a bare id: revoked for good
		if strings.HasPrefix(pos[0], token.Prefix) {
			t, err := token.Parse(pos[0])
			if err != nil {
				return usageError("%v", err)
			}
			id = t.IDBytes()
			until, _ = t.Expiry() // past its expiry the token is refused anyway
		} else if id, err = token.ParseID(pos[0]); err != nil {
			return usageError("%q is neither a token (%s...) nor a token id (ronhost token mint --json prints it): %v", pos[0], token.Prefix, err)
		}
		dir, err := a.data()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
			return err
		}
		if err := token.NewRevocations(filepath.Join(dir, node.RevokedFile)).Revoke(id, until); err != nil {
			return err
		}
		hexID := hex.EncodeToString(id[:])
		return a.emit(map[string]string{"revoked": hexID}, func(w io.Writer) { fmt.Fprintf(w, "revoked %s\n", hexID) })
	}
	return &command{name: "token", summary: "capability tokens for the node's API", sub: []*command{mint, revoke}}
}

func nameCommand() *command {
	set := &command{name: "set", args: "LABEL ADDRESS [--seq N] [--expires D]",
		summary: "sign a name record LABEL.<your key> -> ADDRESS (key in DATA/keys/names.key) and publish it on the node"}
	set.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(set, "name set")
		seq := fs.Uint64("seq", 0, "sequence number; 0 means one more than the node's current record")
		expires := fs.Duration("expires", 0, "the record expires after this long; 0 means never")
		tok := fs.String("token", "", "capability token (default: the node's operator token)")
		pos, err := parse(fs, args, 2, 2)
		if err != nil {
			return err
		}
		dir, err := a.data()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
			return err
		}
		priv, err := names.LoadOrCreateKey(filepath.Join(dir, "keys", "names.key"))
		if err != nil {
			return err
		}
		c, err := a.client(*tok)
		if err != nil {
			return err
		}
		name := names.NameFor(priv.Public().(ed25519.PublicKey), pos[0])
		if *seq == 0 {
			var cur names.Record
			err := c.do(ctx, http.MethodGet, "/resolve/"+name, "", nil, &cur)
			var be *bus.Error
			switch {
			case err == nil:
				*seq = cur.Seq + 1
			case errors.As(err, &be) && be.Code == codes.NotFound:
				*seq = 1
			default:
				return err
			}
		}
		var exp int64
		if *expires > 0 {
			exp = time.Now().Add(*expires).Unix()
		}
		rec, err := names.Sign(priv, pos[0], pos[1], *seq, exp)
		if err != nil {
			return err
		}
		if err := c.postJSON(ctx, "/v1/names", rec, nil); err != nil {
			return err
		}
		return a.emit(rec, func(w io.Writer) { fmt.Fprintf(w, "%s -> %s (seq %d)\n", rec.Name, rec.Address, rec.Seq) })
	}
	get := &command{name: "get", args: "NAME", summary: "resolve a name through the node"}
	get.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(get, "name get")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		c, err := a.client("")
		if err != nil {
			return err
		}
		var rec names.Record
		if err := c.do(ctx, http.MethodGet, "/resolve/"+pos[0], "", nil, &rec); err != nil {
			return err
		}
		return a.emit(rec, func(w io.Writer) { fmt.Fprintf(w, "%s\n", rec.Address) })
	}
	return &command{name: "name", summary: "signed names that point at addresses", sub: []*command{set, get}}
}

func payoutsCommand() *command {
	c := &command{name: "payouts", args: "[settle]", summary: "show payout balances and epochs, or settle: seal the epoch and pay it through the TLD plugins"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "payouts")
		tok := fs.String("token", "", "capability token (default: the node's operator token)")
		pos, err := parse(fs, args, 0, 1)
		if err != nil {
			return err
		}
		cl, err := a.client(*tok)
		if err != nil {
			return err
		}
		if len(pos) == 1 {
			if pos[0] != "settle" {
				return usageError("payouts: unknown subcommand %q (want settle)", pos[0])
			}
			var out struct {
				Settlements []struct {
					Epoch          uint64            `json:"epoch"`
					Manifests      int               `json:"manifests"`
					Settled        int               `json:"settled"`
					AlreadySettled int               `json:"already_settled"`
					Amount         uint64            `json:"amount"`
					Failed         []json.RawMessage `json:"failed"`
				} `json:"settlements"`
			}
			if err := cl.postJSON(ctx, "/v1/payouts/settle", struct{}{}, &out); err != nil {
				return err
			}
			return a.emit(out, func(w io.Writer) {
				if len(out.Settlements) == 0 {
					fmt.Fprintln(w, "nothing to settle")
				}
				for _, s := range out.Settlements {
					fmt.Fprintf(w, "epoch %d: %d manifests, %d settled now, %d before, %d failed, %d paid\n",
						s.Epoch, s.Manifests, s.Settled, s.AlreadySettled, len(s.Failed), s.Amount)
				}
			})
		}
		var out struct {
			Balances []struct {
				Payee  string `json:"payee"`
				Amount uint64 `json:"amount"`
			} `json:"balances"`
			Epochs []map[string]any `json:"epochs"`
		}
		if err := cl.do(ctx, http.MethodGet, "/v1/payouts", "", nil, &out); err != nil {
			return err
		}
		return a.emit(out, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PAYEE\tBALANCE")
			sort.Slice(out.Balances, func(i, j int) bool { return out.Balances[i].Payee < out.Balances[j].Payee })
			for _, b := range out.Balances {
				fmt.Fprintf(tw, "%s\t%d\n", b.Payee, b.Amount)
			}
			tw.Flush()
		})
	}
	return c
}

func publishCommand() *command {
	c := &command{name: "publish", args: "FILE --manifest Manifest.toml",
		summary: "publish a payload and its manifest through the running node (its plugin validates it)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "publish")
		man := fs.String("manifest", "", "the Manifest.toml (required)")
		tok := fs.String("token", "", "capability token (default: the node's operator token)")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		if *man == "" {
			return usageError("publish: --manifest is required")
		}
		mb, err := os.ReadFile(*man)
		if err != nil {
			return err
		}
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		cl, err := a.client(*tok)
		if err != nil {
			return err
		}
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			err := writePublishBody(mw, mb, filepath.Base(pos[0]), f)
			pw.CloseWithError(err)
		}()
		var out map[string]any
		if err := cl.do(ctx, http.MethodPost, "/v1/publish", mw.FormDataContentType(), pr, &out); err != nil {
			pr.CloseWithError(err)
			return err
		}
		return a.emit(out, func(w io.Writer) { fmt.Fprintln(w, out["address"]) })
	}
	return c
}

// writePublishBody writes the multipart body of POST /v1/publish: the
// manifest first, then the payload.
func writePublishBody(mw *multipart.Writer, manifest []byte, filename string, payload io.Reader) error {
	w, err := mw.CreateFormFile("manifest", "Manifest.toml")
	if err != nil {
		return err
	}
	if _, err := w.Write(manifest); err != nil {
		return err
	}
	// The payload's media type, guessed from its name, is a hint the
	// manifest's [payload] media_type overrides; without one the node
	// sniffs the payload's first bytes.
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "payload", "filename": filename}))
	if ct := mime.TypeByExtension(filepath.Ext(filename)); ct != "" {
		h.Set("Content-Type", ct)
	}
	if w, err = mw.CreatePart(h); err != nil {
		return err
	}
	if _, err := io.Copy(w, payload); err != nil {
		return err
	}
	return mw.Close()
}
