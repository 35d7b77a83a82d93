package payments

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"tartine/ledger"
)

// walletGroupSize is the most wallet top-ups booked by one statement.
const walletGroupSize = 1000

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
	for len(credits) > 0 {
		var group, rest []walletCredit
		inGroup := map[int64]bool{}
		for _, c := range credits {
			if len(group) < walletGroupSize && !inGroup[c.wallet] {
				inGroup[c.wallet] = true
				group = append(group, c)
			} else {
				rest = append(rest, c)
			}
		}
		if err := b.bookWalletGroup(ctx, tx, tenantID, group, acc, actor, rep); err != nil {
			return err
		}
		credits = rest
	}
	return nil
}

func (b *Bank) bookWalletGroup(ctx context.Context, tx pgx.Tx, tenantID int64, group []walletCredit, acc codaAccounts, actor string, rep *CODAReport) error {
	reqs := make([]ledger.TransferRequest, len(group))
	n := len(group)
	var (
		keys, accounts, ogms, comms, names, ibans = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		stmts, seqs, details                      = make([]int32, n), make([]int32, n), make([]int32, n)
		dates                                     = make([]time.Time, n)
		amounts                                   = make([]decimal.Decimal, n)
		pupils                                    = make([]int64, n)
	)
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
		keys[i], accounts[i], ogms[i], comms[i], names[i], ibans[i] = l.Key, l.Account, l.OGM, l.Communication, l.CounterpartyName, l.CounterpartyAccount
		stmts[i], seqs[i], details[i] = int32(l.Statement), int32(l.Sequence), int32(l.Detail)
		dates[i], amounts[i], pupils[i] = l.EntryDate, l.Amount, c.pupil
	}
	batch := &pgx.Batch{}
	q, err := b.ledger.QueueTransfers(ctx, batch, reqs, nil)
	if err != nil {
		return fmt.Errorf("payments: book %d bank movements from %s: %w", n, group[0].line.Key, err)
	}
	// The movements name their transfer by key: the transfers of the
	// statement before, in the same transaction.
	batch.Queue(`
		INSERT INTO bank_movements (tenant_id, key, account, statement, sequence, detail, entry_date, amount, ogm,
			communication, counterparty_name, counterparty_account, status, pupil_id, suggested_pupil_id, transfer_id)
		SELECT $1, u.k, u.a, u.s, u.q, u.d, u.e, u.m, u.o, u.c, u.n, u.i, 'wallet', u.p, NULL, t.id
		FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::date[], $8::numeric[], $9::text[],
			$10::text[], $11::text[], $12::text[], $13::bigint[]) AS u(k, a, s, q, d, e, m, o, c, n, i, p)
		JOIN transfers t ON t.tenant_id = $1 AND t.idempotency_key = u.k`,
		tenantID, keys, accounts, stmts, seqs, details, dates, amounts, ogms, comms, names, ibans, pupils,
	).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != int64(n) {
			return fmt.Errorf("%d bank movements recorded for %d transfers", ct.RowsAffected(), n)
		}
		return nil
	})
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("payments: book %d bank movements from %s: %w", n, group[0].line.Key, ledger.MapError(err))
	}
	for i, c := range group {
		l := c.line
		l.PupilID, l.TransferID = c.pupil, q.Transfers[i].ID
		rep.Credited = append(rep.Credited, l)
		rep.CreditedTotal = rep.CreditedTotal.Add(l.Amount)
	}
	return nil
}
