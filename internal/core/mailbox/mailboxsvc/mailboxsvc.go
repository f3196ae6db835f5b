package mailboxsvc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/mailbox"
	"github.com/ronhost/ronhost/internal/core/tor"
)

// Service is the mailbox role over a running mailbox.
type Service struct {
	Mailbox *mailbox.Mailbox
	Tor     *tor.Tor // nil: the mailbox is reached on loopback only
}

// Endpoints are the mailbox role's verbs on the bus: only its address.
func (s Service) Endpoints() []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.MailboxAddress, func(ctx context.Context, _ contract.Empty) (contract.MailboxAddr, error) {
			tor, err := json.Marshal(s.TorStatus())
			return contract.MailboxAddr{Address: s.Mailbox.Address().String(), Tor: tor}, err
		}),
	}
}

// TorStatus is tor's state as the mailbox reports it: {"mode":"off"}
// without tor, else its bootstrap progress, restarts and readiness (and
// its error).
func (s Service) TorStatus() map[string]any {
	if s.Tor == nil {
		return map[string]any{"mode": "off"}
	}
	st := s.Tor.Status()
	out := map[string]any{"bootstrap": st.Bootstrap, "restarts": st.Restarts, "ready": st.Err == nil}
	if st.Err != nil {
		out["error"] = st.Err.Error()
	}
	return out
}

// Op is one of the mailbox's operations for the local operator.
type Op func(ctx context.Context, s Service, r *http.Request) (any, error)

// MaxSendBody caps the JSON of a message to send (base64 body included).
const MaxSendBody = 1 << 20

// Ops are the mailbox's operations for the local operator's CLI, by
// ServeMux pattern. The caller authorizes the request and serves them only
// where the mailbox runs.
func Ops() map[string]Op {
	return map[string]Op{
		"GET /v1/mailbox": func(ctx context.Context, s Service, r *http.Request) (any, error) {
			return map[string]any{"address": s.Mailbox.Address().String(), "tor": s.TorStatus()}, nil
		},
		"POST /v1/mailbox/send": func(ctx context.Context, s Service, r *http.Request) (any, error) {
			var in struct {
				To          string `json:"to"`
				Body        []byte `json:"body"`
				ContentType string `json:"content_type,omitempty"`
			}
			b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxSendBody))
			if err != nil {
				return nil, bus.Errorf(codes.TooLarge, "the request body is over %d bytes", MaxSendBody)
			}
			if err := bus.Decode(b, &in); err != nil {
				return nil, err
			}
			to, err := mailbox.ParseAddress(in.To)
			if err != nil {
				return nil, bus.Errorf(codes.Invalid, "%v", err)
			}
			if in.ContentType == "" {
				in.ContentType = "text/plain; charset=utf-8"
			}
			id, err := s.Mailbox.Send(ctx, to, in.Body, in.ContentType)
			if err != nil {
				return nil, bus.AsError(err)
			}
			return map[string]string{"id": id}, nil
		},
		"GET /v1/mailbox/inbox": func(ctx context.Context, s Service, r *http.Request) (any, error) {
			msgs, err := s.Mailbox.Inbox(ctx)
			if err != nil {
				return nil, bus.AsError(err)
			}
			return map[string]any{"messages": msgs}, nil
		},
		"GET /v1/mailbox/outbox": func(ctx context.Context, s Service, r *http.Request) (any, error) {
			out, err := s.Mailbox.Outbox(ctx)
			if err != nil {
				return nil, bus.AsError(err)
			}
			return map[string]any{"outbox": out}, nil
		},
		"POST /v1/mailbox/ack/{id}": func(ctx context.Context, s Service, r *http.Request) (any, error) {
			if err := s.Mailbox.Ack(ctx, r.PathValue("id")); err != nil {
				return nil, bus.AsError(err)
			}
			return struct{}{}, nil
		},
	}
}
