package ledger

import (
	"bytes"
	"testing"
	"time"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"
)

// TestAppendTransferHashIsTransferHash: the fingerprints and metadata of
// PrepareTransfers and QueueTransfers are byte for byte those of
// encoding/json (transferHash, metadataJSON), so that transfers booked by
// either replay with the other and with TransferTx.
func TestAppendTransferHashIsTransferHash(t *testing.T) {
	odd := []string{"", "plain", `quote " back \ slash`, "<b>&amp;</b>", "tab\tnew\nline\r\b\f\x00\x1f\x7f",
		"Élève Müller — ça", "bad \xff\xfe utf8 \xc3", "sep \u2028 and \u2029", "emoji 😀", "+++090/9337/55493+++",
		"\xed\xa0\x80 surrogate", "€"}
	at := time.Date(2026, 6, 1, 9, 30, 0, 123456789, time.FixedZone("CEST", 7200))
	var reqs []TransferRequest
	for i, s := range odd {
		reqs = append(reqs,
			TransferRequest{Kind: s, Memo: odd[(i+1)%len(odd)], OccurredAt: at,
				Metadata: map[string]string{s: odd[(i+2)%len(odd)], "bank_movement": "coda:BE1", "z": s, "a" + s: ""},
				Postings: []Posting{{AccountID: int64(i + 1), Amount: decimal.RequireFromString("12.5")}, {AccountID: 1 << 40, Amount: decimal.RequireFromString("-12.50")}}},
			TransferRequest{Kind: "k", Memo: s, Metadata: map[string]string{},
				Postings: []Posting{{AccountID: 7, Amount: decimal.New(-5, -2)}, {AccountID: 8, Amount: decimal.New(5, 0)}}},
			TransferRequest{Kind: "k", Memo: s, OccurredAt: time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC),
				Postings: []Posting{{AccountID: 7, Amount: decimal.New(123456789012, -2)}}},
		)
	}
	for i, r := range reqs {
		if got, want := appendTransferHash(nil, &r, appendMetadataJSON(nil, r.Metadata)), transferHash(r); !bytes.Equal(got, want) {
			t.Errorf("request %d (%q): hash %x, want %x", i, r.Memo, got, want)
		}
		if got, want := appendMetadataJSON(nil, r.Metadata), metadataJSON(r.Metadata); !bytes.Equal(got, want) {
			t.Errorf("request %d: metadata %s, want %s", i, got, want)
		}
	}
}

// TestEncodeBinaryIsPgx: the arrays PrepareTransfers encodes itself are
// the bytes pgx sends for them (the same values reach the server).
func TestEncodeBinaryIsPgx(t *testing.T) {
	m := pgtype.NewMap()
	pgxdecimal.Register(m)
	one, two := int64(1), int64(-1<<40)
	var decs []decimal.Decimal
	var nulls []decimal.NullDecimal
	for _, s := range []string{"0", "0.00", "-0.01", "12.5", "-12.50", "1", "10", "10000", "99999999.99", "-123456789012.34",
		"0.0001", "1e3", "1e7", "-5e12", "123456789012345", "1234567890123456789", "0.12345678901234567", "1e-20", "7e20",
		"4.2", "-4.20", "100000000", "0.5", "50", "1234.5678", "-0.00001"} {
		x := decimal.RequireFromString(s)
		decs = append(decs, x, x.Neg(), x.Add(decimal.New(1, -2)), x.Mul(decimal.New(3, 1)))
		nulls = append(nulls, decimal.NullDecimal{Decimal: x, Valid: true}, decimal.NullDecimal{})
	}
	for i := int32(-18); i <= 18; i++ {
		decs = append(decs, decimal.New(7, i), decimal.New(-123456, i), decimal.New(999999999999999, i))
	}
	at := time.Date(2026, 6, 1, 9, 30, 0, 123456789, time.FixedZone("CEST", 7200))
	cases := []struct {
		oid uint32
		v   any
	}{
		{pgtype.Int8OID, int64(42)},
		{pgtype.TextArrayOID, []string{"a", "", "Élève \x00?", "coda:BE:2026"}},
		{pgtype.TextArrayOID, []string{}},
		{pgtype.TextArrayOID, []string(nil)},
		{pgtype.ByteaArrayOID, [][]byte{{1, 2, 3}, {}, nil}},
		{pgtype.ByteaArrayOID, [][]byte{{0xff}}},
		{pgtype.Int8ArrayOID, []int64{0, -1, 1 << 62, 7}},
		{pgtype.Int8ArrayOID, []int64(nil)},
		{pgtype.Int8ArrayOID, []*int64{&one, nil, &two}},
		{pgtype.Int8ArrayOID, []*int64{&one}},
		{pgtype.Int8ArrayOID, []*int64(nil)},
		{pgtype.BoolArrayOID, []bool{true, false, true}},
		{pgtype.TimestamptzArrayOID, []time.Time{at, at.UTC(), time.Date(1999, 12, 31, 23, 59, 59, 999, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{pgtype.NumericArrayOID, decs},
		{pgtype.NumericArrayOID, []decimal.Decimal{}},
		{pgtype.NumericArrayOID, nulls},
		{pgtype.NumericArrayOID, nulls[:1]},
		{pgtype.NumericArrayOID, []decimal.NullDecimal(nil)},
		{pgtype.TimestamptzOID, at},
	}
	for i, c := range cases {
		want, werr := m.Encode(c.oid, pgtype.BinaryFormatCode, c.v, nil)
		got, err := encodeBinary(m, c.oid, c.v)
		if err != nil || werr != nil || !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("case %d (%T): %x, %v; pgx %x, %v", i, c.v, got, err, want, werr)
		}
	}
	for _, x := range decs {
		want, _ := m.Encode(pgtype.NumericArrayOID, pgtype.BinaryFormatCode, []decimal.Decimal{x}, nil)
		if got, _ := encodeBinary(m, pgtype.NumericArrayOID, []decimal.Decimal{x}); !bytes.Equal(got, want) {
			t.Errorf("%s: %x, pgx %x", x, got, want)
		}
	}
}
