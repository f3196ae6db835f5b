package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"text/tabwriter"
	"time"
)

// mailboxCommand: the running node's onion mailbox.
func mailboxCommand() *command {
	addr := &command{name: "address", summary: "print this node's mailbox address (give it to whoever writes to you)"}
	addr.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(addr, "mailbox address")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		c, err := a.client("")
		if err != nil {
			return err
		}
		var out struct {
			Address string         `json:"address"`
			Tor     map[string]any `json:"tor"`
		}
		if err := c.do(ctx, http.MethodGet, "/v1/mailbox", "", nil, &out); err != nil {
			return err
		}
		return a.emit(out, func(w io.Writer) { fmt.Fprintln(w, out.Address) })
	}
	send := &command{name: "send", args: "ADDRESS (TEXT | --file F)", summary: "send a message, encrypted to the recipient and signed; delivered (with retries) even if you stop now"}
	send.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(send, "mailbox send")
		file := fs.String("file", "", "send this file's bytes instead of TEXT")
		ctype := fs.String("type", "text/plain; charset=utf-8", "the content type")
		pos, err := parse(fs, args, 1, 2)
		if err != nil {
			return err
		}
		var body []byte
		switch {
		case *file != "" && len(pos) == 1:
			if body, err = os.ReadFile(*file); err != nil {
				return err
			}
		case *file == "" && len(pos) == 2:
			body = []byte(pos[1])
		default:
			return usageError("mailbox send: give TEXT or --file, not both")
		}
		c, err := a.client("")
		if err != nil {
			return err
		}
		var out struct {
			ID string `json:"id"`
		}
		if err := c.postJSON(ctx, "/v1/mailbox/send", map[string]any{"to": pos[0], "body": body, "content_type": *ctype}, &out); err != nil {
			return err
		}
		return a.emit(out, func(w io.Writer) { fmt.Fprintf(w, "queued %s\n", out.ID) })
	}
	inbox := &command{name: "inbox", summary: "list received messages, decrypted"}
	inbox.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(inbox, "mailbox inbox")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		c, err := a.client("")
		if err != nil {
			return err
		}
		var out struct {
			Messages []struct {
				ID          string    `json:"id"`
				From        string    `json:"from"`
				ContentType string    `json:"content_type"`
				Body        []byte    `json:"body"`
				Received    time.Time `json:"received"`
			} `json:"messages"`
		}
		if err := c.do(ctx, http.MethodGet, "/v1/mailbox/inbox", "", nil, &out); err != nil {
			return err
		}
		return a.emit(out, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRECEIVED\tFROM\tBODY")
			for _, m := range out.Messages {
				body := string(m.Body)
				if len(body) > 60 {
					body = body[:60] + "…"
				}
				fmt.Fprintf(tw, "%s\t%s\t%.24s…\t%q\n", m.ID, m.Received.Format(time.RFC3339), m.From, body)
			}
			tw.Flush()
		})
	}
	ack := &command{name: "ack", args: "ID", summary: "acknowledge (remove) a received message"}
	ack.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(ack, "mailbox ack")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		c, err := a.client("")
		if err != nil {
			return err
		}
		if err := c.do(ctx, http.MethodPost, "/v1/mailbox/ack/"+pos[0], "", nil, nil); err != nil {
			return err
		}
		return a.emit(map[string]string{"acked": pos[0]}, func(w io.Writer) { fmt.Fprintf(w, "acknowledged %s\n", pos[0]) })
	}
	return &command{name: "mailbox", summary: "the onion mailbox: end-to-end encrypted messages to other nodes",
		sub: []*command{addr, send, inbox, ack}}
}
