package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/school"
	"tartine/sepa"
)

// Ledger kinds of bank transfers.
const (
	KindBankTransfer = "bank-transfer"    // bank → wallet, matched by OGM
	KindBankSuspense = "bank-unallocated" // bank → suspense, waiting for a person
	KindBankAllocate = "bank-allocation"  // suspense → wallet, allocated by a person
)

// Bank books bank transfers read from CODA statements.
type Bank struct {
	ledger *ledger.Ledger
	pool   *pgxpool.Pool
	log    *slog.Logger
	// statements: WithStatements; nil: statement communications go to
	// suspense.
	statements StatementLookup
}

// StatementLookup finds, in the import's transaction, the fee statement
// whose payer has a credit's structured communication (statements'
// BankLookup): the account to book it on (the pupil's fees receivable, 0
// when no statement has it) and the statement's number.
type StatementLookup func(ctx context.Context, tx pgx.Tx, tenantID int64, ogm string) (account int64, number string, err error)

// BankOption configures NewBank.
type BankOption func(*Bank)

// WithStatements books a credit whose structured communication is a fee
// statement's on that statement (a statement's communication pays its
// fees); without it such credits go to suspense.
func WithStatements(lookup StatementLookup) BankOption {
	return func(b *Bank) { b.statements = lookup }
}

// KindStatementPayment is the ledger kind of a bank transfer paying a fee
// statement (bank → the pupil's fees receivable).
const KindStatementPayment = "statement-payment"

// NewBank returns the bank import service on the ledger's database.
func NewBank(l *ledger.Ledger, log *slog.Logger, opts ...BankOption) *Bank {
	if log == nil {
		log = slog.Default()
	}
	b := &Bank{ledger: l, pool: l.Pool(), log: log}
	for _, o := range opts {
		o(b)
	}
	return b
}

// BankLine is one credit movement of a CODA file and what became of it.
type BankLine struct {
	Key                 string // ledger idempotency key and bank_movements key
	Account             string // the school's account (IBAN)
	Statement           int    // paper sequence of the statement
	Sequence, Detail    int
	EntryDate           time.Time
	ValueDate           time.Time       // zero when the bank gave none
	Amount              decimal.Decimal // positive for a credit
	OGM                 string          // 12 digits when the payer used a structured communication
	Communication       string
	CounterpartyName    string
	CounterpartyAccount string
	PupilID             int64  // the pupil whose wallet was credited (0 when suspense)
	SuggestedPupilID    int64  // a pupil whose OGM appears in a free communication
	PayoutID            string // the Stripe payout this line was reconciled with ("" when none)
	RemittanceRef       string // the cash remittance this line was reconciled with ("" when none)
	TransferID          int64
}

// CODAReport says what an import booked.
type CODAReport struct {
	Statements       int
	Credited         []BankLine      // credited to a wallet by this import
	Suspense         []BankLine      // booked to suspense (499): allocate them by hand
	Payouts          []BankLine      // Stripe payouts booked bank ← stripe-clearing (PayoutID set)
	Remittances      []BankLine      // cash remittances booked bank ← cash-in-transit (RemittanceRef set)
	AlreadyImported  int             // movements booked by an earlier import
	Skipped          []BankLine      // debits: not top-ups, reconciled elsewhere
	Refunds          []BankLine      // debits that are approved refunds leaving (refunds.go): booked refunds-payable → bank
	RefundsTotal     decimal.Decimal // sum of Refunds (positive)
	CreditedTotal    decimal.Decimal // sum of Credited
	SuspenseTotal    decimal.Decimal // sum of Suspense
	PayoutsTotal     decimal.Decimal // sum of Payouts
	RemittancesTotal decimal.Decimal // sum of Remittances
}

// ImportCODA reads a CODA file and books its credit movements for the
// tenant: a movement whose structured communication is a pupil's wallet
// OGM credits that wallet (bank → wallet), a credit that is a recorded Stripe
// payout (same amount, value date near its arrival date, a communication or
// counterparty naming Stripe, the payout id or its statement descriptor)
// empties stripe-clearing into the bank (bank ← stripe-clearing, key
// stripe-payout:<payout id>) and marks the payout reconciled, a credit that
// is a cash remittance in transit (same amount, value date on its day or up
// to RemittanceDateWindow days later, its reference in the communication)
// empties cash-in-transit into the bank (key cash-remittance:<reference>)
// and marks it arrived, and any other credit goes to suspense (bank → suspense) for manual allocation. Each movement's key comes from
// the account, statement and movement sequence, so importing the same file
// again books nothing twice. Debits are reported, not booked.
//
// A file is imported all or nothing, in one transaction (imports of one
// tenant run one at a time): it returns ErrBadFile when the file cannot be
// parsed (an amount with a third decimal included), when a statement is not
// in EUR, or when the tenant's schools have IBANs and the statement's account
// is none of them (an account written in the old Belgian form counts as its
// IBAN); any other error (a ledger refusal, a closed period) rolls the whole
// import back. Either way nothing is booked, and importing the corrected
// file books it all.
func (b *Bank) ImportCODA(ctx context.Context, tenantID int64, data []byte, actor string) (CODAReport, error) {
	rep := CODAReport{}
	sts, err := sepa.ParseCODA(data)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrBadFile, err)
	}
	if actor == "" {
		actor = "system"
	}
	ibans, err := b.schoolIBANs(ctx, tenantID)
	if err != nil {
		return rep, err
	}
	for _, st := range sts {
		if st.Currency != "EUR" {
			return rep, fmt.Errorf("%w: statement %d (line %d) is in %q, not EUR", ErrBadFile, st.PaperSequence, st.Line, st.Currency)
		}
		if len(ibans) > 0 && !ibans[compactIBAN(st.Account)] {
			return rep, fmt.Errorf("%w: statement %d (line %d) is for account %s, which is not an account of this organisation's schools",
				ErrBadFile, st.PaperSequence, st.Line, st.Account)
		}
	}
	var acc codaAccounts
	for _, a := range []struct {
		id   *int64
		code string
	}{{&acc.bank, CodeBank}, {&acc.suspense, CodeSuspense}, {&acc.clearing, CodeStripeClearing}} {
		if *a.id, err = account(ctx, b.ledger, tenantID, a.code); err != nil {
			return rep, err
		}
	}
	if acc.transit, err = CashInTransitAccount(ctx, b.ledger, tenantID); err != nil {
		return rep, err
	}
	err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		rep = CODAReport{}
		// No JIT in the import's transaction: the planner prices a group's
		// statement (10,000 transfers from arrays) far above
		// jit_above_cost, and compiling it cost more CPU than running it
		// (docs/PERFORMANCE.md, CODA import, third pass). More memory for
		// its sorts and its transfers kept for the postings (3 MB written
		// to disk a group with the default 4 MB), and a hash rather than a
		// merge join of postings to their transfers by key (two sorts of
		// 10,000 and 20,000 texts: 35 ms a group against 16; sixth pass).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2::int), set_config('jit', 'off', true),
			set_config('work_mem', '64MB', true), set_config('enable_mergejoin', 'off', true)`, codaImportLock, tenantID); err != nil {
			return fmt.Errorf("payments: lock the bank imports: %w", err)
		}
		n := 0
		for _, st := range sts {
			n += len(st.Movements)
		}
		lines := make([]BankLine, 0, n)
		for _, st := range sts {
			rep.Statements++
			lines = appendBankLines(lines, st)
		}
		fast, err := b.groupable(ctx, tx, tenantID, lines, acc)
		if err != nil {
			return err
		}
		// Wallet top-ups, statement payments and plain suspense credits
		// are booked in groups (bookGrouped); every other line one by one,
		// in the file's order. A key met twice in the file (a statement
		// sent again) is booked once.
		order := make(map[string]int, len(lines)) // the credits met, each key's first index
		group := fast[:0]                         // the grouped lines, in the file's order, in place
		for i, line := range lines {
			if line.Amount.IsPositive() {
				if _, done := order[line.Key]; done {
					rep.AlreadyImported++
					continue
				}
				order[line.Key] = i
			}
			if fast[i].status != "" {
				group = append(group, fast[i]) // index len(group) <= i: fast[i] is read first
				continue
			}
			if err := b.importLine(ctx, tx, tenantID, line, acc, actor, &rep); err != nil {
				return err
			}
		}
		if err := b.bookGrouped(ctx, tx, tenantID, group, acc, actor, &rep); err != nil {
			return err
		}
		inFileOrder(rep.Suspense, order)
		return nil
	})
	if err != nil {
		return CODAReport{}, fmt.Errorf("%w (nothing from this file was booked)", err)
	}
	b.log.InfoContext(ctx, "payments: CODA imported", "tenant_id", tenantID, "statements", rep.Statements,
		"credited", len(rep.Credited), "credited_total", rep.CreditedTotal.StringFixed(2),
		"suspense", len(rep.Suspense), "suspense_total", rep.SuspenseTotal.StringFixed(2),
		"payouts", len(rep.Payouts), "payouts_total", rep.PayoutsTotal.StringFixed(2),
		"remittances", len(rep.Remittances), "remittances_total", rep.RemittancesTotal.StringFixed(2),
		"already_imported", rep.AlreadyImported, "skipped", len(rep.Skipped))
	return rep, nil
}

// codaImportLock is the first key of the advisory lock that makes the CODA
// imports of one tenant (the second key) run one at a time.
const codaImportLock = 0x0c0da

// codaAccounts are the ledger accounts a bank import books to.
type codaAccounts struct{ bank, suspense, clearing, transit int64 }

// importLine books one movement in tx unless it is a debit or was booked by
// an earlier import, and reports it in rep.
func (b *Bank) importLine(ctx context.Context, tx pgx.Tx, tenantID int64, line BankLine, acc codaAccounts, actor string, rep *CODAReport) error {
	if !line.Amount.IsPositive() {
		// A debit: a refund leaving (refunds.go), else not ours to book.
		refund, again, err := b.matchRefund(ctx, tx, tenantID, &line, acc, actor)
		switch {
		case err != nil:
			return err
		case again:
			rep.AlreadyImported++
		case refund:
			rep.Refunds = append(rep.Refunds, line)
			rep.RefundsTotal = rep.RefundsTotal.Add(line.Amount.Neg())
		default:
			rep.Skipped = append(rep.Skipped, line)
		}
		return nil
	}
	var seen bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bank_movements WHERE tenant_id = $1 AND key = $2)`,
		tenantID, line.Key).Scan(&seen); err != nil {
		return fmt.Errorf("payments: look up movement %s: %w", line.Key, err)
	}
	if seen {
		rep.AlreadyImported++
		return nil
	}
	if err := b.book(ctx, tx, tenantID, &line, acc, actor); err != nil {
		return err
	}
	switch {
	case line.PupilID != 0:
		rep.Credited = append(rep.Credited, line)
		rep.CreditedTotal = rep.CreditedTotal.Add(line.Amount)
	case line.PayoutID != "":
		rep.Payouts = append(rep.Payouts, line)
		rep.PayoutsTotal = rep.PayoutsTotal.Add(line.Amount)
	case line.RemittanceRef != "":
		rep.Remittances = append(rep.Remittances, line)
		rep.RemittancesTotal = rep.RemittancesTotal.Add(line.Amount)
	default:
		rep.Suspense = append(rep.Suspense, line)
		rep.SuspenseTotal = rep.SuspenseTotal.Add(line.Amount)
	}
	return nil
}

// dbtx runs the bank's statements: the pool, or the import's transaction.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// book records one credit movement: to the wallet of the pupil whose OGM it
// carries, else from stripe-clearing when it is a Stripe payout, else from
// cash-in-transit when it is a cash remittance, else to suspense.
func (b *Bank) book(ctx context.Context, tx pgx.Tx, tenantID int64, line *BankLine, acc codaAccounts, actor string) error {
	var status string
	var to int64
	memo := "Virement bancaire"
	kind := KindBankTransfer
	if line.OGM != "" {
		pupil, wallet, err := b.pupilByOGM(ctx, tx, tenantID, line.OGM)
		if err != nil {
			return err
		}
		if wallet != 0 {
			line.PupilID, to, status = pupil, wallet, "wallet"
		} else if b.statements != nil {
			acct, number, err := b.statements(ctx, tx, tenantID, line.OGM)
			if err != nil {
				return fmt.Errorf("payments: statement of %s: %w", line.OGM, err)
			}
			if acct != 0 {
				to, status, kind = acct, "statement", KindStatementPayment
				memo = "Paiement du décompte " + number
			}
		}
	}
	if to == 0 {
		payout, err := b.matchPayout(ctx, tx, tenantID, line, acc, actor)
		if err != nil {
			return err
		}
		if payout {
			return b.record(ctx, tx, tenantID, line, "payout")
		}
		remitted, err := b.matchRemittance(ctx, tx, tenantID, line, acc, actor)
		if err != nil {
			return err
		}
		if remitted {
			return b.record(ctx, tx, tenantID, line, "remittance")
		}
		to, status, kind = acc.suspense, "suspense", KindBankSuspense
		memo = "Virement à affecter"
		if og := ogmInText(line.Communication); og != "" {
			pupil, wallet, err := b.pupilByOGM(ctx, tx, tenantID, og)
			if err != nil {
				return err
			}
			if wallet != 0 {
				line.SuggestedPupilID = pupil
			}
		}
	}
	meta := map[string]string{
		"bank_movement": line.Key,
		"counterparty":  line.CounterpartyName,
		"iban":          line.CounterpartyAccount,
	}
	if line.OGM != "" {
		meta["ogm"] = line.OGM
	} else if line.Communication != "" {
		meta["communication"] = line.Communication
	}
	tr, err := b.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
		TenantID:       tenantID,
		IdempotencyKey: line.Key,
		Kind:           kind,
		OccurredAt:     line.EntryDate,
		Actor:          actor,
		Memo:           memo,
		Metadata:       meta,
		Postings: []ledger.Posting{
			{AccountID: acc.bank, Amount: line.Amount},
			{AccountID: to, Amount: line.Amount.Neg()},
		},
	})
	if err != nil {
		return fmt.Errorf("payments: book bank movement %s (%s €, line of %s): %w", line.Key, line.Amount.StringFixed(2), line.CounterpartyName, err)
	}
	line.TransferID = tr.ID
	return b.record(ctx, tx, tenantID, line, status)
}

// record stores a booked movement in bank_movements.
func (b *Bank) record(ctx context.Context, q dbtx, tenantID int64, line *BankLine, status string) error {
	var pupil, suggested *int64
	if line.PupilID != 0 {
		pupil = &line.PupilID
	}
	if line.SuggestedPupilID != 0 {
		suggested = &line.SuggestedPupilID
	}
	_, err := q.Exec(ctx, `
		INSERT INTO bank_movements (tenant_id, key, account, statement, sequence, detail, entry_date, amount, ogm,
			communication, counterparty_name, counterparty_account, status, pupil_id, suggested_pupil_id, transfer_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (tenant_id, key) DO NOTHING`,
		tenantID, line.Key, line.Account, line.Statement, line.Sequence, line.Detail, line.EntryDate, line.Amount, line.OGM,
		line.Communication, line.CounterpartyName, line.CounterpartyAccount, status, pupil, suggested, line.TransferID)
	if err != nil {
		return fmt.Errorf("payments: record bank movement %s: %w", line.Key, err)
	}
	return nil
}

// pupilByOGM returns the pupil and wallet with this wallet OGM (12 digits),
// or zeros when none.
func (b *Bank) pupilByOGM(ctx context.Context, q dbtx, tenantID int64, ogm string) (int64, int64, error) {
	ws, err := school.WalletsByOGM(ctx, q, tenantID, []string{ogm})
	if err != nil {
		return 0, 0, fmt.Errorf("payments: pupil with OGM %s: %w", ogm, err)
	}
	w := ws[ogm]
	return w.PupilID, w.WalletAccountID, nil
}

// schoolIBANs returns the tenant's schools' IBANs (compacted, upper case).
func (b *Bank) schoolIBANs(ctx context.Context, tenantID int64) (map[string]bool, error) {
	list, err := school.SchoolIBANs(ctx, b.pool, tenantID)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	out := map[string]bool{}
	for _, s := range list {
		out[compactIBAN(s)] = true
	}
	return out, nil
}

func compactIBAN(s string) string { return strings.ToUpper(strings.ReplaceAll(s, " ", "")) }

// appendBankLines appends the lines describing a statement's movements;
// each key is stable across imports of the same statement (also a
// duplicate copy the bank sends again): "coda:<IBAN>:<date>:<paper seq, 3 digits>:<seq,
// 4 digits>.<detail, 4 digits>" built once per statement.
func appendBankLines(lines []BankLine, st sepa.Statement) []BankLine {
	account := compactIBAN(st.Account)
	prefix := fmt.Appendf(nil, "coda:%s:%s:%03d:", account, st.NewBalanceDate.Format("2006-01-02"), st.PaperSequence)
	var keys []byte
	for _, m := range st.Movements {
		date := m.EntryDate
		if date.IsZero() {
			date = st.NewBalanceDate
		}
		keys = append(keys[:0], prefix...)
		keys = appendZeroPadded(keys, m.Sequence, 4)
		keys = append(keys, '.')
		keys = appendZeroPadded(keys, m.Detail, 4)
		lines = append(lines, BankLine{
			Key:                 string(keys),
			Account:             account,
			Statement:           st.PaperSequence,
			Sequence:            m.Sequence,
			Detail:              m.Detail,
			EntryDate:           date,
			ValueDate:           m.ValueDate,
			Amount:              m.Amount,
			OGM:                 m.OGM,
			Communication:       strings.TrimSpace(m.Communication),
			CounterpartyName:    strings.TrimSpace(m.CounterpartyName),
			CounterpartyAccount: strings.TrimSpace(m.CounterpartyAccount),
		})
	}
	return lines
}

// appendZeroPadded appends n as fmt's %0<width>d does.
func appendZeroPadded(b []byte, n, width int) []byte {
	if n < 0 {
		return fmt.Appendf(b, "%0*d", width, n)
	}
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(n), 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

var ogmPattern = regexp.MustCompile(`(?:\+\+\+|\*\*\*)?\s*(\d{3})\s*/?\s*(\d{4})\s*/?\s*(\d{5})\s*(?:\+\+\+|\*\*\*)?`)

// ogmInText finds a valid structured communication written inside a free
// communication ("+++042/0000/00763+++ Emma"), for a suggestion only: by the
// rules, added text makes it a free message, so it is never booked alone.
func ogmInText(s string) string {
	// The pattern holds 12 digits: most communications have fewer.
	digits := 0
	for i := 0; i < len(s) && digits < 12; i++ {
		if '0' <= s[i] && s[i] <= '9' {
			digits++
		}
	}
	if digits < 12 {
		return ""
	}
	for _, m := range ogmPattern.FindAllStringSubmatch(s, -1) {
		if d, err := sepa.ParseOGM(m[1] + m[2] + m[3]); err == nil {
			return d
		}
	}
	return ""
}

// Unallocated returns the bank movements waiting in suspense, oldest first.
func (b *Bank) Unallocated(ctx context.Context, tenantID int64) ([]BankLine, error) {
	rows, err := b.pool.Query(ctx, `
		SELECT key, account, statement, sequence, detail, entry_date, amount, ogm, communication,
			counterparty_name, counterparty_account, coalesce(suggested_pupil_id, 0), transfer_id
		FROM bank_movements WHERE tenant_id = $1 AND status = 'suspense' ORDER BY entry_date, key`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("payments: unallocated movements: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (BankLine, error) {
		var l BankLine
		err := r.Scan(&l.Key, &l.Account, &l.Statement, &l.Sequence, &l.Detail, &l.EntryDate, &l.Amount, &l.OGM,
			&l.Communication, &l.CounterpartyName, &l.CounterpartyAccount, &l.SuggestedPupilID, &l.TransferID)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("payments: unallocated movements: %w", err)
	}
	return out, nil
}

// Allocate moves a movement waiting in suspense to a pupil's wallet
// (suspense → wallet), once: allocating it again returns ErrNotFound, as does
// an unknown key or a pupil without a wallet.
func (b *Bank) Allocate(ctx context.Context, tenantID int64, key string, pupilID int64, actor string) (int64, error) {
	var amount decimal.Decimal
	err := b.pool.QueryRow(ctx, `SELECT amount FROM bank_movements WHERE tenant_id = $1 AND key = $2 AND status = 'suspense'`,
		tenantID, key).Scan(&amount)
	var pupil school.Pupil
	if err == nil {
		pupil, err = school.ReadPupil(ctx, b.pool, tenantID, pupilID)
	}
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, school.ErrNotFound) || (err == nil && pupil.WalletAccountID == 0) {
		return 0, fmt.Errorf("%w: movement %s waiting in suspense for pupil %d with a wallet", ErrNotFound, key, pupilID)
	}
	if err != nil {
		return 0, fmt.Errorf("payments: allocate %s: %w", key, err)
	}
	suspense, err := account(ctx, b.ledger, tenantID, CodeSuspense)
	if err != nil {
		return 0, err
	}
	tr, err := b.ledger.Transfer(ctx, ledger.TransferRequest{
		TenantID:       tenantID,
		IdempotencyKey: "alloc:" + key,
		Kind:           KindBankAllocate,
		Actor:          actor,
		Memo:           "Virement bancaire",
		Metadata:       map[string]string{"bank_movement": key, "pupil_id": strconv.FormatInt(pupilID, 10)},
		Postings: []ledger.Posting{
			{AccountID: suspense, Amount: amount},
			{AccountID: pupil.WalletAccountID, Amount: amount.Neg()},
		},
	})
	if err != nil {
		return 0, fmt.Errorf("payments: allocate %s to pupil %d: %w", key, pupilID, err)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE bank_movements SET status = 'allocated', pupil_id = $3, allocation_transfer_id = $4
		WHERE tenant_id = $1 AND key = $2 AND status = 'suspense'`, tenantID, key, pupilID, tr.ID); err != nil {
		return 0, fmt.Errorf("payments: mark %s allocated: %w", key, err)
	}
	return tr.ID, nil
}
