package payments

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"tartine/internal/db"
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

// groupable finds, in a few queries for the whole file, the lines to book
// in groups (by index: out[i].status is "" for a line not grouped). Every other line (debits, lines booked before,
// credits that may be a payout or a remittance) goes the one-by-one way of
// importLine, which books them as before.
func (b *Bank) groupable(ctx context.Context, tx pgx.Tx, tenantID int64, lines []BankLine, acc codaAccounts) ([]groupedLine, error) {
	var ogms, keys []string
	texts := map[int]string{} // a pupil's OGM written in a free communication
	for i, l := range lines {
		if !l.Amount.IsPositive() {
			continue
		}
		keys = append(keys, l.Key)
		if l.OGM != "" {
			ogms = append(ogms, l.OGM)
			continue // its communication is read below, when its OGM is no wallet's
		}
		if og := ogmInText(l.Communication); og != "" {
			texts[i] = og
			ogms = append(ogms, og)
		}
	}
	out := make([]groupedLine, len(lines))
	if len(keys) == 0 {
		return out, nil
	}
	wallets, err := school.WalletsByOGM(ctx, tx, tenantID, ogms)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	// A structured communication that is no wallet's may go to suspense,
	// with a suggestion from a pupil's OGM written in its communication.
	var more []string
	for i, l := range lines {
		if _, ok := wallets[l.OGM]; ok || l.OGM == "" || !l.Amount.IsPositive() {
			continue
		}
		if og := ogmInText(l.Communication); og != "" {
			texts[i] = og
			if _, ok := wallets[og]; !ok {
				more = append(more, og)
			}
		}
	}
	if len(more) > 0 {
		found, err := school.WalletsByOGM(ctx, tx, tenantID, more)
		if err != nil {
			return nil, fmt.Errorf("payments: %w", err)
		}
		for og, w := range found {
			wallets[og] = w
		}
	}
	// One round trip, the keys sent once for payments' tables (a set to
	// join, db.KeySet): the lines
	// booked before (their bank movement or their transfer exists), and the
	// amounts of the open payouts and remittances (or of those claimed by a
	// line of this file): a credit of another amount is none of them
	// (matchPayout and matchRemittance compare amounts first).
	booked := map[string]bool{}
	open := map[string]bool{}
	var batch pgx.Batch
	keySet, keysArg := db.KeySet(2, keys)
	batch.Queue(`
		WITH k AS MATERIALIZED (SELECT `+keySet+` AS key)
		SELECT key, NULL::numeric FROM bank_movements WHERE tenant_id = $1 AND key IN (SELECT key FROM k)
		UNION ALL (
			SELECT NULL, amount FROM stripe_payouts
			WHERE status = 'paid' AND currency = 'EUR' AND NOT mixed_tenants
				AND ((bank_movement_key IS NULL AND transfer_id IS NULL AND (tenant_id IS NULL OR tenant_id = $1))
					OR (tenant_id = $1 AND bank_movement_key IN (SELECT key FROM k)))
			UNION SELECT NULL, amount FROM cash_remittances
			WHERE tenant_id = $1 AND ((bank_movement_key IS NULL AND arrival_transfer_id IS NULL) OR bank_movement_key IN (SELECT key FROM k)))`,
		tenantID, keysArg).Query(func(rows pgx.Rows) error {
		var key *string
		var amt *decimal.Decimal
		_, err := pgx.ForEachRow(rows, []any{&key, &amt}, func() error {
			if key != nil {
				booked[*key] = true
			} else if amt != nil {
				open[amt.StringFixed(2)] = true
			}
			return nil
		})
		return err
	})
	b.ledger.QueueTransferIDsByKey(&batch, tenantID, keys, func(key string, _ int64) { booked[key] = true })
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return nil, fmt.Errorf("payments: lines booked before, open payouts and remittances: %w", err)
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
		if len(open) > 0 && open[l.Amount.StringFixed(2)] {
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
// accounts are read into the ledger's cache first (in tx); a goroutine then
// prepares each group's statement (ledger.PrepareTransfers: requests,
// fingerprints, encoded arrays) while the previous group runs on the
// server. The bank movements are written with one COPY. A failure aborts
// tx, so the whole import.
func (b *Bank) bookGrouped(ctx context.Context, tx pgx.Tx, tenantID int64, grouped []groupedLine, acc codaAccounts, actor string, rep *CODAReport) error {
	if len(grouped) == 0 {
		return nil
	}
	ids := []int64{acc.bank}
	seen := map[int64]bool{acc.bank: true}
	for _, g := range grouped {
		if !seen[g.to] {
			seen[g.to] = true
			ids = append(ids, g.to)
		}
	}
	if err := b.ledger.CacheAccountsTx(ctx, tx, tenantID, ids); err != nil {
		return fmt.Errorf("payments: accounts of the bank movements: %w", err)
	}
	type prepared struct {
		p        *ledger.PreparedTransfers
		from, to int
		err      error
	}
	ready := make(chan prepared, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	defer func() { close(stop); <-done }()
	// The first group is small: into a nearly empty ledger, its statement
	// is planned for empty tables (the foreign-key checks of postings on
	// transfers as scans of every transfer of the transaction); the
	// ledger's statistics are then refreshed for the rest.
	go func() {
		defer close(done)
		defer close(ready)
		for i, n := 0, min(groupSize, firstGroupSize); i < len(grouped); i, n = i+n, groupSize {
			to := min(i+n, len(grouped))
			p, err := b.ledger.PrepareTransfers(ctx, groupRequests(tenantID, grouped[i:to], acc, actor))
			select {
			case ready <- prepared{p: p, from: i, to: to, err: err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for pr := range ready {
		group := grouped[pr.from:pr.to]
		if pr.err != nil {
			return fmt.Errorf("payments: book %d bank movements from %s: %w", len(group), group[0].line.Key, pr.err)
		}
		q, err := pr.p.ExecTx(ctx, tx)
		if err != nil {
			return fmt.Errorf("payments: book %d bank movements from %s: %w", len(group), group[0].line.Key, ledger.MapError(err))
		}
		for i := range group {
			// The goroutine reads only the lines of later groups.
			group[i].line.TransferID = q.Transfers[i].ID
			if group[i].line.TransferID == 0 {
				return fmt.Errorf("payments: bank movement %s: no transfer returned", group[i].line.Key)
			}
		}
		if pr.from == 0 && len(grouped) > pr.to {
			if err := b.ledger.AnalyzeIfSmallTx(ctx, tx, len(grouped)); err != nil {
				return err
			}
		}
	}
	credited := 0
	for _, g := range grouped {
		if g.status == "wallet" {
			credited++
		}
	}
	rep.Credited = slices.Grow(rep.Credited, credited)
	rep.Suspense = slices.Grow(rep.Suspense, len(grouped)-credited)
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

// groupRequests are the transfers of a group's lines, as book asks
// TransferTx for them.
func groupRequests(tenantID int64, group []groupedLine, acc codaAccounts, actor string) []ledger.TransferRequest {
	reqs := make([]ledger.TransferRequest, len(group))
	postings := make([]ledger.Posting, 2*len(group))
	for i := range group {
		g := &group[i]
		l := &g.line
		meta := make(map[string]string, 4)
		meta["bank_movement"], meta["counterparty"], meta["iban"] = l.Key, l.CounterpartyName, l.CounterpartyAccount
		if l.OGM != "" {
			meta["ogm"] = l.OGM
		} else if l.Communication != "" {
			meta["communication"] = l.Communication
		}
		ps := postings[2*i : 2*i+2 : 2*i+2]
		ps[0], ps[1] = ledger.Posting{AccountID: acc.bank, Amount: l.Amount}, ledger.Posting{AccountID: g.to, Amount: l.Amount.Neg()}
		reqs[i] = ledger.TransferRequest{
			TenantID:       tenantID,
			IdempotencyKey: l.Key,
			Kind:           g.kind,
			OccurredAt:     l.EntryDate,
			Actor:          actor,
			Memo:           g.memo,
			Metadata:       meta,
			Postings:       ps,
		}
	}
	return reqs
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
