package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/core/node"
)

// nodeClient talks to the running node of a data directory over its HTTP
// API, with the operator token the node wrote there (or --token / RON_TOKEN).
type nodeClient struct {
	api   string
	token string
	http  *http.Client
}

// client finds the node serving the data directory.
func (a *app) client(tokenFlag string) (*nodeClient, error) {
	dir, err := a.data()
	if err != nil {
		return nil, err
	}
	ri, err := node.ReadRunInfo(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no node is serving %s: start one with `ronhost serve` (this command goes through the node)", dir)
	}
	if err != nil {
		return nil, err
	}
	tok := tokenFlag
	if tok == "" {
		tok = a.getenv("RON_TOKEN")
	}
	if tok == "" {
		b, err := os.ReadFile(filepath.Join(dir, node.OperatorToken))
		if err != nil {
			return nil, fmt.Errorf("no token: pass --token or set RON_TOKEN (%v)", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	return &nodeClient{api: ri.API, token: tok, http: &http.Client{}}, nil
}

// do sends a request and decodes a JSON answer into out (unless nil). An
// error answer becomes the node's *bus.Error.
func (c *nodeClient) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	return c.send(ctx, method, path, contentType, body, -1, out)
}

// send is do with the body's length when known (size >= 0).
func (c *nodeClient) send(ctx context.Context, method, path, contentType string, body io.Reader, size int64, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, body)
	if err != nil {
		return err
	}
	if size >= 0 && body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("the node at %s does not answer (is it still running?): %w", c.api, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e bus.Error
		if json.Unmarshal(b, &e) == nil && e.Code != "" {
			return &e
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (c *nodeClient) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, "application/json", bytes.NewReader(b), out)
}
