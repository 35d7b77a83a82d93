package payments

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/ledger"
	"tartine/school"
)

// groupSize is the most credits booked by one statement (measured in
// docs/PERFORMANCE.md: 10,000 books 100,000 lines faster than 1,000 or
// 2,000), and firstGroupSize the size of an import's first group.
var groupSize, firstGroupSize = 10_000, 1_000

// groupedLine is a credit line of the file to book in a group, not booked
// by an earlier import (neither its bank movement nor its transfer exists):
// a wallet top-up (a credit whose structured communication is a pupil's
// wallet OGM), a statement payment (its communication is a statement
// payer's), or a credit to suspense that can be no Stripe payout or cash
// remittance (no open one has its amount).
type groupedLine struct {
	line   BankLine
	to     int64  // the account credited: the wallet, the fees receivable or suspense
	status string // bank_movements status: wallet, statement or suspense
	kind   string
	memo   string
}

// groupable finds, in a few queries for the whole file, the lines (by
// index) to book in groups. Every other line (debits, lines booked before,
// credits that may be a payout or a remittance) goes the one-by-one way of
// importLine, which books them as before.
func (b *Bank) groupable(ctx context.Context, tx pgx.Tx, tenantID int64, lines []BankLine, acc codaAccounts) (map[int]groupedLine, error) {
	var ogms, keys []string
	texts := map[int]string{} // a pupil's OGM written in a free communication
	for i, l := range lines {
		if !l.Amount.IsPositive() {
			continue
		}
		keys = append(keys, l.Key)
		if l.OGM != "" {
			ogms = append(ogms, l.OGM)
		}
		if og := ogmInText(l.Communication); og != "" {
			texts[i] = og
			ogms = append(ogms, og)
		}
	}
	out := map[int]groupedLine{}
	if len(keys) == 0 {
		return out, nil
	}
	wallets, err := school.WalletsByOGM(ctx, tx, tenantID, ogms)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	booked := map[string]bool{}
	rows, err := tx.Query(ctx, `SELECT key FROM bank_movements WHERE tenant_id = $1 AND key = ANY($2)`, tenantID, keys)
	if err != nil {
		return nil, fmt.Errorf("payments: movements booked before: %w", err)
	}
	var key string
	if _, err := pgx.ForEachRow(rows, []any{&key}, func() error { booked[key] = true; return nil }); err != nil {
		return nil, fmt.Errorf("payments: movements booked before: %w", err)
	}
	transfers, err := b.ledger.TransferIDsByKeyTx(ctx, tx, tenantID, keys)
	if err != nil {
		return nil, fmt.Errorf("payments: transfers booked before: %w", err)
	}
	for k := range transfers {
		booked[k] = true
	}
	// The amounts of the open payouts and remittances (or of those claimed
	// by a line of this file): a credit of another amount is none of them
	// (matchPayout and matchRemittance compare amounts first).
	open := map[string]bool{}
	rows, err = tx.Query(ctx, `
		SELECT amount FROM stripe_payouts
		WHERE status = 'paid' AND currency = 'EUR' AND NOT mixed_tenants
			AND ((bank_movement_key IS NULL AND transfer_id IS NULL AND (tenant_id IS NULL OR tenant_id = $1))
				OR (tenant_id = $1 AND bank_movement_key = ANY($2)))
		UNION SELECT amount FROM cash_remittances
		WHERE tenant_id = $1 AND ((bank_movement_key IS NULL AND arrival_transfer_id IS NULL) OR bank_movement_key = ANY($2))`, tenantID, keys)
	if err != nil {
		return nil, fmt.Errorf("payments: open payouts and remittances: %w", err)
	}
	var amt decimal.Decimal
	if _, err := pgx.ForEachRow(rows, []any{&amt}, func() error { open[amt.StringFixed(2)] = true; return nil }); err != nil {
		return nil, fmt.Errorf("payments: open payouts and remittances: %w", err)
	}
	type payer struct {
		account int64
		number  string
	}
	payers := map[string]payer{} // statement payers by OGM, looked up once each
	for i, l := range lines {
		if !l.Amount.IsPositive() || booked[l.Key] {
			continue
		}
		if l.OGM != "" {
			if w, ok := wallets[l.OGM]; ok {
				l.PupilID = w.PupilID
				out[i] = groupedLine{line: l, to: w.WalletAccountID, status: "wallet", kind: KindBankTransfer, memo: "Virement bancaire"}
				continue
			}
			if b.statements != nil {
				py, ok := payers[l.OGM]
				if !ok {
					if py.account, py.number, err = b.statements(ctx, tx, tenantID, l.OGM); err != nil {
						return nil, fmt.Errorf("payments: statement of %s: %w", l.OGM, err)
					}
					payers[l.OGM] = py
				}
				if py.account != 0 {
					out[i] = groupedLine{line: l, to: py.account, status: "statement", kind: KindStatementPayment,
						memo: "Paiement du décompte " + py.number}
					continue
				}
			}
		}
		if open[l.Amount.StringFixed(2)] {
			continue // maybe a payout or a remittance: one by one
		}
		if w, ok := wallets[texts[i]]; ok && texts[i] != "" {
			l.SuggestedPupilID = w.PupilID
		}
		out[i] = groupedLine{line: l, to: acc.suspense, status: "suspense", kind: KindBankSuspense, memo: "Virement à affecter"}
	}
	return out, nil
}

// bookGrouped books the grouped lines in groups of at most groupSize
// transfers, in the file's order, and records their bank movements. The
// transfers are those book makes with TransferTx (same key, kind, memo,
// metadata, postings); a wallet topped up several times in a group changes
// once (ledger.QueueTransfers lets top-ups share a tracked account). The
// bank movements are written with one COPY. A failure aborts tx, so the
// whole import.
func (b *Bank) bookGrouped(ctx context.Context, tx pgx.Tx, tenantID int64, grouped []groupedLine, acc codaAccounts, actor string, rep *CODAReport) error {
	// The first group is small: into a nearly empty ledger, its statement
	// is planned for empty tables (the foreign-key checks of postings on
	// transfers as scans of every transfer of the transaction); the
	// ledger's statistics are then refreshed for the rest.
	for i, n := 0, min(groupSize, firstGroupSize); i < len(grouped); i, n = i+n, groupSize {
		group := grouped[i:min(i+n, len(grouped))]
		if err := b.bookGroup(ctx, tx, tenantID, group, acc, actor); err != nil {
			return err
		}
		if i == 0 && len(grouped) > len(group) {
			if err := b.ledger.AnalyzeIfSmallTx(ctx, tx, len(grouped)); err != nil {
				return err
			}
		}
	}
	for _, g := range grouped {
		l := g.line
		switch g.status {
		case "wallet":
			rep.Credited = append(rep.Credited, l)
			rep.CreditedTotal = rep.CreditedTotal.Add(l.Amount)
		default: // suspense and statement payments, as importLine reports them
			rep.Suspense = append(rep.Suspense, l)
			rep.SuspenseTotal = rep.SuspenseTotal.Add(l.Amount)
		}
	}
	return copyMovements(ctx, tx, tenantID, grouped)
}

// bookGroup books one group with ledger.QueueTransfers and sets each
// line's transfer.
func (b *Bank) bookGroup(ctx context.Context, tx pgx.Tx, tenantID int64, group []groupedLine, acc codaAccounts, actor string) error {
	reqs := make([]ledger.TransferRequest, len(group))
	for i, g := range group {
		l := g.line
		meta := map[string]string{"bank_movement": l.Key, "counterparty": l.CounterpartyName, "iban": l.CounterpartyAccount}
		if l.OGM != "" {
			meta["ogm"] = l.OGM
		} else if l.Communication != "" {
			meta["communication"] = l.Communication
		}
		reqs[i] = ledger.TransferRequest{
			TenantID:       tenantID,
			IdempotencyKey: l.Key,
			Kind:           g.kind,
			OccurredAt:     l.EntryDate,
			Actor:          actor,
			Memo:           g.memo,
			Metadata:       meta,
			Postings: []ledger.Posting{
				{AccountID: acc.bank, Amount: l.Amount},
				{AccountID: g.to, Amount: l.Amount.Neg()},
			},
		}
	}
	batch := &pgx.Batch{}
	q, err := b.ledger.QueueTransfersTx(ctx, tx, batch, reqs, nil) // accounts read in the import's transaction
	if err != nil {
		return fmt.Errorf("payments: book %d bank movements from %s: %w", len(group), group[0].line.Key, err)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("payments: book %d bank movements from %s: %w", len(group), group[0].line.Key, ledger.MapError(err))
	}
	for i := range group {
		group[i].line.TransferID = q.Transfers[i].ID
		if group[i].line.TransferID == 0 {
			return fmt.Errorf("payments: bank movement %s: no transfer returned", group[i].line.Key)
		}
	}
	return nil
}

// copyMovements records the bank movements of the grouped lines in one
// COPY.
func copyMovements(ctx context.Context, tx pgx.Tx, tenantID int64, lines []groupedLine) error {
	if len(lines) == 0 {
		return nil
	}
	opt := func(id int64) *int64 {
		if id == 0 {
			return nil
		}
		return &id
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"bank_movements"}, []string{"tenant_id", "key", "account", "statement", "sequence",
		"detail", "entry_date", "amount", "ogm", "communication", "counterparty_name", "counterparty_account", "status",
		"pupil_id", "suggested_pupil_id", "transfer_id"},
		pgx.CopyFromSlice(len(lines), func(i int) ([]any, error) {
			l := lines[i].line
			return []any{tenantID, l.Key, l.Account, l.Statement, l.Sequence, l.Detail, l.EntryDate, l.Amount, l.OGM,
				l.Communication, l.CounterpartyName, l.CounterpartyAccount, lines[i].status, opt(l.PupilID), opt(l.SuggestedPupilID),
				l.TransferID}, nil
		}))
	if err != nil {
		return fmt.Errorf("payments: record %d bank movements: %w", len(lines), err)
	}
	if n != int64(len(lines)) {
		return fmt.Errorf("payments: %d bank movements recorded for %d transfers", n, len(lines))
	}
	return nil
}

// inFileOrder sorts report lines by their place in the file (order gives
// each key's index).
func inFileOrder(lines []BankLine, order map[string]int) {
	slices.SortStableFunc(lines, func(a, b BankLine) int { return order[a.Key] - order[b.Key] })
}
