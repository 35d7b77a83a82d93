// Package statements is the statements half of the free-schooling rules
// (FWB, DOMAIN.md §1, ../shared/docs/FEES.md §6–8): the periods of a school
// year, the periodic statements (décomptes périodiques) built from the fee
// lines of package fees and the services of the ledger, their runs
// (preview → issue → send), the annual estimate (estimation des frais) with
// its proof of sending, reminders, aged receivables and write-offs. It owns
// the tables statement_periods, statement_settings, statement_splits,
// statement_split_lines, statement_runs, statements, statement_payers,
// statement_fee_lines, statement_sends, estimates, estimate_sends and
// estimate_overrides (migration 00060).
//
// # Promises
//
//   - Periods are set by the organising body before the school year starts,
//     each 1 to 4 months (RulePeriodLength, RulePeriodAnnounced).
//   - An issued statement is immutable: its content is a stored JSON
//     snapshot with its SHA-256, and the tables are append-only (database
//     triggers). Every rendering (HTML, PDF) reads the snapshot. A re-issue
//     is a new version of the same number that says what changed.
//   - Every fee line on a statement is frozen in package fees (MarkIssued,
//     in the issuing transaction). A fee never on an issued statement is
//     never counted in an amount due and never reminded (RuleUnclaimable);
//     UnclaimableLines lists them for the accountant.
//   - A statement is addressed to every guardian of the pupil, never to the
//     pupil (RuleGuardiansOnly). Split statements give each paying guardian
//     an amount and a structured communication of their own.
//   - Totals over 50 € carry the offer of payment facilities
//     (RuleFacilities); every statement says non-payment has no consequence
//     on the child's schooling.
//   - Statements of a school year are issued only once its estimate was
//     sent, or an admin overrode that with a reason (RuleEstimateSent).
//
// # Money
//
// The amount due is the fees receivable of the pupil (receivable:<pupil>,
// package school) as the statements say it: the previous statement's total
// due, plus this period's fee lines (credits subtracted), minus payments
// and write-offs booked to the receivable in the period. Services (meals,
// daycare) are paid from the wallet and shown apart, never added.
//
// # Paying by transfer
//
// Each payer of a statement has a structured communication taken from the
// tenant's OGM counter (school.ReserveOGMsTx), so it can never be a wallet
// OGM. Package payments routes a CODA credit whose OGM is not a wallet's to
// ByCommunication, and books it bank → receivable:<pupil>.
package statements
