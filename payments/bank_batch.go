package payments

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tartine/ledger"
)

// walletGroupSize is the most wallet top-ups booked by one statement.
var walletGroupSize = 1000

// walletCredit is a line of the file that is a wallet top-up to book: a
// credit whose structured communication is a pupil's wallet OGM, not booked
// by an earlier import (neither its bank movement nor its transfer exists).
type walletCredit struct {
	line          BankLine
	pupil, wallet int64
}

// walletCredits finds, in three queries for the whole file, the lines
// (by index) that are wallet top-ups to book. Every other line goes the
// one-by-one way of importLine, which books them as before.
func (b *Bank) walletCredits(ctx context.Context, tx pgx.Tx, tenantID int64, lines []BankLine) (map[int]walletCredit, error) {
	var ogms, keys []string
	for _, l := range lines {
		if l.Amount.IsPositive() && l.OGM != "" {
			ogms, keys = append(ogms, l.OGM), append(keys, l.Key)
		}
	}
	out := map[int]walletCredit{}
	if len(ogms) == 0 {
		return out, nil
	}
	type pw struct{ pupil, wallet int64 }
	wallets := map[string]pw{}
	rows, err := tx.Query(ctx, `SELECT wallet_ogm, id, wallet_account_id FROM pupils
		WHERE tenant_id = $1 AND wallet_ogm = ANY($2) AND wallet_account_id IS NOT NULL`, tenantID, ogms)
	if err != nil {
		return nil, fmt.Errorf("payments: pupils of the file's OGMs: %w", err)
	}
	var ogm string
	var p pw
	if _, err := pgx.ForEachRow(rows, []any{&ogm, &p.pupil, &p.wallet}, func() error { wallets[ogm] = p; return nil }); err != nil {
		return nil, fmt.Errorf("payments: pupils of the file's OGMs: %w", err)
	}
	booked := map[string]bool{}
	rows, err = tx.Query(ctx, `
		SELECT key FROM bank_movements WHERE tenant_id = $1 AND key = ANY($2)
		UNION SELECT idempotency_key FROM transfers WHERE tenant_id = $1 AND idempotency_key = ANY($2)`, tenantID, keys)
	if err != nil {
		return nil, fmt.Errorf("payments: movements booked before: %w", err)
	}
	var key string
	if _, err := pgx.ForEachRow(rows, []any{&key}, func() error { booked[key] = true; return nil }); err != nil {
		return nil, fmt.Errorf("payments: movements booked before: %w", err)
	}
	for i, l := range lines {
		if !l.Amount.IsPositive() || l.OGM == "" || booked[l.Key] {
			continue
		}
		if w, ok := wallets[l.OGM]; ok {
			out[i] = walletCredit{line: l, pupil: w.pupil, wallet: w.wallet}
		}
	}
	return out, nil
}

// bookWallets books the wallet top-ups in groups of at most
// walletGroupSize transfers, a wallet at most once per group (one change
// per tracked account in ledger.QueueTransfers): each group is one
// statement for the transfers and one for their bank movements, sent
// together. The transfers are those book makes with TransferTx (same key,
// kind, memo, metadata, postings). A failure aborts tx, so the whole import.
func (b *Bank) bookWallets(ctx context.Context, tx pgx.Tx, tenantID int64, credits []walletCredit, acc codaAccounts, actor string, rep *CODAReport) error {
	first := len(rep.Credited)
	// The k-th top-up of a wallet in the file goes to round k; each round
	// is booked in groups of walletGroupSize, in the file's order.
	var rounds [][]walletCredit
	seen := map[int64]int{}
	for _, c := range credits {
		k := seen[c.wallet]
		seen[c.wallet] = k + 1
		if k == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[k] = append(rounds[k], c)
	}
	for _, round := range rounds {
		for len(round) > 0 {
			n := min(len(round), walletGroupSize)
			if err := b.bookWalletGroup(ctx, tx, tenantID, round[:n], acc, actor, rep); err != nil {
				return err
			}
			round = round[n:]
		}
	}
	return copyWalletMovements(ctx, tx, tenantID, rep.Credited[first:])
}

func (b *Bank) bookWalletGroup(ctx context.Context, tx pgx.Tx, tenantID int64, group []walletCredit, acc codaAccounts, actor string, rep *CODAReport) error {
	reqs := make([]ledger.TransferRequest, len(group))
	n := len(group)
	for i, c := range group {
		l := c.line
		meta := map[string]string{"bank_movement": l.Key, "counterparty": l.CounterpartyName, "iban": l.CounterpartyAccount, "ogm": l.OGM}
		reqs[i] = ledger.TransferRequest{
			TenantID:       tenantID,
			IdempotencyKey: l.Key,
			Kind:           KindBankTransfer,
			OccurredAt:     l.EntryDate,
			Actor:          actor,
			Memo:           "Virement bancaire",
			Metadata:       meta,
			Postings: []ledger.Posting{
				{AccountID: acc.bank, Amount: l.Amount},
				{AccountID: c.wallet, Amount: l.Amount.Neg()},
			},
		}
	}
	batch := &pgx.Batch{}
	q, err := b.ledger.QueueTransfers(ctx, batch, reqs, nil)
	if err != nil {
		return fmt.Errorf("payments: book %d bank movements from %s: %w", n, group[0].line.Key, err)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("payments: book %d bank movements from %s: %w", n, group[0].line.Key, ledger.MapError(err))
	}
	for i, c := range group {
		l := c.line
		l.PupilID, l.TransferID = c.pupil, q.Transfers[i].ID
		if l.TransferID == 0 {
			return fmt.Errorf("payments: bank movement %s: no transfer returned", l.Key)
		}
		rep.Credited = append(rep.Credited, l)
		rep.CreditedTotal = rep.CreditedTotal.Add(l.Amount)
	}
	return nil
}

// copyWalletMovements records the bank movements of the wallet top-ups
// booked by bookWallets (rep.Credited from the first) in one COPY.
func copyWalletMovements(ctx context.Context, tx pgx.Tx, tenantID int64, lines []BankLine) error {
	if len(lines) == 0 {
		return nil
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"bank_movements"}, []string{"tenant_id", "key", "account", "statement", "sequence",
		"detail", "entry_date", "amount", "ogm", "communication", "counterparty_name", "counterparty_account", "status",
		"pupil_id", "transfer_id"},
		pgx.CopyFromSlice(len(lines), func(i int) ([]any, error) {
			l := lines[i]
			return []any{tenantID, l.Key, l.Account, l.Statement, l.Sequence, l.Detail, l.EntryDate, l.Amount, l.OGM,
				l.Communication, l.CounterpartyName, l.CounterpartyAccount, "wallet", l.PupilID, l.TransferID}, nil
		}))
	if err != nil {
		return fmt.Errorf("payments: record %d bank movements: %w", len(lines), err)
	}
	if n != int64(len(lines)) {
		return fmt.Errorf("payments: %d bank movements recorded for %d transfers", n, len(lines))
	}
	return nil
}
