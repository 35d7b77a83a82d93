package ledger

// AvailableSQL is, for a statement of another package that reads a tracked
// account's available balance (balance − pending) and floor with its own
// rows in one round trip (the tap pipeline's badge and pupil reads), the
// SQL that joins the account and selects the two: join is a LEFT JOIN of
// the account of tenant whose id is account (SQL expressions of the
// caller's statement: a parameter or a column) under alias, and cols its
// available balance and floor, 0 and 0 when there is no such account.
func AvailableSQL(alias, tenant, account string) (cols, join string) {
	a := alias
	cols = `coalesce(` + a + `.balance - ` + a + `.pending, 0), coalesce(` + a + `.floor, 0)`
	join = `LEFT JOIN accounts ` + a + ` ON ` + a + `.tenant_id = ` + tenant + ` AND ` + a + `.id = ` + account
	return cols, join
}
