// Package fees is the school-fees half of the free-schooling rules (FWB,
// DOMAIN.md §1, ../shared/docs/FEES.md): the rule sets that say what a
// school may charge, the fees it charges, the per-pupil lines they make,
// the caps those lines count against, and the guardians' opt-ins to
// facultatif fees. It owns the tables fee_rule_sets, fees, fee_lines and
// fee_opt_ins (migration 00050).
//
// # Rules are data
//
// A rule set covers one school year ("2025-26") and one level group
// (M1-M3, P1-P3, P4-P6, S1-S6): the forbidden categories, the categories
// allowed as obligatoire and as facultatif, the caps, the years with free
// supplies and whether pool fees count in the maternel activities cap. The
// shipped sets are TOML files embedded from rules/ (one per school year),
// each rule with its source and an Unconfirmed flag ("à confirmer" on
// screen) for the facts FEES.md marks [U]. A tenant's first read of a year
// copies the shipped set as version 1; an organising-body admin's edit
// (RuleStore.Save) appends a version; the highest version is in force.
//
// # Fees and lines
//
// Service.Create checks a fee against the rule set of each concerned
// pupil's level group and refuses it with a *RuleError (forbidden category,
// facultatif where the level allows none, a category not allowed for that
// kind) or a *CapError (a pupil would pass a cap; it lists each pupil's
// usage, and the school may lower that pupil's amount with
// CreateInput.Amounts). Each error names the rule and its source.
//
// An obligatoire fee charges one line per pupil at once. A facultatif fee
// makes lines that wait for the opt-in (status awaiting_opt_in) and are
// charged only when a guardian opts in (RecordOptIn, from the portal or
// recorded by staff with who/when/how; every answer is kept).
//
// # Money
//
// A charged line is booked in the ledger: debit the pupil's fees
// receivable (the pupil's receivable account, code receivable:<pupil id>,
// created with the pupil by package school), credit revenue:fees:<category>
// (income, created on first use). The wallet is never touched: an unpaid
// fee never blocks a meal. Keys: "fee-line:<line id>:<n>", kind "fee"
// (charge) or "fee-cancel" (the counter-booking of a correction or
// cancellation) or "fee-credit" (a credit line). tartine verify checks
// these transfers like every other.
//
// Caveat: the terminal (and payments) also post meal overdrafts — the part
// of a meal a wallet at its floor could not pay — to the same
// receivable:<pupil> account, so that account's balance mixes fees and
// service debts. To show fees alone, sum the fee lines (LinesForPeriod),
// or the account's transfers of kinds fee, fee-cancel and fee-credit
// (metadata "line", "fee", "category", "kind" on each).
//
// # The rest of the service
//
// Service.Fees, Fee and FeeLines list a school's fees and lines (the back
// office); Service.Offers lists the facultatif fees proposed to pupils with
// the family's latest answer (the portal); Service.CapUsages returns a
// pupil's usage of its caps; Rules.Get, History and Save read and version
// the rule sets. SeedDemo fills the demo school.
//
// # For the statements package
//
// Lines are what a periodic statement shows. The statements package reads
// them and freezes them, in its own transaction:
//
//	lines, err := fees.LinesForPeriod(ctx, tx, tenantID, pupilIDs, from, to)
//	// … build the statement from lines (Line.Kind: obligatoire/facultatif,
//	// Line.Credit: a credit line to subtract, Line.IssuedRef: "" if on no
//	// issued statement yet) …
//	err = fees.MarkIssued(ctx, tx, tenantID, lineIDs, "ST-2026-000123")
//
// LinesForPeriod returns charged lines (credits included) dated from..to
// (civil dates, both inclusive), whether issued or not; a line that was
// cancelled or still awaits its opt-in is never returned. UnissuedBefore
// returns charged lines dated before a day and not yet on any statement
// (a fee never put on a statement cannot be claimed: these are the ones to
// catch up or to show the accountant).
//
// MarkIssued freezes lines: afterwards Service.Correct and Service.Cancel
// refuse them with ErrIssued, and the only correction is a credit line
// (Service.Credit), dated the day it is made, which the next statement
// shows. Marking a line again with the same ref is a no-op; with another
// ref it returns ErrIssued.
//
// Both take a Querier (a pgx.Tx or a pool); MarkIssued wants the
// transaction that records the statement, so both commit together.
package fees
