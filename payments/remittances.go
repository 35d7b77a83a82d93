package payments

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/school"
)

// Cash remittances (dépôts d'espèces)
//
// Cash taken from a kiosk drawer to the bank is a remittance: recording it
// (RecordRemittanceTx, called by the kiosk screens under the drawer's lock)
// books cash:<kiosk> → cash-in-transit under the key kiosk-remit:<form
// token> and gives it a reference printed on the slip and the bag
// (DEP-2026-7KQ4XM). When a CODA statement shows a credit of the same
// amount, valued on the remittance day or up to RemittanceDateWindow days
// later, whose communication carries the reference, the import books bank ←
// cash-in-transit under the key cash-remittance:<reference> and marks the
// remittance arrived — the same design as Stripe payouts (matchPayout,
// AllocatePayout). A credit of the right amount without the reference is
// never guessed: it waits in suspense, and a person allocates it to the
// remittance (AllocateRemittance: suspense ← cash-in-transit, same key).

// CodeCashInTransit is the chart code of cash on its way from a drawer to
// the bank (PCMN 58, virements internes).
const CodeCashInTransit = "cash-in-transit"

// Ledger kinds of remittances.
const (
	KindCashRemittance    = "cash-remittance"         // cash:<kiosk> → cash-in-transit
	KindRemittanceArrival = "cash-remittance-arrival" // bank (or suspense) ← cash-in-transit
)

const memoRemittanceArrival = "Dépôt d'espèces arrivé en banque"

// RemittanceDateWindow is how many days after the remittance day the bank
// line's value date (else its entry date) may be.
const RemittanceDateWindow = 10

// MaxCarrierLen is the longest carrier name accepted, in characters.
const MaxCarrierLen = 80

// referenceAlphabet has no 0/O, 1/I/L: a reference read aloud or typed from
// the slip is not mistaken.
const referenceAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// referenceLen random characters follow DEP-<year>-: 31⁶ ≈ 887 million.
const referenceLen = 6

// Errors of remittances.
var (
	// ErrDrawerShort: the remittance is more than the drawer holds (see
	// *DrawerShortError).
	ErrDrawerShort = errors.New("payments: remittance exceeds what the drawer holds")
	// ErrFormUsed: the form token was already used for another remittance
	// (another drawer, amount or carrier).
	ErrFormUsed = errors.New("payments: form already submitted with other values")
)

// DrawerShortError reports a remittance larger than the drawer's balance.
type DrawerShortError struct {
	Amount, Holds decimal.Decimal
}

func (e *DrawerShortError) Error() string {
	return fmt.Sprintf("payments: remittance of %s EUR exceeds the %s EUR the drawer holds", e.Amount.StringFixed(2), e.Holds.StringFixed(2))
}

// Unwrap makes errors.Is(err, ErrDrawerShort) true.
func (e *DrawerShortError) Unwrap() error { return ErrDrawerShort }

// RemittanceRequest is cash taken from a kiosk drawer to the bank.
type RemittanceRequest struct {
	TenantID      int64
	StationID     int64  // the kiosk station
	Station       string // its code, for the memo
	CashAccountID int64  // the drawer account cash:<kiosk>
	Amount        decimal.Decimal
	Carrier       string // who takes the cash to the bank (may be empty)
	FormToken     string // one-time token of the form
	Actor         string
	At            time.Time // when it was recorded
	Day           time.Time // the school-local day (its date is stored)
}

// Remittance is a recorded cash remittance.
type Remittance struct {
	TenantID   int64
	ID         int64
	Reference  string
	StationID  int64
	Station    string // station code
	Amount     decimal.Decimal
	Carrier    string
	RemittedOn time.Time // the school-local day (midnight UTC of that date)
	TransferID int64     // cash:<kiosk> → cash-in-transit
	Actor      string
	CreatedAt  time.Time
	FormToken  string
	// Arrival at the bank: the bank line that showed it and the transfer
	// from cash-in-transit (0 and nil while in transit).
	BankMovementKey   string
	ArrivalTransferID int64
	ArrivedAt         *time.Time
	ArrivedBy         string
	// Replay is true when a repeated request returned this remittance.
	Replay bool
}

// Arrived reports whether the bank showed the remittance.
func (r Remittance) Arrived() bool { return r.ArrivalTransferID != 0 }

// AgeDays is how many days r has been in transit on day (both dates).
func (r Remittance) AgeDays(day time.Time) int {
	d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	return int(d.Sub(r.RemittedOn).Hours() / 24)
}

// CashInTransitAccount returns the tenant's cash-in-transit account id,
// creating it if needed (tenants created before it get it on first use).
func CashInTransitAccount(ctx context.Context, l *ledger.Ledger, tenantID int64) (int64, error) {
	return account(ctx, l, tenantID, CodeCashInTransit)
}

// newReference returns DEP-<year>-<6 characters of referenceAlphabet>.
func newReference(year int) (string, error) {
	b := make([]byte, referenceLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("payments: remittance reference: %w", err)
	}
	for i := range b {
		// 256 mod 31 ≠ 0: the first 8 letters are very slightly likelier,
		// which costs under one bit of the ~29.
		b[i] = referenceAlphabet[int(b[i])%len(referenceAlphabet)]
	}
	return fmt.Sprintf("DEP-%04d-%s", year, b), nil
}

// compactRef keeps the letters and digits of s, upper-cased: a reference
// copied by a bank clerk as "dep 2026 7kq4xm" or "DEP20267KQ4XM" compares
// equal to DEP-2026-7KQ4XM.
func compactRef(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		}
	}
	return b.String()
}

// checkCarrier returns the carrier name trimmed, or ErrInvalidRequest when
// it is longer than MaxCarrierLen characters or holds control characters.
func checkCarrier(s string) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxCarrierLen || !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: carrier name longer than %d characters", ErrInvalidRequest, MaxCarrierLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: carrier name holds a control character", ErrInvalidRequest)
		}
	}
	return s, nil
}

// RecordRemittanceTx records a cash remittance inside tx: the transfer
// cash:<kiosk> → cash-in-transit (key kiosk-remit:<form token>) and the
// remittance row commit together. The caller holds the drawer's lock in tx
// (terminal's drawer advisory lock), so that the drawer balance read here
// stays true until the commit.
//
// A request repeated with the same form token returns the first remittance
// (Replay set, nothing written); with another drawer, amount or carrier it
// returns ErrFormUsed. It returns ErrInvalidRequest (amount not positive or
// with more than two decimals, no form token, bad carrier name), a
// *DrawerShortError (ErrDrawerShort) when the amount is more than the
// drawer's posted balance, or a ledger or database error (wrapping
// ledger.ErrTxAborted when tx must be rolled back). Nothing is written when
// it returns an error.
func (b *Bank) RecordRemittanceTx(ctx context.Context, tx pgx.Tx, req RemittanceRequest) (Remittance, error) {
	if !req.Amount.IsPositive() || !req.Amount.Equal(req.Amount.Round(2)) {
		return Remittance{}, fmt.Errorf("%w: remittance amount %s is not a positive amount in cents", ErrInvalidRequest, req.Amount.String())
	}
	if req.FormToken == "" || req.StationID == 0 || req.CashAccountID == 0 || req.Actor == "" {
		return Remittance{}, fmt.Errorf("%w: remittance needs a form token, a station, its drawer account and an actor", ErrInvalidRequest)
	}
	carrier, err := checkCarrier(req.Carrier)
	if err != nil {
		return Remittance{}, err
	}
	amount := req.Amount.Round(2)
	prev, err := remittanceWhere(ctx, tx, `r.tenant_id = $1 AND r.form_token = $2`, req.TenantID, req.FormToken)
	if err == nil {
		if prev.StationID != req.StationID || !prev.Amount.Equal(amount) || prev.Carrier != carrier {
			return Remittance{}, fmt.Errorf("%w: remittance %s", ErrFormUsed, prev.Reference)
		}
		prev.Station, prev.Replay = req.Station, true
		return prev, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Remittance{}, err
	}
	transit, err := CashInTransitAccount(ctx, b.ledger, req.TenantID)
	if err != nil {
		return Remittance{}, err
	}
	// The drawer is an asset: its posted balance is the cash it holds, read
	// by the ledger in this transaction.
	bal, err := b.ledger.BalanceTx(ctx, tx, req.TenantID, req.CashAccountID)
	if err != nil {
		return Remittance{}, fmt.Errorf("payments: drawer balance: %w", err)
	}
	holds := bal.Posted
	if amount.GreaterThan(holds) {
		return Remittance{}, &DrawerShortError{Amount: amount, Holds: holds}
	}
	day := time.Date(req.Day.Year(), req.Day.Month(), req.Day.Day(), 0, 0, 0, 0, time.UTC)
	var ref string
	for range 5 {
		if ref, err = newReference(day.Year()); err != nil {
			return Remittance{}, err
		}
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cash_remittances WHERE tenant_id = $1 AND reference = $2)`,
			req.TenantID, ref).Scan(&taken); err != nil {
			return Remittance{}, fmt.Errorf("payments: remittance reference: %w", err)
		}
		if !taken {
			break
		}
		ref = ""
	}
	if ref == "" {
		return Remittance{}, errors.New("payments: no free remittance reference after 5 draws")
	}
	meta := map[string]string{"station": req.Station, "reference": ref, "form_token": req.FormToken}
	if carrier != "" {
		meta["carrier"] = carrier
	}
	tr, err := b.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
		TenantID: req.TenantID, IdempotencyKey: "kiosk-remit:" + req.FormToken, Kind: KindCashRemittance, Actor: req.Actor,
		OccurredAt: req.At,
		Memo:       "Dépôt d'espèces " + ref + " (" + req.Station + ")",
		Metadata:   meta,
		Postings:   []ledger.Posting{{AccountID: transit, Amount: amount}, {AccountID: req.CashAccountID, Amount: amount.Neg()}},
	})
	if errors.Is(err, ledger.ErrIdempotencyConflict) {
		return Remittance{}, fmt.Errorf("%w: %w", ErrFormUsed, err)
	}
	if err != nil {
		return Remittance{}, fmt.Errorf("payments: remittance %s: %w", ref, err)
	}
	r := Remittance{TenantID: req.TenantID, Reference: ref, StationID: req.StationID, Station: req.Station, Amount: amount,
		Carrier: carrier, RemittedOn: day, TransferID: tr.ID, Actor: req.Actor, CreatedAt: req.At, FormToken: req.FormToken}
	err = tx.QueryRow(ctx, `INSERT INTO cash_remittances (tenant_id, reference, form_token, station_id, cash_account_id, amount, carrier,
			remitted_on, transfer_id, actor, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		req.TenantID, ref, req.FormToken, req.StationID, req.CashAccountID, amount, carrier, day, tr.ID, req.Actor, req.At).Scan(&r.ID)
	if err != nil {
		return Remittance{}, fmt.Errorf("payments: record remittance %s: %w", ref, err)
	}
	return r, nil
}

// remittanceCols are a remittance's columns, without its station's code
// (read through school: withStationCodes).
const remittanceCols = `r.tenant_id, r.id, r.reference, r.station_id, r.amount, r.carrier, r.remitted_on, r.transfer_id, r.actor,
	r.created_at, r.form_token, coalesce(r.bank_movement_key, ''), coalesce(r.arrival_transfer_id, 0), r.arrived_at, coalesce(r.arrived_by, '')
	FROM cash_remittances r`

func scanRemittance(row pgx.Row) (Remittance, error) {
	var r Remittance
	err := row.Scan(&r.TenantID, &r.ID, &r.Reference, &r.StationID, &r.Amount, &r.Carrier, &r.RemittedOn, &r.TransferID, &r.Actor,
		&r.CreatedAt, &r.FormToken, &r.BankMovementKey, &r.ArrivalTransferID, &r.ArrivedAt, &r.ArrivedBy)
	return r, err
}

// withStationCodes fills in the remittances (of one tenant) their
// station's code, read through school on q in one query.
func withStationCodes(ctx context.Context, q school.Querier, rs []Remittance) error {
	if len(rs) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.StationID)
	}
	slices.Sort(ids)
	stations, err := school.ReadStations(ctx, q, rs[0].TenantID, slices.Compact(ids))
	if err != nil {
		return fmt.Errorf("payments: remittances' stations: %w", err)
	}
	for i, r := range rs {
		st, ok := stations[r.StationID]
		if !ok {
			return fmt.Errorf("payments: remittance %s: station %d not found", r.Reference, r.StationID)
		}
		rs[i].Station = st.Code
	}
	return nil
}

// remittanceWhere returns the remittance where says, without its
// station's code (withStationCodes), or ErrNotFound.
func remittanceWhere(ctx context.Context, q querier, where string, args ...any) (Remittance, error) {
	r, err := scanRemittance(q.QueryRow(ctx, `SELECT `+remittanceCols+` WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return Remittance{}, ErrNotFound
	}
	if err != nil {
		return Remittance{}, fmt.Errorf("payments: read remittance: %w", err)
	}
	return r, nil
}

// RemittanceByReference returns the tenant's remittance with this
// reference, or ErrNotFound.
func (b *Bank) RemittanceByReference(ctx context.Context, tenantID int64, ref string) (Remittance, error) {
	r, err := remittanceWhere(ctx, b.pool, `r.tenant_id = $1 AND r.reference = $2`, tenantID, ref)
	if errors.Is(err, ErrNotFound) {
		return Remittance{}, fmt.Errorf("%w: remittance %q", ErrNotFound, ref)
	}
	if err != nil {
		return Remittance{}, err
	}
	rs := []Remittance{r}
	if err := withStationCodes(ctx, b.pool, rs); err != nil {
		return Remittance{}, err
	}
	return rs[0], nil
}

func (b *Bank) remittances(ctx context.Context, where string, args ...any) ([]Remittance, error) {
	rows, err := b.pool.Query(ctx, `SELECT `+remittanceCols+` WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("payments: remittances: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Remittance, error) { return scanRemittance(r) })
	if err != nil {
		return nil, fmt.Errorf("payments: remittances: %w", err)
	}
	if err := withStationCodes(ctx, b.pool, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RemittancesInTransit returns the tenant's remittances no bank line has
// shown yet, oldest first. One listed well after its day has not been seen
// on an imported statement: look for it in suspense (Unallocated) or ask
// the bank.
func (b *Bank) RemittancesInTransit(ctx context.Context, tenantID int64) ([]Remittance, error) {
	return b.remittances(ctx, `r.tenant_id = $1 AND r.arrival_transfer_id IS NULL ORDER BY r.remitted_on, r.id`, tenantID)
}

// StationRemittances returns the remittances of a kiosk station recorded in
// [from, to), oldest first.
func (b *Bank) StationRemittances(ctx context.Context, tenantID, stationID int64, from, to time.Time) ([]Remittance, error) {
	return b.remittances(ctx, `r.tenant_id = $1 AND r.station_id = $2 AND r.created_at >= $3 AND r.created_at < $4 ORDER BY r.created_at, r.id`,
		tenantID, stationID, from, to)
}

// remittanceCandidate is an open remittance a bank line may be.
type remittanceCandidate struct {
	ref     string
	claimed bool // already claimed by this very line (an import stopped half-way)
}

// matchRemittance books a credit line as the cash remittance it is, if
// any: same amount as a remittance in transit, value date (else entry
// date) on the remittance day or up to RemittanceDateWindow days later, and
// the reference in the communication (structured or free; letters and
// digits compared, case, spaces and dashes ignored). The remittance is
// claimed for the line first (so two lines never take the same remittance),
// then booked bank ← cash-in-transit under the key
// cash-remittance:<reference>, then marked arrived. It reports whether the
// line was a remittance.
func (b *Bank) matchRemittance(ctx context.Context, tx pgx.Tx, tenantID int64, line *BankLine, acc codaAccounts, actor string) (bool, error) {
	date := line.ValueDate
	if date.IsZero() {
		date = line.EntryDate
	}
	rows, err := tx.Query(ctx, `
		SELECT reference, bank_movement_key IS NOT NULL FROM cash_remittances
		WHERE tenant_id = $1 AND amount = $2
			AND ((bank_movement_key IS NULL AND arrival_transfer_id IS NULL) OR bank_movement_key = $3)
			AND remitted_on BETWEEN $4::date - $5::int AND $4::date
		ORDER BY bank_movement_key IS NOT NULL DESC, remitted_on, id`,
		tenantID, line.Amount, line.Key, date, RemittanceDateWindow)
	if err != nil {
		return false, fmt.Errorf("payments: remittances for movement %s: %w", line.Key, err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (remittanceCandidate, error) {
		var c remittanceCandidate
		err := r.Scan(&c.ref, &c.claimed)
		return c, err
	})
	if err != nil {
		return false, fmt.Errorf("payments: remittances for movement %s: %w", line.Key, err)
	}
	text := compactRef(line.OGM + " " + line.Communication)
	var pick *remittanceCandidate
	for i := range cands {
		if cands[i].claimed || strings.Contains(text, compactRef(cands[i].ref)) {
			pick = &cands[i]
			break
		}
	}
	if pick == nil {
		return false, nil
	}
	if !pick.claimed {
		claimed, err := b.claimRemittance(ctx, tx, tenantID, pick.ref, line.Key)
		if err != nil {
			return false, err
		}
		if !claimed {
			return false, fmt.Errorf("payments: remittance %s was claimed by another movement during the import of %s; import again", pick.ref, line.Key)
		}
	}
	tr, err := b.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
		TenantID:       tenantID,
		IdempotencyKey: "cash-remittance:" + pick.ref,
		Kind:           KindRemittanceArrival,
		OccurredAt:     line.EntryDate,
		Actor:          actor,
		Memo:           memoRemittanceArrival + " " + pick.ref,
		Metadata:       map[string]string{"remittance": pick.ref, "bank_movement": line.Key},
		Postings: []ledger.Posting{
			{AccountID: acc.bank, Amount: line.Amount},
			{AccountID: acc.transit, Amount: line.Amount.Neg()},
		},
	})
	if err != nil {
		return false, fmt.Errorf("payments: book remittance %s from movement %s: %w", pick.ref, line.Key, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE cash_remittances SET arrival_transfer_id = $4, arrived_at = now(), arrived_by = $5
		WHERE tenant_id = $1 AND reference = $2 AND bank_movement_key = $3 AND arrival_transfer_id IS NULL`,
		tenantID, pick.ref, line.Key, tr.ID, actor); err != nil {
		return false, fmt.Errorf("payments: mark remittance %s arrived: %w", pick.ref, err)
	}
	line.RemittanceRef, line.TransferID = pick.ref, tr.ID
	b.log.InfoContext(ctx, "payments: cash remittance reconciled with its bank line", "tenant_id", tenantID, "remittance", pick.ref,
		"bank_movement", line.Key, "amount", line.Amount.StringFixed(2), "transfer_id", tr.ID)
	return true, nil
}

// claimRemittance ties a remittance still in transit to bank movement key;
// false when another movement holds it.
func (b *Bank) claimRemittance(ctx context.Context, q dbtx, tenantID int64, ref, key string) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE cash_remittances SET bank_movement_key = $3
		WHERE tenant_id = $1 AND reference = $2 AND (bank_movement_key IS NULL OR bank_movement_key = $3) AND arrival_transfer_id IS NULL`,
		tenantID, ref, key)
	if err != nil {
		return false, fmt.Errorf("payments: claim remittance %s for movement %s: %w", ref, key, err)
	}
	return tag.RowsAffected() > 0, nil
}

// AllocateRemittance reconciles a movement waiting in suspense with a cash
// remittance in transit of the same amount, for a deposit line whose
// communication did not carry the reference: suspense ← cash-in-transit
// under the key cash-remittance:<reference>, the remittance marked arrived
// and the movement "remittance". It returns ErrNotFound when the movement
// is not in suspense or the remittance does not fit (unknown, arrived, or
// of another amount), and the transfer id otherwise.
func (b *Bank) AllocateRemittance(ctx context.Context, tenantID int64, key, ref, actor string) (int64, error) {
	var amount decimal.Decimal
	err := b.pool.QueryRow(ctx, `SELECT m.amount FROM bank_movements m, cash_remittances r
		WHERE m.tenant_id = $1 AND m.key = $2 AND m.status = 'suspense' AND r.tenant_id = $1 AND r.reference = $3
			AND r.amount = m.amount AND r.arrival_transfer_id IS NULL AND (r.bank_movement_key IS NULL OR r.bank_movement_key = $2)`,
		tenantID, key, ref).Scan(&amount)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("%w: movement %s waiting in suspense and remittance %s of the same amount in transit", ErrNotFound, key, ref)
	}
	if err != nil {
		return 0, fmt.Errorf("payments: allocate %s to remittance %s: %w", key, ref, err)
	}
	claimed, err := b.claimRemittance(ctx, b.pool, tenantID, ref, key)
	if err != nil {
		return 0, err
	}
	if !claimed {
		return 0, fmt.Errorf("%w: remittance %s was reconciled meanwhile", ErrNotFound, ref)
	}
	suspense, err := account(ctx, b.ledger, tenantID, CodeSuspense)
	if err != nil {
		return 0, err
	}
	transit, err := CashInTransitAccount(ctx, b.ledger, tenantID)
	if err != nil {
		return 0, err
	}
	tr, err := b.ledger.Transfer(ctx, ledger.TransferRequest{
		TenantID:       tenantID,
		IdempotencyKey: "cash-remittance:" + ref,
		Kind:           KindRemittanceArrival,
		Actor:          actor,
		Memo:           memoRemittanceArrival + " " + ref,
		Metadata:       map[string]string{"remittance": ref, "bank_movement": key},
		Postings: []ledger.Posting{
			{AccountID: suspense, Amount: amount},
			{AccountID: transit, Amount: amount.Neg()},
		},
	})
	if err != nil {
		return 0, fmt.Errorf("payments: allocate %s to remittance %s: %w", key, ref, err)
	}
	err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE cash_remittances SET arrival_transfer_id = $4, arrived_at = now(), arrived_by = $5
			WHERE tenant_id = $1 AND reference = $2 AND bank_movement_key = $3 AND arrival_transfer_id IS NULL`,
			tenantID, ref, key, tr.ID, actor); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE bank_movements SET status = 'remittance', allocation_transfer_id = $3
			WHERE tenant_id = $1 AND key = $2 AND status = 'suspense'`, tenantID, key, tr.ID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("payments: mark %s reconciled with remittance %s: %w", key, ref, err)
	}
	b.log.InfoContext(ctx, "payments: movement in suspense reconciled with a cash remittance", "tenant_id", tenantID,
		"remittance", ref, "bank_movement", key, "actor", actor, "transfer_id", tr.ID)
	return tr.ID, nil
}
