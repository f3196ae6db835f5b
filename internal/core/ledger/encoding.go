package ledger

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// The database's keys. Epoch numbers are 8 bytes big-endian, so keys sort
// by epoch, then by manifest CID.
//
//	v                                     format version (1 byte)
//	c                                     the open epoch: number, start time
//	u <epoch> <manifest> <server>         usage of one server for one manifest (usageRecord)
//	e <epoch>                             a sealed epoch's summary (written at Seal if it has usage)
//	a <epoch> <manifest>                  settled: the manifest's allocations (its presence is the marker)
//	b <payee>                             a payee's balance
//
// <server> is uvarint(len(node)) node payout.
const (
	kUsage   = 'u'
	kSummary = 'e'
	kAlloc   = 'a'
	kBalance = 'b'
)

const formatVersion = 1

var (
	keyVersion = []byte{'v'}
	keyCurrent = []byte{'c'}
)

// serverKey names a server of a manifest: the node and its payout address.
type serverKey struct{ node, payout string }

func epochPrefix(kind byte, epoch uint64) []byte {
	b := make([]byte, 9, 9+cid.Size+16)
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], epoch)
	return b
}

func appendUsageKey(b []byte, epoch uint64, m cid.CID, s serverKey) []byte {
	b = append(b, kUsage)
	b = binary.BigEndian.AppendUint64(b, epoch)
	b = append(b, m[:]...)
	b = binary.AppendUvarint(b, uint64(len(s.node)))
	b = append(b, s.node...)
	return append(b, s.payout...)
}

func parseUsageKey(k []byte) (epoch uint64, m cid.CID, s serverKey, err error) {
	if len(k) < 1+8+cid.Size+1 || k[0] != kUsage {
		return 0, m, s, fmt.Errorf("%w: usage key %x", ErrCorrupt, k)
	}
	epoch = binary.BigEndian.Uint64(k[1:])
	copy(m[:], k[9:])
	rest := k[9+cid.Size:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n > uint64(len(rest)-w) {
		return 0, m, s, fmt.Errorf("%w: usage key %x", ErrCorrupt, k)
	}
	rest = rest[w:]
	return epoch, m, serverKey{node: string(rest[:n]), payout: string(rest[n:])}, nil
}

func allocKey(epoch uint64, m cid.CID) []byte {
	return append(epochPrefix(kAlloc, epoch), m[:]...)
}

func summaryKey(epoch uint64) []byte { return epochPrefix(kSummary, epoch) }

func balanceKey(payee string) []byte { return append([]byte{kBalance}, payee...) }

// usageRecord is the aggregate of one (epoch, manifest, server).
type usageRecord struct {
	tld                     string
	requests, bytes, amount uint64
}

func (r usageRecord) appendTo(b []byte) []byte {
	b = append(b, formatVersion)
	b = binary.AppendUvarint(b, uint64(len(r.tld)))
	b = append(b, r.tld...)
	b = binary.AppendUvarint(b, r.requests)
	b = binary.AppendUvarint(b, r.bytes)
	return binary.AppendUvarint(b, r.amount)
}

func decodeUsage(v []byte) (usageRecord, error) {
	d := decoder{b: v}
	d.version()
	r := usageRecord{tld: d.str()}
	r.requests, r.bytes, r.amount = d.uint(), d.uint(), d.uint()
	return r, d.done("usage")
}

// summary is a sealed epoch's record.
type summary struct {
	start, end                    time.Time
	manifests, settled            uint64
	requests, bytes, amount, paid uint64
}

func (s summary) encode() []byte {
	b := []byte{formatVersion}
	for _, x := range []uint64{s.manifests, s.settled, s.requests, s.bytes, s.amount, s.paid} {
		b = binary.AppendUvarint(b, x)
	}
	b = binary.AppendVarint(b, unixNano(s.start))
	return binary.AppendVarint(b, unixNano(s.end))
}

func decodeSummary(v []byte) (summary, error) {
	d := decoder{b: v}
	d.version()
	s := summary{manifests: d.uint(), settled: d.uint(), requests: d.uint(), bytes: d.uint(), amount: d.uint(), paid: d.uint()}
	s.start, s.end = d.time(), d.time()
	return s, d.done("epoch summary")
}

func encodeCurrent(epoch uint64, start time.Time) []byte {
	b := binary.AppendUvarint([]byte{formatVersion}, epoch)
	return binary.AppendVarint(b, unixNano(start))
}

func decodeCurrent(v []byte) (uint64, time.Time, error) {
	d := decoder{b: v}
	d.version()
	e, t := d.uint(), d.time()
	if err := d.done("current epoch"); err != nil {
		return 0, time.Time{}, err
	}
	if e == 0 {
		return 0, time.Time{}, fmt.Errorf("%w: current epoch 0", ErrCorrupt)
	}
	return e, t, nil
}

func encodeAllocations(as []Allocation) []byte {
	b := binary.AppendUvarint([]byte{formatVersion}, uint64(len(as)))
	for _, a := range as {
		b = binary.AppendUvarint(b, uint64(len(a.Payee)))
		b = append(b, a.Payee...)
		b = binary.AppendUvarint(b, uint64(len(a.Role)))
		b = append(b, a.Role...)
		b = binary.AppendUvarint(b, a.Amount)
	}
	return b
}

func decodeAllocations(v []byte) ([]Allocation, error) {
	d := decoder{b: v}
	d.version()
	n := d.uint()
	if n > uint64(len(v)) {
		return nil, fmt.Errorf("%w: allocations record", ErrCorrupt)
	}
	as := make([]Allocation, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		as = append(as, Allocation{Payee: d.str(), Role: d.str(), Amount: d.uint()})
	}
	return as, d.done("allocations")
}

func encodeBalance(x uint64) []byte { return binary.AppendUvarint([]byte{formatVersion}, x) }

func decodeBalance(v []byte) (uint64, error) {
	d := decoder{b: v}
	d.version()
	x := d.uint()
	return x, d.done("balance")
}

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) version() {
	if len(d.b) == 0 || d.b[0] != formatVersion {
		d.err = fmt.Errorf("unknown record version")
		return
	}
	d.b = d.b[1:]
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad integer")
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) time() time.Time {
	if d.err != nil {
		return time.Time{}
	}
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad time")
		return time.Time{}
	}
	d.b = d.b[n:]
	if x == 0 {
		return time.Time{}
	}
	return time.Unix(0, x).UTC()
}

// unixNano is t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (d *decoder) str() string {
	n := d.uint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("bad string length")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, what, d.err)
	}
	return nil
}
