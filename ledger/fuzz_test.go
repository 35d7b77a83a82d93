package ledger

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// FuzzValidate feeds random posting sets to the pure validation of a
// transfer request and compares its verdict with an oracle in exact
// rational arithmetic (math/big): fewer than two postings, an amount that is
// zero, has more than two decimals or is 10¹² or more, and postings that do
// not sum to zero must each be refused with their own error; anything else
// accepted.
//
//	go test ./ledger -run '^$' -fuzz FuzzValidate -fuzztime 30s
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"3.70;-3.70", "1;-1", "0.1;0.2;-0.3", "1.10;-1.1", "-5;2.5;2.5",
		"1", "", "1.005;-1.005", "0;0", "0.00;1;-1", "1;-0.99",
		"999999999999.99;-999999999999.99", "1000000000000;-1000000000000",
		"1e-2;-0.01", "1.5e1;-15", "-0;0", "0.001;-0.001", "12.345;-12.345",
		"100;-33.33;-33.33;-33.34",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var ps []Posting
		var rats []*big.Rat
		if s != "" {
			for _, part := range strings.Split(s, ";") {
				d, err := decimal.NewFromString(part)
				if err != nil {
					return
				}
				// Huge exponents are out of reach of any caller (amounts come
				// from strict parsing) and only make big-number arithmetic slow.
				if e := d.Exponent(); e > 30 || e < -30 {
					return
				}
				r, ok := new(big.Rat).SetString(part)
				if !ok {
					t.Fatalf("decimal parsed %q, big.Rat did not", part)
				}
				ps = append(ps, Posting{AccountID: int64(len(ps) + 1), Amount: d})
				rats = append(rats, r)
			}
		}
		want := oracle(rats)
		err := validate(&TransferRequest{IdempotencyKey: "k", Kind: "fuzz", Postings: ps})
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("validate(%q) = %v, want %v", s, err, want)
		}
		for _, other := range []error{ErrTooFewPostings, ErrInvalidAmount, ErrUnbalanced, ErrInvalidRequest} {
			if other != want && errors.Is(err, other) {
				t.Fatalf("validate(%q) = %v, also matches %v", s, err, other)
			}
		}
		if err == nil {
			var cents int64
			for _, p := range ps {
				cents += p.Amount.Shift(2).IntPart()
			}
			if cents != 0 {
				t.Fatalf("validate(%q) accepted postings summing to %d cents", s, cents)
			}
		}
	})
}

// oracle is the rule for a posting set, in exact rationals.
func oracle(amounts []*big.Rat) error {
	if len(amounts) < 2 {
		return ErrTooFewPostings
	}
	hundred, limit := big.NewRat(100, 1), new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(12), nil))
	sum := new(big.Rat)
	for _, a := range amounts {
		if a.Sign() == 0 || !new(big.Rat).Mul(a, hundred).IsInt() || new(big.Rat).Abs(a).Cmp(limit) >= 0 {
			return ErrInvalidAmount
		}
		sum.Add(sum, a)
	}
	if sum.Sign() != 0 {
		return ErrUnbalanced
	}
	return nil
}

// FuzzCheckAmount checks the cents rule on single amounts, with and
// without zero allowed (floors may be zero, postings may not).
func FuzzCheckAmount(f *testing.F) {
	for _, s := range []string{"3.70", "0", "-0.01", "0.001", "1e-2", "999999999999.99", "1000000000000", "-1000000000000", "2.50000"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, zeroOK bool) {
		d, err := decimal.NewFromString(s)
		if err != nil || d.Exponent() > 30 || d.Exponent() < -30 {
			return
		}
		r, _ := new(big.Rat).SetString(s)
		want := oracle([]*big.Rat{r, new(big.Rat).Neg(r)})
		if zeroOK && r.Sign() == 0 {
			want = nil
		}
		got := checkAmount(d, zeroOK)
		if (got == nil) != (want == nil) || got != nil && !errors.Is(got, ErrInvalidAmount) {
			t.Fatalf("checkAmount(%q, zeroOK=%v) = %v, want %v", s, zeroOK, got, want)
		}
	})
}
