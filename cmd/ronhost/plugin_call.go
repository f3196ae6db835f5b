package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ronhost/ronhost/internal/plugins"
)

// callResult is what `plugin call` prints.
type callResult struct {
	Entry       string          `json:"entry"`
	Status      int32           `json:"status"`
	Output      json.RawMessage `json:"output,omitempty"` // the output when it is JSON
	OutputText  string          `json:"output_text,omitempty"`
	Fuel        uint64          `json:"fuel"`
	ElapsedNs   int64           `json:"elapsed_ns"`
	MemoryBytes uint32          `json:"memory_bytes"`
	Fault       string          `json:"fault,omitempty"`
	FaultKind   string          `json:"fault_kind,omitempty"`
}

// entryOf maps "validate" and "ron_validate" to the entry point.
func entryOf(s string) (plugins.Entry, bool) {
	name := "ron_" + strings.TrimPrefix(s, "ron_")
	for _, e := range []plugins.Entry{plugins.EntryDescribe, plugins.EntryValidate, plugins.EntrySplit, plugins.EntryResolve} {
		if string(e) == name {
			return e, true
		}
	}
	return "", false
}

func pluginCallCommand() *command {
	c := &command{name: "call", args: "PLUGIN.wasm ENTRY [INPUT.json|-] [--payload FILE] [--fresh]",
		summary: "make one call through the real host; prints status, output, fuel, time and peak memory"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "plugin call")
		payload := fs.String("payload", "", "the payload ron_resolve reads through object_read (default: none)")
		fresh := fs.Bool("fresh", false, "run the call in a new instance instead of the pooled one")
		pos, err := parse(fs, args, 2, 3)
		if err != nil {
			return err
		}
		entry, ok := entryOf(pos[1])
		if !ok {
			return usageError("plugin call: ENTRY is describe, validate, split or resolve")
		}
		wasm, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		var input []byte
		switch {
		case len(pos) == 3 && pos[2] == "-":
			input, err = io.ReadAll(io.LimitReader(a.stdin, 16<<20))
		case len(pos) == 3:
			input, err = os.ReadFile(pos[2])
		case entry == plugins.EntryDescribe:
			input = fmt.Appendf(nil, `{"abi":1,"host":{"name":"ronhost","version":%q}}`, version)
		default:
			return usageError("plugin call: give the input document (a file, or - for standard input)")
		}
		if err != nil {
			return err
		}
		var obj io.ReaderAt
		if *payload != "" {
			b, err := os.ReadFile(*payload)
			if err != nil {
				return err
			}
			obj = bytes.NewReader(b)
		}
		e, err := a.pluginEnv()
		if err != nil {
			return err
		}
		h, p, err := e.load(ctx, wasm)
		if err != nil {
			return err
		}
		defer h.Close(context.WithoutCancel(ctx))
		start := time.Now()
		res, err := p.Invoke(ctx, entry, input, plugins.CallOptions{Object: obj, Fresh: *fresh})
		out := callResult{Entry: string(entry), Status: res.Status, Fuel: res.Fuel, ElapsedNs: int64(res.Elapsed), MemoryBytes: res.MemoryBytes}
		var fe *plugins.FaultError
		switch {
		case errors.As(err, &fe):
			out.Fault, out.FaultKind = fe.Err.Error(), string(fe.Kind)
			out.ElapsedNs = int64(time.Since(start))
		case err != nil:
			return err
		case json.Valid(res.Output):
			out.Output = res.Output
		default:
			out.OutputText = string(res.Output)
		}
		if err := a.emit(out, func(w io.Writer) {
			switch {
			case out.Fault != "":
				fmt.Fprintf(w, "fault    %s: %s\n", out.FaultKind, out.Fault)
			case out.Status == 0:
				fmt.Fprintln(w, "status   0 (ok)")
			case out.Status == 1:
				fmt.Fprintln(w, "status   1 (rejected)")
			}
			if out.Fault == "" {
				fmt.Fprintf(w, "fuel     %d units\n", out.Fuel)
			}
			fmt.Fprintf(w, "time     %s\n", time.Duration(out.ElapsedNs))
			if out.MemoryBytes > 0 {
				fmt.Fprintf(w, "memory   %.1f MiB (linear memory after the call)\n", float64(out.MemoryBytes)/(1<<20))
			}
			switch {
			case out.Output != nil:
				fmt.Fprintf(w, "output   %s\n", out.Output)
			case out.OutputText != "":
				fmt.Fprintf(w, "output   (not JSON) %q\n", out.OutputText)
			}
		}); err != nil {
			return err
		}
		if out.Fault != "" {
			return errReported
		}
		return nil
	}
	return c
}
