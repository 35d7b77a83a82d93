package ledger

import (
	"context"
	"fmt"
)

// Violation is one broken ledger invariant found by Verify.
type Violation struct {
	Check  string // short name of the invariant
	Detail string // which rows break it
}

func (v Violation) String() string { return v.Check + ": " + v.Detail }

// VerifySummary counts what Verify looked at.
type VerifySummary struct {
	Tenants, Accounts, Transfers, Postings, Holds int64
}

// invariantChecks are SQL queries that return one text row per violation.
var invariantChecks = []struct{ name, sql string }{
	{"transfer balances", `
		SELECT format('tenant %s transfer %s: postings sum to %s', t.tenant_id, t.id, COALESCE(sum(p.amount), 0))
		FROM transfers t LEFT JOIN postings p ON p.tenant_id = t.tenant_id AND p.transfer_id = t.id
		GROUP BY t.tenant_id, t.id HAVING COALESCE(sum(p.amount), 0) <> 0`},
	{"transfer has two postings", `
		SELECT format('tenant %s transfer %s: %s posting(s)', t.tenant_id, t.id, count(p.id))
		FROM transfers t LEFT JOIN postings p ON p.tenant_id = t.tenant_id AND p.transfer_id = t.id
		GROUP BY t.tenant_id, t.id HAVING count(p.id) < 2`},
	{"tenant sums to zero", `
		SELECT format('tenant %s: all postings sum to %s', tenant_id, sum(amount))
		FROM postings GROUP BY tenant_id HAVING sum(amount) <> 0`},
	{"materialised balance", `
		SELECT format('tenant %s account %s (%s): balance %s, postings give %s; version %s, %s posting(s)',
		              a.tenant_id, a.id, a.code, a.balance, s.total, a.version, s.n)
		FROM accounts a
		CROSS JOIN LATERAL (
			SELECT COALESCE(sum(CASE WHEN a.type IN ('asset', 'expense') THEN p.amount ELSE -p.amount END), 0) AS total, count(*) AS n
			FROM postings p WHERE p.tenant_id = a.tenant_id AND p.account_id = a.id) s
		WHERE a.tracked AND (a.balance <> s.total OR a.version <> s.n)`},
	{"pending equals open holds", `
		SELECT format('tenant %s account %s (%s): pending %s, open holds %s', a.tenant_id, a.id, a.code, a.pending, s.total)
		FROM accounts a
		CROSS JOIN LATERAL (
			SELECT COALESCE(sum(h.amount), 0) AS total FROM holds h
			WHERE h.tenant_id = a.tenant_id AND h.account_id = a.id
			  AND NOT EXISTS (SELECT 1 FROM hold_endings e WHERE e.tenant_id = h.tenant_id AND e.hold_id = h.id)) s
		WHERE a.pending <> s.total`},
	{"floor", `
		SELECT format('tenant %s account %s (%s): available %s below floor %s', tenant_id, id, code, balance - pending, floor)
		FROM accounts WHERE tracked AND balance - pending < floor`},
	{"posting balance chain", `
		SELECT format('tenant %s account %s posting %s (version %s): before %s after %s amount %s, previous after %s',
		              p.tenant_id, p.account_id, p.id, p.account_version, p.balance_before, p.balance_after, p.amount, prev_after)
		FROM (
			SELECT p.*, a.type,
			       lag(p.balance_after) OVER (PARTITION BY p.tenant_id, p.account_id ORDER BY p.account_version) AS prev_after,
			       lag(p.account_version) OVER (PARTITION BY p.tenant_id, p.account_id ORDER BY p.account_version) AS prev_version
			FROM postings p JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
			WHERE p.account_version IS NOT NULL) p
		WHERE p.balance_after - p.balance_before <> CASE WHEN p.type IN ('asset', 'expense') THEN p.amount ELSE -p.amount END
		   OR p.account_version <> COALESCE(p.prev_version, 0) + 1
		   OR (p.prev_after IS NOT NULL AND p.prev_after <> p.balance_before)
		   OR (p.prev_after IS NULL AND p.balance_before <> 0)`},
	{"untracked postings carry no balance", `
		SELECT format('tenant %s posting %s on hot account %s has a materialised balance', p.tenant_id, p.id, p.account_id)
		FROM postings p JOIN accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
		WHERE NOT a.tracked AND p.account_version IS NOT NULL`},
	{"hold ended at most once", `
		SELECT format('tenant %s hold %s ended %s times', tenant_id, hold_id, count(*))
		FROM hold_endings GROUP BY tenant_id, hold_id HAVING count(*) > 1`},
	{"hold never over-posted", `
		SELECT format('tenant %s hold %s of %s: %s %s', h.tenant_id, h.id, h.amount, e.outcome, e.posted_amount)
		FROM holds h JOIN hold_endings e ON e.tenant_id = h.tenant_id AND e.hold_id = h.id
		WHERE e.posted_amount > h.amount OR (e.outcome <> 'posted' AND e.posted_amount <> 0)`},
	{"hold posting matches", `
		SELECT format('tenant %s hold %s posted %s but transfer %s moves %s on the held account', h.tenant_id, h.id, e.posted_amount, e.transfer_id, COALESCE(abs(sum(p.amount)), 0))
		FROM holds h JOIN hold_endings e ON e.tenant_id = h.tenant_id AND e.hold_id = h.id
		LEFT JOIN postings p ON p.tenant_id = h.tenant_id AND p.transfer_id = e.transfer_id AND p.account_id = h.account_id
		WHERE e.outcome = 'posted'
		GROUP BY h.tenant_id, h.id, e.posted_amount, e.transfer_id HAVING COALESCE(abs(sum(p.amount)), 0) <> e.posted_amount`},
	// The journal's references are checked per statement by triggers
	// (migrations 00097, 00100) rather than by foreign keys: look for any that
	// dangle all the same (a trigger disabled, rows loaded around it).
	{"references exist", `
		SELECT format('tenant %s posting %s: transfer %s does not exist', p.tenant_id, p.id, p.transfer_id)
		FROM postings p WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.tenant_id = p.tenant_id AND t.id = p.transfer_id)
		UNION ALL
		SELECT format('tenant %s posting %s: account %s does not exist', p.tenant_id, p.id, p.account_id)
		FROM postings p WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.tenant_id = p.tenant_id AND a.id = p.account_id)
		UNION ALL
		SELECT format('transfer %s: tenant %s does not exist', t.id, t.tenant_id)
		FROM transfers t WHERE NOT EXISTS (SELECT 1 FROM tenants x WHERE x.id = t.tenant_id)
		UNION ALL
		SELECT format('account %s: tenant %s does not exist', a.id, a.tenant_id)
		FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM tenants x WHERE x.id = a.tenant_id)
		UNION ALL
		SELECT format('tenant %s transfer %s: reversed transfer %s does not exist', t.tenant_id, t.id, t.reverses_id)
		FROM transfers t WHERE t.reverses_id IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.tenant_id = t.tenant_id AND r.id = t.reverses_id)
		UNION ALL
		SELECT format('tenant %s transfer %s: hold %s does not exist', t.tenant_id, t.id, t.hold_id)
		FROM transfers t WHERE t.hold_id IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.tenant_id = t.tenant_id AND h.id = t.hold_id)`},
	{"idempotency key unique", `
		SELECT format('tenant %s key %s used by %s transfers', tenant_id, idempotency_key, count(*))
		FROM transfers GROUP BY tenant_id, idempotency_key HAVING count(*) > 1`},
	{"reversed at most once", `
		SELECT format('tenant %s transfer %s reversed %s times', tenant_id, reverses_id, count(*))
		FROM transfers WHERE reverses_id IS NOT NULL GROUP BY tenant_id, reverses_id HAVING count(*) > 1`},
}

// Verify checks the invariants of the ledger over the whole database (all
// tenants) and returns every violation found; an empty slice means the
// books are consistent. An error means a check could not run.
func (l *Ledger) Verify(ctx context.Context) ([]Violation, VerifySummary, error) {
	var out []Violation
	for _, c := range invariantChecks {
		rows, err := l.pool.Query(ctx, c.sql)
		if err != nil {
			return nil, VerifySummary{}, fmt.Errorf("check %q: %w", c.name, err)
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return nil, VerifySummary{}, fmt.Errorf("check %q: %w", c.name, err)
			}
			out = append(out, Violation{Check: c.name, Detail: d})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, VerifySummary{}, fmt.Errorf("check %q: %w", c.name, err)
		}
	}
	var s VerifySummary
	err := l.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM accounts),
		(SELECT count(*) FROM transfers), (SELECT count(*) FROM postings), (SELECT count(*) FROM holds)`).
		Scan(&s.Tenants, &s.Accounts, &s.Transfers, &s.Postings, &s.Holds)
	if err != nil {
		return nil, VerifySummary{}, fmt.Errorf("count rows: %w", err)
	}
	return out, s, nil
}
