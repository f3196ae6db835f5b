package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/core/index"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/plugins/pluginsvc"
)

// contentCommands returns the content commands (put, get, pin, unpin, gc,
// scrub, stat). They are owned by the content core; see core/.
//
// With no node serving the data directory they open the store in
// DATA/store themselves (and put --manifest the index in DATA/index, with
// the TLD's plugin validating the manifest). When a node serves it, it
// holds the store's lock and every one of them goes through the node's API
// instead (a token for writes: --token, RON_TOKEN or DATA/operator.token),
// printing the same output.
func contentCommands() []*command {
	put := &command{name: "put", args: "FILE|- [--manifest Manifest.toml] [--no-pin]",
		summary: "store a file, verified and deduplicated; print its CID (and, with a manifest, its address)"}
	put.run = func(ctx context.Context, a *app, args []string) error { return runPut(ctx, a, put, args) }
	get := &command{name: "get", args: "CID|ADDRESS [-o FILE] [--range A-B] [--gateway URL]",
		summary: "write a stored object (or a byte range of it), verified, to stdout or a file; with --gateway, from any gateway, checked against the CID alone"}
	get.run = func(ctx context.Context, a *app, args []string) error { return runGet(ctx, a, get, args) }
	pin := &command{name: "pin", args: "CID|ADDRESS [--replicas N]", summary: "keep an object, and what it references, through gc; with --replicas, also on N peers of the overlay (through the running node)"}
	pin.run = func(ctx context.Context, a *app, args []string) error { return runPin(ctx, a, pin, args, true) }
	unpin := &command{name: "unpin", args: "CID|ADDRESS", summary: "let gc delete an object nothing else keeps"}
	unpin.run = func(ctx context.Context, a *app, args []string) error { return runPin(ctx, a, unpin, args, false) }
	gc := &command{name: "gc", args: "", summary: "delete every stored object that no pin keeps"}
	gc.run = func(ctx context.Context, a *app, args []string) error { return runGC(ctx, a, gc, args) }
	scrub := &command{name: "scrub", args: "[--repair]", summary: "re-verify every stored byte against its CID and every reference and pin, and report damage"}
	scrub.run = func(ctx context.Context, a *app, args []string) error { return runScrub(ctx, a, scrub, args) }
	stat := &command{name: "stat", args: "[CID|ADDRESS]", summary: "show the store's disk usage, or one object (with a running node: also which peers hold copies)"}
	stat.run = func(ctx context.Context, a *app, args []string) error { return runStat(ctx, a, stat, args) }
	return []*command{put, get, pin, unpin, gc, scrub, stat}
}

// openStore opens DATA/store with the [store] settings (and RON_STORE_*).
func openStore(ctx context.Context, a *app) (*store.Store, error) {
	dir, err := a.data()
	if err != nil {
		return nil, err
	}
	cfg, err := a.config(dir)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(ctx, filepath.Join(dir, "store"), node.StoreOptions(cfg, nil))
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("a node is serving the data directory %s and holds its store, "+
			"but has not written DATA/node.json (is it still starting?): %w", dir, err)
	}
	return s, err
}

// readSmall reads a small object whole, verified: a manifest. An object
// over max bytes is errTooBig.
type readSmall func(ctx context.Context, c cid.CID, max int64) ([]byte, error)

var errTooBig = errors.New("too large")

// storeReader reads small objects from the store.
func storeReader(s *store.Store) readSmall {
	return func(ctx context.Context, c cid.CID, max int64) ([]byte, error) {
		info, err := s.Info(ctx, c)
		if err != nil {
			return nil, err
		}
		if info.Size > max {
			return nil, errTooBig
		}
		rc, err := s.Get(ctx, c)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
}

// nodeReader reads small objects through the running node: their
// verifiable stream, checked against the CID.
func nodeReader(api string) readSmall {
	return func(ctx context.Context, c cid.CID, max int64) ([]byte, error) {
		resp, err := getBao(ctx, api, c, url.Values{})
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, err = store.DecodeSlice(&limitWriter{w: &buf, n: max}, resp.Body, c, 0, -1)
		return buf.Bytes(), err
	}
}

// limitWriter fails with errTooBig past n bytes.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errTooBig
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// resolveArg turns a CID or an address into the CID to act on. For an
// address that is the payload its manifest names when payload is true, and
// the manifest itself otherwise.
func resolveArg(ctx context.Context, read readSmall, arg string, payload bool) (cid.CID, *manifest.Manifest, error) {
	if !cid.IsAddress(arg) {
		c, err := cid.Parse(arg)
		return c, nil, err
	}
	addr, m, err := readManifest(ctx, read, arg)
	if err != nil {
		return cid.CID{}, nil, err
	}
	if !payload {
		return addr.Hash, m, nil
	}
	if addr.Path != "" && addr.Path != "/" {
		// Resolving a sub-path is the TLD plugin's ron_resolve, run by the
		// node's gateway.
		return cid.CID{}, nil, fmt.Errorf("%s: resolving the path %s needs the .%s plugin: a running node serves it at /r/%s.%s%s",
			arg, addr.Path, addr.TLD, addr.Hash.Hex(), addr.TLD, addr.Path)
	}
	return m.Payload.CID, m, nil
}

// readManifest reads the manifest an address names.
func readManifest(ctx context.Context, read readSmall, arg string) (cid.Address, *manifest.Manifest, error) {
	addr, err := cid.ParseAddress(arg)
	if err != nil {
		return cid.Address{}, nil, err
	}
	b, err := read(ctx, addr.Hash, manifest.MaxSize)
	if errors.Is(err, errTooBig) {
		return cid.Address{}, nil, fmt.Errorf("%s: %s is too large to be a manifest", arg, addr.Hash)
	}
	if err != nil {
		return cid.Address{}, nil, fmt.Errorf("%s: the manifest %s: %w", arg, addr.Hash, err)
	}
	m, err := manifest.ParseJSON(b)
	if err != nil {
		return cid.Address{}, nil, fmt.Errorf("%s: %s is not a manifest: %w", arg, addr.Hash, err)
	}
	if m.Meta.TLD != addr.TLD {
		return cid.Address{}, nil, fmt.Errorf("%s: the manifest is for .%s, not .%s", arg, m.Meta.TLD, addr.TLD)
	}
	return addr, m, nil
}

func runPut(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flags(c, "put")
	manPath := fs.String("manifest", "", "a Manifest.toml to publish with the file, validated by its TLD's plugin; prints the address")
	noPin := fs.Bool("no-pin", false, "do not pin what is stored (gc may delete it); not with --manifest")
	tok := fs.String("token", "", "capability token for a running node (default: RON_TOKEN, then the node's operator token)")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *manPath != "" && *noPin {
		return usageError("put: --no-pin does not go with --manifest (a published manifest is pinned and keeps its payload; unpin its address to let gc take both)")
	}
	// Read and check the manifest's TOML before storing anything.
	var text []byte
	var doc map[string]any
	if *manPath != "" {
		if text, err = os.ReadFile(*manPath); err != nil {
			return err
		}
		if doc, err = manifest.DecodeTOML(text); err != nil {
			return fmt.Errorf("%s: %w", *manPath, manifestRejected(err))
		}
	}
	var in io.Reader = a.stdin
	var size int64 = -1
	filename := "" // stdin has none
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.IsDir() {
			return fmt.Errorf("%s is a directory", pos[0])
		}
		in, filename = f, filepath.Base(pos[0])
		if st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	var out putOutput
	bar := newProgress(a.stderr, "put", size)
	if nodeRunning(a) {
		out, err = putOnNode(ctx, a, *tok, in, size, filename, text, *noPin, bar)
	} else {
		out, err = putOffline(ctx, a, in, size, filename, doc, *noPin, bar)
	}
	if err != nil {
		return err
	}
	return a.emit(out, func(w io.Writer) {
		fmt.Fprintln(w, out.CID)
		if out.Address != "" {
			fmt.Fprintln(w, out.Address)
		}
	})
}

// putOffline stores in DATA/store and, with a manifest, publishes it as a
// node would: the TLD's plugin validates it and the index (DATA/index)
// records it.
func putOffline(ctx context.Context, a *app, in io.Reader, size int64, filename string, doc map[string]any, noPin bool, bar *progress) (putOutput, error) {
	s, err := openStore(ctx, a)
	if err != nil {
		return putOutput{}, err
	}
	defer s.Close()
	var mediaType string
	if doc != nil {
		// The media type the node's publish gives it (publish sends the
		// one the name says, the node sniffs when there is none).
		mediaType, in = gateway.PayloadType(mime.TypeByExtension(filepath.Ext(filename)), in)
	}
	opts := store.PutOptions{Pin: !noPin && doc == nil, Progress: bar.update}
	if size > 0 {
		opts.Size = size // 0: the store asks the reader (an empty file says 0)
	}
	res, err := s.Put(ctx, in, opts)
	bar.done(err == nil)
	if err != nil {
		return putOutput{}, err
	}
	out := putOutput{CID: res.CID.String(), Size: res.Size, Deduplicated: res.Deduplicated}
	if doc == nil {
		return out, nil
	}
	tree, err := manifest.MarshalTree(doc)
	if err != nil {
		return putOutput{}, err
	}
	e, err := publishOffline(ctx, a, s, index.Request{Doc: tree, Payload: res.CID, Size: res.Size, Filename: filename, MediaType: mediaType})
	if err != nil {
		return putOutput{}, err
	}
	out.Manifest, out.Address = e.Manifest.String(), e.Address
	return out, nil
}

// putOnNode stores through the running node: POST /v1/objects, or with a
// manifest POST /v1/publish (the node's plugin validates it).
func putOnNode(ctx context.Context, a *app, tok string, in io.Reader, size int64, filename string, text []byte, noPin bool, bar *progress) (putOutput, error) {
	cl, err := a.client(tok)
	if err != nil {
		return putOutput{}, err
	}
	in = &progressReader{r: in, fn: bar.update}
	var out putOutput
	if text == nil {
		path := "/v1/objects"
		if noPin {
			path += "?pin=false"
		}
		err = cl.send(ctx, http.MethodPost, path, "application/octet-stream", in, size, &out)
		bar.done(err == nil)
		return out, err
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writePublishBody(mw, text, filename, in)) }()
	var pub struct {
		gateway.Published
		Deduplicated bool `json:"deduplicated"`
	}
	err = cl.do(ctx, http.MethodPost, "/v1/publish", mw.FormDataContentType(), pr, &pub)
	pr.CloseWithError(errors.New("put: the request ended"))
	bar.done(err == nil)
	if err != nil {
		return putOutput{}, err
	}
	return putOutput{CID: pub.Payload.String(), Address: pub.Address, Size: pub.Size,
		Manifest: pub.Manifest.String(), Deduplicated: pub.Deduplicated}, nil
}

// publishOffline publishes a manifest for a stored payload with the index
// of the data directory and the TLD's plugin (the installed or built-in
// one a node would run), as a node's index does.
func publishOffline(ctx context.Context, a *app, s *store.Store, req index.Request) (index.Entry, error) {
	env, err := a.pluginEnv()
	if err != nil {
		return index.Entry{}, err
	}
	v := &offlineValidator{a: a, env: env}
	defer v.close(ctx)
	x, err := index.Open(ctx, filepath.Join(env.dir, "index"), index.Options{MinFree: int64(env.cfg.Node.MinFree)}, s, v)
	if err != nil {
		return index.Entry{}, err
	}
	defer x.Close()
	return x.Publish(ctx, req)
}

// offlineValidator runs the TLD's plugin in this process; its errors are
// the node's (a rejection with the plugin's field errors).
type offlineValidator struct {
	a     *app
	env   *pluginEnv
	hosts []*plugins.Host
}

func (v *offlineValidator) Validate(ctx context.Context, tld string, m json.RawMessage, size int64) (json.RawMessage, json.RawMessage, error) {
	wasm, _, err := v.a.moduleFor(v.env, tld)
	if errors.Is(err, plugins.ErrUnknownTLD) {
		return nil, nil, bus.Errorf(codes.NotFound, "no plugin owns .%s here", tld)
	}
	if err != nil {
		return nil, nil, err
	}
	h, p, err := v.env.load(ctx, wasm)
	if err != nil {
		return nil, nil, err
	}
	v.hosts = append(v.hosts, h)
	out, err := p.Validate(ctx, m, plugins.ValidateContext{TLD: tld, PayloadSize: uint64(max(size, 0))})
	if err != nil {
		return nil, nil, pluginsvc.Err(tld, err)
	}
	return out.Manifest, out.Index, nil
}

func (v *offlineValidator) close(ctx context.Context) {
	for _, h := range v.hosts {
		_ = h.Close(ctx)
	}
}

// manifestRejected turns a manifest's error into the node's rejection with
// field errors (as its index answers it).
func manifestRejected(err error) error {
	var me *manifest.Error
	if !errors.As(err, &me) {
		return err
	}
	b, _ := json.Marshal(me.Errors)
	code := codes.Rejected
	if errors.Is(err, manifest.ErrTooLarge) {
		code = codes.TooLarge
	}
	e := bus.Errorf(code, "the manifest is invalid: %v", err)
	e.Errors = b
	return e
}

type putOutput struct {
	CID          string `json:"cid"`
	Address      string `json:"address,omitempty"`
	Size         int64  `json:"size"`
	Manifest     string `json:"manifest,omitempty"`
	Deduplicated bool   `json:"deduplicated"`
}

// parseRange parses "A-B" (bytes A to B inclusive) or "A-" (A to the end).
func parseRange(s string, size int64) (off, n int64, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, usageError("--range %q: want A-B (inclusive) or A-", s)
	}
	off, err = strconv.ParseInt(a, 10, 64)
	if err != nil || off < 0 {
		return 0, 0, usageError("--range %q: bad start", s)
	}
	end := size - 1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < off {
			return 0, 0, usageError("--range %q: bad end", s)
		}
	}
	if off >= size || end >= size {
		return 0, 0, fmt.Errorf("--range %s is outside the object's %d bytes: %w", s, size, store.ErrRange)
	}
	return off, end - off + 1, nil
}

func runGet(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flags(c, "get")
	outPath := fs.String("o", "", "write to this file (atomically) instead of stdout")
	rng := fs.String("range", "", "only bytes A-B (inclusive; A- for the rest)")
	gateway := fs.String("gateway", "", "fetch from this gateway (any node's http(s) URL) and verify every 64 KiB group against the CID")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if a.jsonOut && *outPath == "" {
		return usageError("get --json needs -o FILE (the bytes go to the file, the JSON to stdout)")
	}
	if *gateway != "" {
		return getFromGateway(ctx, a, *gateway, pos[0], *rng, *outPath)
	}
	if nodeRunning(a) {
		// Through the node's gateway, verified here against the CID as
		// from any gateway; an object the node lacks it fetches from its
		// peers.
		dir, err := a.data()
		if err != nil {
			return err
		}
		ri, err := node.ReadRunInfo(dir)
		if err != nil {
			return err
		}
		target, _, err := resolveArg(ctx, nodeReader(ri.API), pos[0], true)
		if err != nil {
			return err
		}
		return getFromGateway(ctx, a, ri.API, target.String(), *rng, *outPath)
	}
	s, err := openStore(ctx, a)
	if err != nil {
		return err
	}
	defer s.Close()
	target, _, err := resolveArg(ctx, storeReader(s), pos[0], true)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx, target)
	if err != nil {
		return err
	}
	off, n := int64(0), info.Size
	if *rng != "" {
		if off, n, err = parseRange(*rng, info.Size); err != nil {
			return err
		}
	}
	rc, err := s.ReadRange(ctx, target, off, n)
	if err != nil {
		return err
	}
	defer rc.Close()
	return writeGot(a, target, off, n, *outPath, func(w io.Writer) (int64, error) { return io.Copy(w, rc) })
}

// writeGot writes what copyTo produces to stdout, or to outPath atomically
// (a temporary file renamed once every byte is there), with progress.
func writeGot(a *app, c cid.CID, off, n int64, outPath string, copyTo func(io.Writer) (int64, error)) error {
	if outPath == "" {
		_, err := copyTo(a.stdout)
		return err
	}
	dir := filepath.Dir(outPath)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(outPath)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bar := newProgress(a.stderr, "get", n)
	written, err := copyTo(&progressWriter{w: tmp, fn: bar.update})
	bar.done(err == nil)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), outPath)
	}
	if err != nil {
		return err
	}
	out := struct {
		CID    string `json:"cid"`
		File   string `json:"file"`
		Offset int64  `json:"offset"`
		Bytes  int64  `json:"bytes"`
	}{c.String(), outPath, off, written}
	return a.emit(out, func(w io.Writer) {})
}

// getFromGateway fetches an object's verifiable stream (GET
// /o/{cid}?format=bao, docs/PROTOCOL.md) from any gateway and checks it
// against the CID alone: every 64 KiB group is verified before its bytes
// are written, and a gateway that changed one is refused, naming the group.
// With -o nothing is left behind then; on stdout the groups before it were
// already written (they verified).
func getFromGateway(ctx context.Context, a *app, gw, arg, rng, outPath string) error {
	c, err := cid.Parse(arg)
	if err != nil {
		return fmt.Errorf("get --gateway takes a CID (an address's manifest and payload are CIDs too): %w", err)
	}
	u, err := url.Parse(gw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError("--gateway %q: want an http:// or https:// URL", gw)
	}
	q := url.Values{}
	off, n := int64(0), int64(-1)
	if rng != "" {
		from, to, ok := strings.Cut(rng, "-")
		f, ferr := strconv.ParseInt(from, 10, 64)
		t, terr := strconv.ParseInt(to, 10, 64)
		switch {
		case !ok || ferr != nil || f < 0:
			return usageError("--range %q: want A-B (inclusive) or A-", rng)
		case to == "":
			q.Set("entity-bytes", from+":*")
		case terr != nil || t < f:
			return usageError("--range %q: bad end", rng)
		default:
			q.Set("entity-bytes", from+":"+to)
			n = t - f + 1
		}
		off = f
	}
	resp, err := getBao(ctx, gw, c, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	total := n
	if total < 0 {
		total = resp.ContentLength // the stream's length: close enough for progress
	}
	return writeGot(a, c, off, total, outPath, func(w io.Writer) (int64, error) {
		cw := &countingWriter{w: w}
		_, err := store.DecodeSlice(cw, resp.Body, c, off, n)
		var se *store.SliceError
		if errors.As(err, &se) {
			err = fmt.Errorf("the gateway %s sent bytes that do not match %s, refused: %w", u.Host, c, err)
		}
		return cw.n, err
	})
}

// getBao asks the gateway at gw for the verifiable stream of c (with the
// query q: the format and a range); the caller checks it and closes the
// body. An error answer is the node's *bus.Error.
func getBao(ctx context.Context, gw string, c cid.CID, q url.Values) (*http.Response, error) {
	u, err := url.Parse(gw)
	if err != nil {
		return nil, err
	}
	q.Set("format", "bao")
	u = u.JoinPath("o", c.String())
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", gateway.MediaTypeBao)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get: the gateway does not answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var e bus.Error
		if json.Unmarshal(b, &e) == nil && e.Code != "" {
			return nil, fmt.Errorf("get: %s: %w", u.Redacted(), &e)
		}
		return nil, fmt.Errorf("get: %s: %s: %s", u.Redacted(), resp.Status, bytes.TrimSpace(b))
	}
	return resp, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func runPin(ctx context.Context, a *app, c *command, args []string, on bool) error {
	fs := a.flags(c, c.name)
	replicas := 0
	if on {
		fs.IntVar(&replicas, "replicas", 0, "also ask N peers of the overlay to hold copies (needs the running node)")
	}
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if on && (replicas > 0 || nodeRunning(a)) {
		return runPinOnNode(ctx, a, pos[0], replicas)
	}
	if !on && nodeRunning(a) {
		// Through the node, which holds the store: an address names its manifest.
		target, err := objectArg(pos[0])
		if err != nil {
			return err
		}
		cl, err := a.client("")
		if err != nil {
			return err
		}
		if err := cl.postJSON(ctx, "/v1/unpin", map[string]string{"cid": target.String()}, nil); err != nil {
			return err
		}
		return a.emit(struct {
			CID    string `json:"cid"`
			Pinned bool   `json:"pinned"`
		}{target.String(), false}, func(w io.Writer) { fmt.Fprintf(w, "unpinned %s\n", target) })
	}
	s, err := openStore(ctx, a)
	if err != nil {
		return err
	}
	defer s.Close()
	// Pinning an address pins its manifest, which keeps its payload.
	target, _, err := resolveArg(ctx, storeReader(s), pos[0], false)
	if err != nil {
		return err
	}
	if on {
		err = s.Pin(ctx, target)
	} else {
		err = s.Unpin(ctx, target)
	}
	if err != nil {
		return err
	}
	out := struct {
		CID    string `json:"cid"`
		Pinned bool   `json:"pinned"`
	}{target.String(), on}
	return a.emit(out, func(w io.Writer) {
		if on {
			fmt.Fprintf(w, "pinned %s\n", target)
		} else {
			fmt.Fprintf(w, "unpinned %s\n", target)
		}
	})
}

func runGC(ctx context.Context, a *app, c *command, args []string) error {
	if _, err := parse(a.flags(c, "gc"), args, 0, 0); err != nil {
		return err
	}
	if nodeRunning(a) {
		cl, err := a.client("")
		if err != nil {
			return err
		}
		var res store.GCResult
		if err := cl.postJSON(ctx, "/v1/gc", struct{}{}, &res); err != nil {
			return err
		}
		return a.emit(res, func(w io.Writer) {
			fmt.Fprintf(w, "removed %d objects, %s\n", res.Objects, human(res.Bytes))
		})
	}
	s, err := openStore(ctx, a)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.GC(ctx)
	if err != nil {
		return err
	}
	return a.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "removed %d objects, %s\n", res.Objects, human(res.Bytes))
	})
}

func runScrub(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.flags(c, "scrub")
	repair := fs.Bool("repair", false, "rebuild damaged outboards from intact data, remove orphan files, fix counters")
	tok := fs.String("token", "", "capability token for a running node (default: RON_TOKEN, then the node's operator token)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	var rep store.ScrubReport
	if nodeRunning(a) {
		cl, err := a.client(*tok)
		if err != nil {
			return err
		}
		if err := cl.postJSON(ctx, "/v1/scrub", map[string]bool{"repair": *repair}, &rep); err != nil {
			return err
		}
	} else {
		s, err := openStore(ctx, a)
		if err != nil {
			return err
		}
		defer s.Close()
		if rep, err = s.Scrub(ctx, store.ScrubOptions{Repair: *repair}); err != nil {
			return err
		}
	}
	if rep.Damage == nil {
		rep.Damage = []store.Damage{}
	}
	unrepaired := 0
	for _, d := range rep.Damage {
		if !d.Repaired {
			unrepaired++
		}
	}
	if err := a.emit(rep, func(w io.Writer) {
		fmt.Fprintf(w, "verified %d objects, %s\n", rep.Objects, human(rep.Bytes))
		for _, d := range rep.Damage {
			mark := ""
			if d.Repaired {
				mark = " (repaired)"
			}
			fmt.Fprintf(w, "damage: %s%s\n", d, mark)
		}
	}); err != nil {
		return err
	}
	if unrepaired > 0 {
		return problems("scrub found %d problems", unrepaired)
	}
	return nil
}

func runStat(ctx context.Context, a *app, c *command, args []string) error {
	pos, err := parse(a.flags(c, "stat"), args, 0, 1)
	if err != nil {
		return err
	}
	if len(pos) == 1 && nodeRunning(a) {
		return runStatOnNode(ctx, a, pos[0])
	}
	if nodeRunning(a) {
		cl, err := a.client("")
		if err != nil {
			return err
		}
		var u store.Usage
		if err := cl.do(ctx, http.MethodGet, "/v1/store", "", nil, &u); err != nil {
			return err
		}
		return a.emit(u, func(w io.Writer) { printUsage(w, u) })
	}
	s, err := openStore(ctx, a)
	if err != nil {
		return err
	}
	defer s.Close()
	if len(pos) == 0 {
		u, err := s.Stat(ctx)
		if err != nil {
			return err
		}
		return a.emit(u, func(w io.Writer) { printUsage(w, u) })
	}
	target, m, err := resolveArg(ctx, storeReader(s), pos[0], false)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx, target)
	if err != nil {
		return err
	}
	refs, err := s.Refs(ctx, target)
	if err != nil {
		return err
	}
	out := struct {
		CID     string   `json:"cid"`
		Size    int64    `json:"size"`
		Inline  bool     `json:"inline"`
		Pinned  bool     `json:"pinned"`
		Refs    []string `json:"refs"`
		TLD     string   `json:"tld,omitempty"`
		Payload string   `json:"payload,omitempty"`
	}{CID: target.String(), Size: info.Size, Inline: info.Inline, Pinned: info.Pinned, Refs: []string{}}
	for _, r := range refs {
		out.Refs = append(out.Refs, r.String())
	}
	if m != nil {
		out.TLD, out.Payload = m.Meta.TLD, m.Payload.CID.String()
	}
	return a.emit(out, func(w io.Writer) {
		fmt.Fprintf(w, "cid     %s\nsize    %d (%s)\npinned  %v\n", out.CID, out.Size, human(out.Size), out.Pinned)
		if out.TLD != "" {
			fmt.Fprintf(w, "tld     .%s\npayload %s\n", out.TLD, out.Payload)
		}
		for _, r := range out.Refs {
			fmt.Fprintf(w, "ref     %s\n", r)
		}
	})
}

// printUsage prints the store's disk usage, offline or from the node.
func printUsage(w io.Writer, u store.Usage) {
	fmt.Fprintf(w, "objects   %d (%d pinned)\n", u.Objects, u.Pinned)
	fmt.Fprintf(w, "payload   %s\n", human(u.PayloadBytes))
	fmt.Fprintf(w, "outboards %s\n", human(u.OutboardBytes))
	fmt.Fprintf(w, "index     %s\n", human(int64(u.IndexBytes)))
	if u.QuotaBytes > 0 {
		fmt.Fprintf(w, "quota     %s (%.1f%% used)\n", human(u.QuotaBytes), 100*float64(u.PayloadBytes+u.OutboardBytes)/float64(u.QuotaBytes))
	} else {
		fmt.Fprintf(w, "quota     none\n")
	}
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// progress draws a progress bar on a terminal; on anything else it does
// nothing.
type progress struct {
	w     io.Writer
	label string
	total int64
	start time.Time
	last  time.Time
	cur   int64
}

func newProgress(w io.Writer, label string, total int64) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return &progress{}
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return &progress{}
	}
	now := time.Now()
	return &progress{w: w, label: label, total: total, start: now}
}

func (p *progress) update(n int64) {
	if p.w == nil {
		return
	}
	p.cur = n
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw()
	}
}

func (p *progress) draw() {
	rate := float64(p.cur) / max(time.Since(p.start).Seconds(), 1e-3)
	if p.total > 0 {
		const width = 30
		k := int(float64(width) * float64(p.cur) / float64(p.total))
		k = min(max(k, 0), width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s / %s  %s/s ", p.label, strings.Repeat("#", k), strings.Repeat(" ", width-k),
			100*float64(p.cur)/float64(p.total), human(p.cur), human(p.total), human(int64(rate)))
	} else {
		fmt.Fprintf(p.w, "\r%s %s  %s/s ", p.label, human(p.cur), human(int64(rate)))
	}
}

func (p *progress) done(ok bool) {
	if p.w == nil {
		return
	}
	if ok {
		p.draw()
	}
	fmt.Fprintln(p.w)
}

// progressReader reports the bytes read so far to fn.
type progressReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.fn(p.n)
	return n, err
}

// progressWriter reports the bytes written so far to fn.
type progressWriter struct {
	w  io.Writer
	n  int64
	fn func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	p.fn(p.n)
	return n, err
}
