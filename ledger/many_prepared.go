package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"
)

// PreparedTransfers is a group of transfers validated and encoded by
// PrepareTransfers, ready to be recorded by ExecTx: the statement of
// QueueTransfers with its parameters already in PostgreSQL's binary form,
// so that a bulk load (the CODA import) can prepare group n+1 in a
// goroutine while group n runs on its connection.
type PreparedTransfers struct {
	queued *Queued
	keys   map[string]int
	params [][]byte // nil: nothing to record
}

// CacheAccountsTx reads in tx, into the ledger's cache, the accounts of ids
// it does not know yet (ErrUnknownAccount for an id the tenant does not
// have; another database error wraps ErrTxAborted). PrepareTransfers only
// uses cached accounts.
func (l *Ledger) CacheAccountsTx(ctx context.Context, tx pgx.Tx, tenantID int64, ids []int64) error {
	if _, err := l.accountsFor(ctx, tx, tenantID, ids); err != nil {
		return abortedUnless(err, ErrUnknownAccount)
	}
	return nil
}

// PrepareTransfers is QueueTransfers (without hold posts) for accounts the
// ledger has cached (CacheAccountsTx): it validates reqs with the same
// rules and errors, builds the same transfers, postings, running balances,
// fingerprints and metadata, and encodes the statement's parameters, but
// touches no connection, so it may run in another goroutine than the one
// using the transaction. An account not cached gives ErrUnknownAccount.
// The failures QueueTransfers leaves to the server are ExecTx's.
func (l *Ledger) PrepareTransfers(ctx context.Context, reqs []TransferRequest) (*PreparedTransfers, error) {
	l.mu.RLock()
	for _, r := range reqs {
		for _, p := range r.Postings {
			if _, ok := l.accounts[accountKey{r.TenantID, p.AccountID}]; !ok {
				l.mu.RUnlock()
				return nil, fmt.Errorf("%w: id %d in tenant %d not loaded (CacheAccountsTx)", ErrUnknownAccount, p.AccountID, r.TenantID)
			}
		}
	}
	l.mu.RUnlock()
	q, keys, args, err := l.queueArgs(ctx, reqs, nil)
	if err != nil {
		return nil, err
	}
	p := &PreparedTransfers{queued: q, keys: keys}
	if args == nil {
		return p, nil
	}
	m := pgtype.NewMap()
	pgxdecimal.Register(m)
	p.params = make([][]byte, len(args))
	for i, a := range args {
		if p.params[i], err = encodeBinary(m, queueTransfersOIDs[i], a); err != nil {
			return nil, fmt.Errorf("ledger: encode parameter %d of a group: %w", i+1, err)
		}
	}
	return p, nil
}

// ExecTx records the prepared group in tx, as the statement QueueTransfers
// queues, and returns its transfers with their ID and RecordedAt. A failure
// (an idempotency key used before, a floor breach, a closed period: see
// QueueTransfers; MapError maps them) aborts tx.
func (p *PreparedTransfers) ExecTx(ctx context.Context, tx pgx.Tx) (*Queued, error) {
	if p.params == nil {
		return p.queued, nil
	}
	conn := tx.Conn()
	rr := conn.PgConn().ExecParams(ctx, queueTransfersSQL, p.params, queueTransfersOIDs, queueTransfersFormats, queueTransfersResults)
	tm := conn.TypeMap()
	var scanErr error
	for rr.NextRow() {
		v := rr.Values()
		if len(v) != 3 || len(v[1]) != 8 {
			scanErr = fmt.Errorf("ledger: unexpected row of a group")
			continue
		}
		var at time.Time
		if err := tm.Scan(pgtype.TimestamptzOID, pgtype.BinaryFormatCode, v[2], &at); err != nil {
			scanErr = err
			continue
		}
		if i, ok := p.keys[string(v[0])]; ok {
			p.queued.Transfers[i].ID, p.queued.Transfers[i].RecordedAt = int64(binary.BigEndian.Uint64(v[1])), at
		}
	}
	if _, err := rr.Close(); err != nil {
		return nil, err
	}
	if scanErr != nil {
		return nil, scanErr
	}
	return p.queued, nil
}

// The types of queueTransfersSQL's parameters (those pgx finds when it
// prepares the statement), all sent in binary, and of its results.
var (
	queueTransfersOIDs = []uint32{
		pgtype.Int8OID, pgtype.TextArrayOID, pgtype.ByteaArrayOID, pgtype.TextArrayOID, pgtype.TimestamptzArrayOID, // $1–$5
		pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.Int8ArrayOID, pgtype.NumericArrayOID, // $6–$10
		pgtype.Int8ArrayOID, pgtype.TextArrayOID, pgtype.Int8ArrayOID, pgtype.NumericArrayOID, pgtype.NumericArrayOID, // $11–$15
		pgtype.NumericArrayOID, pgtype.Int8ArrayOID, pgtype.BoolArrayOID, pgtype.Int8ArrayOID, pgtype.NumericArrayOID, // $16–$20
		pgtype.Int8ArrayOID, pgtype.NumericArrayOID, pgtype.TextArrayOID, pgtype.TextArrayOID, pgtype.TimestamptzOID, // $21–$25
	}
	queueTransfersFormats = slices.Repeat([]int16{pgtype.BinaryFormatCode}, len(queueTransfersOIDs))
	queueTransfersResults = []int16{pgtype.TextFormatCode, pgtype.BinaryFormatCode, pgtype.BinaryFormatCode}
)

// appendTransferHash is transferHash(*r) without reflection: the SHA-256 of
// the same JSON bytes (encoding/json's, HTML-escaped, map keys sorted), so
// a key booked by either replays with the other. meta is
// appendMetadataJSON(r.Metadata).
func appendTransferHash(dst []byte, r *TransferRequest, meta []byte) []byte {
	var stack [512]byte
	b := append(stack[:0], `["transfer",`...)
	b = appendJSONString(b, r.Kind)
	b = append(b, ',')
	b = appendJSONString(b, r.Memo)
	b = append(b, ',')
	if r.Metadata == nil {
		b = append(b, "null"...) // json.Marshal of a nil map
	} else {
		b = append(b, meta...)
	}
	b = append(b, ",["...)
	var num [64]byte
	for i, p := range r.Postings {
		if i > 0 {
			b = append(b, ',')
		}
		s := strconv.AppendInt(num[:0], p.AccountID, 10)
		s = append(s, ':')
		s = append(s, p.Amount.StringFixed(2)...)
		b = appendJSONBytes(b, s)
	}
	b = append(b, "],"...)
	if r.OccurredAt.IsZero() {
		b = append(b, `""`...)
	} else {
		var ts [64]byte
		b = appendJSONBytes(b, r.OccurredAt.UTC().AppendFormat(ts[:0], time.RFC3339Nano))
	}
	b = append(b, ']')
	h := sha256.Sum256(b)
	return append(dst, h[:]...)
}

// appendMetadataJSON is metadataJSON without reflection: the same bytes.
func appendMetadataJSON(dst []byte, m map[string]string) []byte {
	if len(m) == 0 {
		return append(dst, "{}"...)
	}
	var stack [8]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, m[k])
	}
	return append(dst, '}')
}

func appendJSONBytes(dst, s []byte) []byte {
	// A string(s) conversion passed straight to a call that does not keep it
	// is not copied by the compiler.
	return appendJSONString(dst, string(s))
}

// appendJSONString appends s as encoding/json writes a string with HTML
// escaping on (json.Marshal): <, > and & as \u003c…, control characters
// escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// encodeBinary encodes a parameter of queueTransfersSQL in PostgreSQL's
// binary format, the bytes pgx's m.Encode gives (TestEncodeBinaryIsPgx),
// without its reflection and big-number arithmetic for the arrays a group
// holds; any other value (and an empty array) is m's.
func encodeBinary(m *pgtype.Map, oid uint32, a any) ([]byte, error) {
	var n int
	switch v := a.(type) {
	case []string:
		n = len(v)
	case [][]byte:
		n = len(v)
	case []int64:
		n = len(v)
	case []*int64:
		n = len(v)
	case []bool:
		n = len(v)
	case []time.Time:
		n = len(v)
	case []decimal.Decimal:
		n = len(v)
	case []decimal.NullDecimal:
		n = len(v)
	default:
		return m.Encode(oid, pgtype.BinaryFormatCode, a, nil)
	}
	if n == 0 || reflectNil(a) {
		return m.Encode(oid, pgtype.BinaryFormatCode, a, nil)
	}
	elem, ok := m.TypeForOID(oid)
	ac, isArray := elem.Codec.(*pgtype.ArrayCodec)
	if !ok || !isArray {
		return m.Encode(oid, pgtype.BinaryFormatCode, a, nil)
	}
	buf := make([]byte, 20, 20+n*16)
	binary.BigEndian.PutUint32(buf[0:], 1) // dimensions
	binary.BigEndian.PutUint32(buf[8:], ac.ElementType.OID)
	binary.BigEndian.PutUint32(buf[12:], uint32(n))
	binary.BigEndian.PutUint32(buf[16:], 1) // lower bound
	null := false
	var err error
	switch v := a.(type) {
	case []string:
		for _, s := range v {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
			buf = append(buf, s...)
		}
	case [][]byte:
		for _, s := range v {
			if s == nil {
				buf, null = binary.BigEndian.AppendUint32(buf, math.MaxUint32), true
				continue
			}
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
			buf = append(buf, s...)
		}
	case []int64:
		for _, x := range v {
			buf = binary.BigEndian.AppendUint32(buf, 8)
			buf = binary.BigEndian.AppendUint64(buf, uint64(x))
		}
	case []*int64:
		for _, x := range v {
			if x == nil {
				buf, null = binary.BigEndian.AppendUint32(buf, math.MaxUint32), true
				continue
			}
			buf = binary.BigEndian.AppendUint32(buf, 8)
			buf = binary.BigEndian.AppendUint64(buf, uint64(*x))
		}
	case []bool:
		for _, x := range v {
			buf = binary.BigEndian.AppendUint32(buf, 1)
			if x {
				buf = append(buf, 1)
			} else {
				buf = append(buf, 0)
			}
		}
	case []time.Time:
		for _, t := range v {
			buf = binary.BigEndian.AppendUint32(buf, 8)
			us := t.Unix()*1_000_000 + int64(t.Nanosecond())/1000 - microsecFromUnixEpochToY2K
			buf = binary.BigEndian.AppendUint64(buf, uint64(us))
		}
	case []decimal.Decimal:
		for _, d := range v {
			if buf, err = appendNumeric(m, buf, d); err != nil {
				return nil, err
			}
		}
	case []decimal.NullDecimal:
		for _, d := range v {
			if !d.Valid {
				buf, null = binary.BigEndian.AppendUint32(buf, math.MaxUint32), true
				continue
			}
			if buf, err = appendNumeric(m, buf, d.Decimal); err != nil {
				return nil, err
			}
		}
	}
	if null {
		binary.BigEndian.PutUint32(buf[4:], 1)
	}
	return buf, nil
}

const microsecFromUnixEpochToY2K = 946_684_800 * 1_000_000

func reflectNil(a any) bool {
	switch v := a.(type) {
	case []string:
		return v == nil
	case [][]byte:
		return v == nil
	case []int64:
		return v == nil
	case []*int64:
		return v == nil
	case []bool:
		return v == nil
	case []time.Time:
		return v == nil
	case []decimal.Decimal:
		return v == nil
	case []decimal.NullDecimal:
		return v == nil
	}
	return false
}

// appendNumeric appends d as an element of a binary numeric array, with
// the digits, weight and scale pgx writes (encodeNumericBinary), computed
// on 64-bit integers; a coefficient of more than 15 digits or an exponent
// beyond ±16 is left to pgx.
func appendNumeric(m *pgtype.Map, buf []byte, d decimal.Decimal) ([]byte, error) {
	e := d.Exponent()
	if d.NumDigits() > 15 || e < -16 || e > 16 {
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		out, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, pgxdecimal.Decimal(d), buf)
		if err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint32(out[at:], uint32(len(out)-at-4))
		return out, nil
	}
	c := d.CoefficientInt64()
	var sign uint16
	abs := uint64(c)
	if c < 0 {
		sign, abs = 16384, uint64(-c)
	}
	exp := e
	switch e % 4 {
	case 1, -3:
		exp, abs = e-1, abs*10
	case 2, -2:
		exp, abs = e-2, abs*100
	case 3, -1:
		exp, abs = e-3, abs*1000
	}
	var whole, frac uint64
	if exp < 0 {
		div := uint64(1)
		for i := int32(0); i < -exp; i++ {
			div *= 10
		}
		whole, frac = abs/div, abs%div+div
	} else {
		whole = abs
	}
	var wd, fd [8]uint16 // least significant first
	nw, nf := 0, 0
	for ; whole != 0; whole /= 10000 {
		wd[nw] = uint16(whole % 10000)
		nw++
	}
	if frac != 0 {
		for ; frac != 1; frac /= 10000 {
			fd[nf] = uint16(frac % 10000)
			nf++
		}
	}
	var weight int64
	if nw > 0 {
		weight = int64(nw - 1)
		if exp > 0 {
			weight += int64(exp) / 4
		}
	} else {
		weight = int64(exp)/4 - 1 + int64(nf)
	}
	var dscale uint16
	if e < 0 {
		dscale = uint16(-e)
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(8+2*(nw+nf)))
	buf = binary.BigEndian.AppendUint16(buf, uint16(nw+nf))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, sign)
	buf = binary.BigEndian.AppendUint16(buf, dscale)
	for i := nw - 1; i >= 0; i-- {
		buf = binary.BigEndian.AppendUint16(buf, wd[i])
	}
	for i := nf - 1; i >= 0; i-- {
		buf = binary.BigEndian.AppendUint16(buf, fd[i])
	}
	return buf, nil
}
